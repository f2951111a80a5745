"""VERP (``sender.bounce_address``) through a real SMTP server, and the RFC 8058 rule for
``List-Unsubscribe-Post``; the campaign file's new keys and their errors."""

from __future__ import annotations

from pathlib import Path

from shop import BOUNCE, configure
from smtp_servers import SmtpServer

from retain_cli.campaigns.message import verp_token
from retain_cli.store import Store


def smtp(config: Path, port: int) -> None:
    config.write_text(
        config.read_text().replace(
            "  type: outbox\n",
            f"  type: smtp\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  timeout: 5\n",
        )
    )


def test_each_message_names_its_recipient_in_the_envelope_sender(campaign_shop, cli, db_path):
    configure(campaign_shop)
    with SmtpServer() as server:
        smtp(campaign_shop, server.port)
        result = cli("send", "hello", "--yes", "--config", str(campaign_shop))
        assert result.exit_code == 0, result.output
    with Store.open(db_path) as store:
        keys = dict(store.conn.execute("SELECT email, send_key FROM sends WHERE state = 'sent'"))
    got = {r.rcpt_tos[0]: r.mail_from for r in server.received}
    assert got == {email: BOUNCE.replace("{token}", verp_token(key)) for email, key in keys.items()}
    assert verp_token("hello:1:C1:1") == "e197fb9ee88177e8"  # the Message-ID's digest starts so
    for received in server.received:
        message = received.message
        assert message["From"] == "Kornblume Bakery <hello@kornblume-backstube.de>"  # unchanged
        assert message["Message-ID"][1:17] == received.mail_from.split("bounce-")[1][:16]
        assert message["List-Unsubscribe-Post"] is None  # mailto: only


def test_without_bounce_address_the_envelope_sender_is_the_from_address(campaign_shop, cli):
    with SmtpServer() as server:
        smtp(campaign_shop, server.port)
        assert cli("send", "hello", "--yes", "--config", str(campaign_shop)).exit_code == 0
    assert {r.mail_from for r in server.received} == {"hello@kornblume-backstube.de"}


def test_one_click_header_only_with_an_https_unsubscribe_url(campaign_shop, cli):
    campaign_shop.write_text(
        campaign_shop.read_text().replace(
            '"mailto:unsubscribe@kornblume-backstube.de"',
            '"https://kornblume-backstube.de/unsubscribe"',
        )
    )
    with SmtpServer() as server:
        smtp(campaign_shop, server.port)
        assert cli("send", "hello", "--yes", "--config", str(campaign_shop)).exit_code == 0
    message = server.received[0].message
    assert message["List-Unsubscribe"].startswith(
        "<https://kornblume-backstube.de/unsubscribe?email="
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_bounce_address_without_its_token_is_refused(campaign_shop, cli):
    campaign_shop.write_text(
        campaign_shop.read_text().replace(
            '  unsubscribe: "mailto:unsubscribe@kornblume-backstube.de"\n',
            '  unsubscribe: "mailto:unsubscribe@kornblume-backstube.de"\n'
            "  bounce_address: hello+bounce@kornblume-backstube.de\n",
        )
    )
    result = cli("campaigns", "check", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {campaign_shop}: key 'sender.bounce_address': "
        "'hello+bounce@kornblume-backstube.de' "
        "must be a plain address with {token} once in the part before @, e.g. "
        "hello+bounce-{token}@shop.example (each message's bounces then name it)\n"
    )


def test_mailbox_section_errors_name_the_key(campaign_shop, cli):
    base = campaign_shop.read_text()
    cases = {
        "mailbox:\n  hots: imap.example.com\n": (
            "key 'mailbox.hots': unknown key; did you mean 'host'? allowed: host, port, "
            "security, username, password_env, keyring_service, folder, processed_flag, "
            "processed_folder, tls_verify, tls_ca_file, timeout, languages, "
            "soft_bounce_limit, unsubscribe_address"
        ),
        "mailbox:\n  host: x\n  password: hunter2\n": None,
        "mailbox:\n  languages: [en, xx]\n": (
            "key 'mailbox.languages': must be a list of en, de, fr, es, it, nl, not ['en', 'xx']"
        ),
        "mailbox:\n  soft_bounce_limit: 0\n": (
            "key 'mailbox.soft_bounce_limit': must be a whole number from 1, not 0"
        ),
        "mailbox:\n  processed_flag: 'two words'\n": (
            "key 'mailbox.processed_flag': 'two words' is not an IMAP keyword; write e.g. "
            "$RetainProcessed"
        ),
    }
    for section, message in cases.items():
        campaign_shop.write_text(base + section)
        result = cli("inbox", "--config", str(campaign_shop), "--from-maildir", ".")
        assert result.exit_code == 1, section
        if message is None:  # a password in the file: refused before anything else
            assert result.stderr.startswith(
                f"Error: {campaign_shop}: key 'mailbox.password': passwords never go in "
            )
            assert "hunter2" not in result.output
        else:
            assert result.stderr == f"Error: {campaign_shop}: {message}\n", section


def test_inbox_without_a_mailbox_section_says_what_to_add(campaign_shop, cli):
    result = cli("inbox", "--config", str(campaign_shop))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {campaign_shop} has no mailbox to read: add a mailbox: section with host and "
        "username, or pass --from-maildir DIR\n"
    )
