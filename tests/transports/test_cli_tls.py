"""`transport.tls_ca_file` and `transport.tls_verify` in the campaign file, through `retain
send` against real STARTTLS servers on 127.0.0.1 with a throwaway CA (trustme)."""

from __future__ import annotations

from pathlib import Path

import pytest
from smtp_servers import SmtpServer, tls_server

from retain_cli.store import Store

trustme = pytest.importorskip("trustme", reason="pip install trustme (a dev dependency)")


def use_smtp(config: Path, port: int, extra: str = "") -> None:
    config.write_text(
        config.read_text().replace(
            "  type: outbox\n",
            f"  type: smtp\n  host: 127.0.0.1\n  port: {port}\n  security: starttls\n"
            f"  timeout: 5\n{extra}",
        )
    )


def sent(db_path: Path) -> int:
    with Store.open(db_path) as store:
        return store.conn.execute("SELECT count(*) FROM sends WHERE state = 'sent'").fetchone()[0]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_a_private_ca_named_in_the_campaign_file_is_trusted(cli, campaign_shop, db_path, ca):
    ca.cert_pem.write_to_path(str(campaign_shop.parent / "shop-ca.pem"))
    with SmtpServer(tls="starttls", certificate=tls_server(ca, "127.0.0.1")) as server:
        use_smtp(campaign_shop, server.port, "  tls_ca_file: shop-ca.pem\n")
        result = cli("send", "hello", "--yes", "--config", str(campaign_shop))
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr
    assert sent(db_path) == len(server.recipients()) > 0


def test_without_the_ca_the_server_is_not_trusted_and_nothing_is_sent(
    cli, campaign_shop, db_path, ca
):
    with SmtpServer(tls="starttls", certificate=tls_server(ca, "127.0.0.1")) as server:
        use_smtp(campaign_shop, server.port)
        result = cli("send", "hello", "--yes", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert "certificate of 127.0.0.1 not trusted" in result.stderr
    assert "transport.tls_ca_file" in result.stderr
    assert server.recipients() == []
    assert sent(db_path) == 0


def test_tls_verify_false_sends_and_warns_on_every_run(cli, campaign_shop, db_path, ca):
    with SmtpServer(tls="starttls", certificate=tls_server(ca, "mail.other.example")) as server:
        use_smtp(campaign_shop, server.port, "  tls_verify: false\n")
        result = cli("send", "hello", "--yes", "--config", str(campaign_shop))
    assert result.exit_code == 0, result.output
    assert "Warning: transport.tls_verify is false: the certificate of 127.0.0.1" in " ".join(
        result.stderr.split()
    )
    assert sent(db_path) > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "  tls_verify: maybe\n",
            "key 'transport.tls_verify': must be true or false, not the text",
        ),
        ("  tls_ca_file: nowhere.pem\n", "nowhere.pem does not exist; name a PEM file"),
    ],
)
def test_bad_tls_keys_name_the_key(cli, campaign_shop, extra, message):
    use_smtp(campaign_shop, 2525, extra)
    result = cli("send", "hello", "--yes", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert message in result.stderr
