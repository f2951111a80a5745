"""No header line of a message retain sends is longer than RFC 5322's 998 octets, whatever the
customer's name or the rendered subject: a long display name is cut and folded (issue 10)."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from hypothesis import example, given, settings
from hypothesis import strategies as st
from smtp_servers import SENDING_DATA, SHOP_AS_OF, SmtpServer, sending_shop, use_smtp_server

from retain_cli.campaigns.config import load_config
from retain_cli.campaigns.message import MAX_DISPLAY_NAME, Rendered, build_message
from retain_cli.campaigns.planner import holdout_score
from retain_cli.store import Store

LONG_NAME = "Bartholomew-" * 250  # 3,000 characters, no space to cut at
LONG = next(  # a customer 'hello' is due for (not in its holdout)
    f"c{i:02d}@example.org" for i in range(20) if holdout_score("hello", f"C{i:02d}") >= 0.2
)


def header_lines(raw: bytes) -> list[bytes]:
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


def test_a_3000_character_name_through_a_real_send(cli, db_path, tmp_path):
    config = sending_shop(db_path, tmp_path)
    with Store.open(db_path) as store:
        store.conn.execute(
            "UPDATE customers SET first_name = ?, last_name = 'Zoë Ünal' WHERE email = ?",
            (LONG_NAME, LONG),
        )
    with SmtpServer() as server:
        use_smtp_server(config, server.port)
        result = cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 0, result.output
    (mail,) = [m for m in server.received if m.rcpt_tos == [LONG]]
    lines = header_lines(mail.data.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n"))
    assert max(len(line) for line in lines) <= 998
    to = [line for line in lines if line.lower().startswith(b"to:")]
    assert to == [f"To: {LONG_NAME[:MAX_DISPLAY_NAME]}".encode()]  # then the folded address
    parsed = BytesParser(policy=policy.default).parsebytes(mail.data)
    assert parsed["To"].addresses[0].display_name == LONG_NAME[:MAX_DISPLAY_NAME]
    assert parsed["To"].addresses[0].addr_spec == LONG
    assert parsed["Subject"] == f"Hello {LONG_NAME}"  # folded as encoded words, whole


def message_to(name: str, subject: str = "Hi"):
    """The 'hello' message to c01@example.org, named ``name``, with ``subject``."""
    config = load_config(SENDING_DATA / "campaigns.yaml")
    campaign = config.campaign("hello")
    return build_message(
        config,
        campaign,
        campaign.steps[0],
        Rendered(subject, "Hello\n", None),
        to_email="c01@example.org",
        to_name=name,
        send_key="hello:1:C01:1",
    )


def test_a_long_name_with_spaces_is_cut_at_a_space():
    parsed = message_to("Ada " * 750).parsed()
    assert parsed["To"].addresses[0].display_name == ("Ada " * 19).strip()


# any text, and long text: a piece (a word, a space, an accent ...) repeated up to 400 times
LONG_TEXT = st.one_of(
    st.text(max_size=200),
    st.builds(
        lambda piece, times: piece * times,
        st.text(min_size=1, max_size=12),
        st.integers(50, 400),
    ),
)


@settings(max_examples=200, deadline=None)
@example(name="A" * 3000, subject="S" * 3000)
@example(name="Zoë " * 750, subject="Ü" * 3000)
@given(name=LONG_TEXT, subject=LONG_TEXT)
def test_no_header_line_is_over_998_octets(name: str, subject: str):
    message = message_to(name, subject)
    assert max(len(line) for line in header_lines(message.as_bytes())) <= 998
    assert message.parsed()["To"].addresses[0].addr_spec == "c01@example.org"
