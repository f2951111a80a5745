"""The SMTP login: a password outside ASCII goes as UTF-8 (AUTH PLAIN and LOGIN), and no
failure of the login ever shows the password, a character of it or its position. Against a
real server (aiosmtpd) whose authenticator checks the UTF-8 bytes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from smtp_servers import SHOP_AS_OF, Behaviour, SmtpServer, make_shop, one_message

from retain_cli.errors import SendError
from retain_cli.store import Store
from retain_cli.transports import smtp as smtp_module
from retain_cli.transports.base import SmtpSettings
from retain_cli.transports.smtp import SmtpTransport

PASSWORD = "pässwörd-é"
NON_ASCII = [c for c in PASSWORD if not c.isascii()]
SENDING = Path(__file__).parents[1] / "campaigns" / "data" / "sending"


def settings(port: int, username: str = "shop@example.com") -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="none",
        username=username,
        password_env="SHOP_SMTP_PW",
        keyring_service=None,
        timeout=5.0,
    )


def assert_secret_kept(text: str) -> None:
    assert PASSWORD not in text
    for char in NON_ASCII:
        assert char not in text, f"{char!r} of the password shown"
    assert "position" not in text


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_non_ascii_password_logs_in_as_utf8_and_sends(mechanism):
    behaviour = Behaviour(password=PASSWORD)
    with SmtpServer(behaviour, auth=True, auth_mechanisms=(mechanism,)) as server:
        transport = SmtpTransport(settings(server.port, "jörg@shop.example"), PASSWORD)
        transport.open()
        try:
            reply = transport.send(one_message(), "shop@example.com", "ada@example.org")
        finally:
            transport.close()
    assert reply.startswith("250")
    secret = "(CRAM-MD5 digest)" if mechanism == "CRAM-MD5" else PASSWORD
    assert server.handler.logins == [("jörg@shop.example", secret)]
    assert server.recipients() == ["ada@example.org"]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_wrong_non_ascii_password_is_refused_without_showing_it(mechanism):
    behaviour = Behaviour(password="something-else")
    with SmtpServer(behaviour, auth=True, auth_mechanisms=(mechanism,)) as server:
        transport = SmtpTransport(settings(server.port), PASSWORD)
        with pytest.raises(SendError) as caught:
            transport.open()
    text = str(caught.value)
    assert text.startswith(f"SMTP login to 127.0.0.1:{server.port} as shop@example.com was ")
    assert "refused (535" in text
    assert "$SHOP_SMTP_PW" in text
    assert_secret_kept(text)
    assert caught.value.__cause__ is None


def test_any_failure_in_the_login_names_the_server_not_the_password(monkeypatch):
    def broken(smtp, username, password):
        raise UnicodeEncodeError("ascii", password, 1, 2, f"cannot encode {password}")

    monkeypatch.setattr(smtp_module, "smtp_login", broken)
    with SmtpServer(auth=True) as server:
        transport = SmtpTransport(settings(server.port), PASSWORD)
        with pytest.raises(SendError) as caught:
            transport.open()
    text = str(caught.value)
    assert text == (
        f"SMTP login to 127.0.0.1:{server.port} as shop@example.com failed (UnicodeEncodeError)"
    )
    assert_secret_kept(text)


def test_a_server_echoing_the_password_has_it_blotted_out(monkeypatch):
    import smtplib

    def echoing(smtp, username, password):
        raise smtplib.SMTPAuthenticationError(535, f"bad password {password}".encode())

    monkeypatch.setattr(smtp_module, "smtp_login", echoing)
    with SmtpServer(auth=True) as server, pytest.raises(SendError) as caught:
        SmtpTransport(settings(server.port), PASSWORD).open()
    assert "(535 bad password ***)" in str(caught.value)
    assert_secret_kept(str(caught.value))


def test_server_without_auth_says_so():
    with SmtpServer() as server, pytest.raises(SendError) as caught:  # no AUTH in its EHLO
        SmtpTransport(settings(server.port), PASSWORD).open()
    assert str(caught.value).startswith(
        f"SMTP server 127.0.0.1:{server.port} offers no login (AUTH); remove transport.username"
    )


def test_cli_send_with_a_refused_non_ascii_password_shows_no_part_of_it(
    cli, db_path, tmp_path, monkeypatch
):
    with Store.open(db_path) as store:
        make_shop(store)
    shutil.copytree(SENDING, tmp_path / "shop")
    config = tmp_path / "shop" / "campaigns.yaml"
    monkeypatch.setenv("SHOP_SMTP_PW", PASSWORD)
    with SmtpServer(Behaviour(password="other"), auth=True) as server:
        config.write_text(
            config.read_text().replace(
                "  type: outbox\n",
                f"  type: smtp\n  host: 127.0.0.1\n  port: {server.port}\n  security: none\n"
                "  username: shop\n  password_env: SHOP_SMTP_PW\n",
            )
        )
        result = cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: SMTP login to 127.0.0.1:{server.port} as shop was refused (535"
    )
    assert_secret_kept(result.output)
    assert server.recipients() == []
