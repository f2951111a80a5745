"""TLS is verified: a server whose certificate is for another name or from a CA nobody trusts
is refused before the password is sent; a private CA (``tls_ca_file``) and an explicit
``tls_verify: false`` (with a warning) work. Real TLS servers (aiosmtpd) on 127.0.0.1 with
certificates from a throwaway CA made by the test (trustme)."""

from __future__ import annotations

from pathlib import Path

import pytest
from smtp_servers import SmtpServer, one_message, tls_server

from retain_cli.errors import SendError
from retain_cli.transports.base import SmtpSettings
from retain_cli.transports.smtp import SmtpTransport

trustme = pytest.importorskip("trustme", reason="pip install trustme (a dev dependency)")

PASSWORD = "s3cr3t-tls"
SECURITIES = ["starttls", "ssl"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def settings(port: int, security: str, **overrides: object) -> SmtpSettings:
    values: dict[str, object] = dict(
        host="127.0.0.1",
        port=port,
        security=security,
        username="shop@example.com",
        password_env=None,
        keyring_service=None,
        timeout=5.0,
    )
    values.update(overrides)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def send_one(transport: SmtpTransport) -> str:
    transport.open()
    try:
        return transport.send(one_message(), "shop@example.com", "ada@example.org")
    finally:
        transport.close()


@pytest.mark.parametrize("security", SECURITIES)
def test_certificate_for_another_name_is_refused_before_the_login(security, ca, ca_file):
    certificate = tls_server(ca, "mail.other.example")
    with SmtpServer(auth=True, tls=security, certificate=certificate) as server:
        # even with the right CA: the name is wrong
        transport = SmtpTransport(settings(server.port, security, tls_ca_file=ca_file), PASSWORD)
        with pytest.raises(SendError) as caught:
            transport.open()
    message = str(caught.value)
    assert message.startswith("certificate of 127.0.0.1 not trusted: ")
    assert "set transport.tls_ca_file to your CA bundle" in message
    assert "mismatch, certificate is not valid for '127.0.0.1'" in message
    assert message.endswith("(the password was not sent)")
    assert PASSWORD not in message
    assert server.handler.logins == []  # the password never reached the server
    assert server.received == []


@pytest.mark.parametrize("security", SECURITIES)
def test_certificate_from_an_untrusted_ca_is_refused(security, ca):
    certificate = tls_server(ca, "127.0.0.1")  # right name, but the system store lacks the CA
    with SmtpServer(auth=True, tls=security, certificate=certificate) as server:
        transport = SmtpTransport(settings(server.port, security), PASSWORD)
        with pytest.raises(SendError) as caught:
            transport.open()
        assert transport.warnings == ()
    message = str(caught.value)
    assert message.startswith("certificate of 127.0.0.1 not trusted: ")
    assert "certificate verify failed" not in message  # the reason, not OpenSSL's prefix
    assert server.handler.logins == []


@pytest.mark.parametrize("security", SECURITIES)
def test_private_ca_and_the_right_name_sends(security, ca, ca_file):
    certificate = tls_server(ca, "127.0.0.1")
    with SmtpServer(auth=True, tls=security, certificate=certificate) as server:
        transport = SmtpTransport(settings(server.port, security, tls_ca_file=ca_file), PASSWORD)
        reply = send_one(transport)
    assert reply.startswith("250")
    assert server.handler.logins == [("shop@example.com", PASSWORD)]
    assert server.recipients() == ["ada@example.org"]
    assert transport.warnings == ()


@pytest.mark.parametrize("security", SECURITIES)
def test_tls_verify_false_sends_and_warns(security, ca):
    certificate = tls_server(ca, "mail.other.example")  # wrong name, untrusted CA
    with SmtpServer(auth=True, tls=security, certificate=certificate) as server:
        transport = SmtpTransport(settings(server.port, security, tls_verify=False), PASSWORD)
        reply = send_one(transport)
    assert reply.startswith("250")
    assert server.recipients() == ["ada@example.org"]
    (warning,) = transport.warnings
    assert warning.startswith(
        "transport.tls_verify is false: the certificate of 127.0.0.1 is not checked"
    )
    assert "transport.tls_ca_file" in warning


def test_no_warning_without_tls_and_by_default():
    assert settings(25, "none", tls_verify=False).warnings == ()
    assert settings(587, "starttls").warnings == ()


def test_missing_ca_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.pem"
    transport = SmtpTransport(settings(1, "starttls", tls_ca_file=str(missing)), PASSWORD)
    with pytest.raises(SendError) as caught:
        transport.open()
    assert str(caught.value).startswith(
        f"cannot use transport.tls_ca_file {missing} (No such file or directory)"
    )


def test_ca_file_that_is_not_pem_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    transport = SmtpTransport(settings(1, "ssl", tls_ca_file=str(junk)), PASSWORD)
    with pytest.raises(SendError, match=r"^cannot use transport.tls_ca_file .*junk.pem \("):
        transport.open()
