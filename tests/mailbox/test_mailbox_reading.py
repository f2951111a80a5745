"""Reading mail without a server (``--from-maildir``), the unsubscribe phrases, and the fast
text reader held to the standard library's parser."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shop import SHOP, UNSUBSCRIBE, configure, inbox_rows, send_hello, suppressions

from retain_cli.demo import mail
from retain_cli.mailbox.parse import Mail, _plain_text, own_lines
from retain_cli.mailbox.words import asks_to_unsubscribe


def maildir(root: Path, messages: list[bytes]) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(messages):
        (root / "new" / f"{i:04d}.eml").write_bytes(raw)
    return root


def test_from_maildir_reads_without_a_server_and_leaves_the_folder_alone(
    campaign_shop, cli, db_path, tmp_path
):
    configure(campaign_shop)
    sent = send_hello(cli, campaign_shop, db_path)
    ada = sent["ada@example.com"]
    box = maildir(
        tmp_path / "Mail",
        [
            mail.reply(
                sender="ada@example.com",
                name="Ada",
                to=SHOP,
                subject="Hello Ada",
                text="STOP",
                in_reply_to=ada.message_id,
            ),
            mail.unsubscribe_mail(sender="bob@example.com", to=UNSUBSCRIBE),
            mail.reply(
                sender="nora@example.com",
                name="Nora",
                to=SHOP,
                subject="Hi",
                text="Can I stop by on Saturday to pick up a cake?",
            ),
        ],
    )
    before = sorted((p.name, p.read_bytes()) for p in box.rglob("*") if p.is_file())
    result = cli("inbox", "--from-maildir", str(box), "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["summary"]["unsubscribe requests"] == 2
    assert out["summary"]["replies"] == 1
    assert out["suppressed"] == ["ada@example.com", "bob@example.com"]
    assert sorted((p.name, p.read_bytes()) for p in box.rglob("*") if p.is_file()) == before
    rows = inbox_rows(db_path)
    assert (
        rows[0]["reason"] == "unsubscribe request from ada@example.com: the first line says 'stop'"
    )
    assert rows[0]["send_key"] == ada.send_key
    assert rows[1]["reason"] == (
        "unsubscribe request from bob@example.com: sent to the unsubscribe address "
        "unsubscribe@kornblume-backstube.de"
    )
    assert rows[2]["classification"] == "reply" and rows[2]["customer_id"] == "C5"
    assert "nora@example.com" not in suppressions(db_path)
    again = cli("inbox", "--from-maildir", str(box), "--config", str(campaign_shop), "-f", "json")
    assert json.loads(again.stdout)["summary"]["already processed"] == 3
    assert len(inbox_rows(db_path)) == 3


def test_a_folder_that_is_not_a_maildir_is_named(campaign_shop, cli, tmp_path):
    result = cli("inbox", "--from-maildir", str(tmp_path), "--config", str(campaign_shop))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {tmp_path} is not a maildir (no cur/ or new/ folder in it); pass the folder "
        "that holds cur/ and new/\n"
    )


def test_explain_an_address_nothing_is_known_about(cli):
    result = cli("inbox", "--explain", "who@example.com")
    assert result.exit_code == 0
    assert result.stdout == (
        "who@example.com (not a customer) is not suppressed.\n"
        "No message in the mailbox was about this address.\n"
    )


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("Unsubscribe", "unsubscribe"),
        ("unsubscribe ada@example.com", "unsubscribe"),
        ("Re: AW: STOP!", "stop"),
        ("Please remove me from your mailing list.", "remove"),
        ("Bitte abmelden", "abmelden"),
        ("Newsletter abbestellen, danke", "abbestellen"),
        ("Me désabonner svp", "desabonner"),
        ("darme de baja", "darme baja"),
        ("Can I stop by on Saturday?", None),
        ("Stop, the bread was great", None),
        ("Re: We miss you", None),
        ("", None),
    ],
)
def test_unsubscribe_phrases(text, phrase):
    assert asks_to_unsubscribe(text) == phrase


def test_languages_limit_the_phrases():
    assert asks_to_unsubscribe("abmelden", ("en",)) is None
    assert asks_to_unsubscribe("abmelden", ("en", "de")) == "abmelden"


def test_own_lines_stop_at_the_quote_and_signature():
    text = "Thanks!\n\nSee you Saturday\n-- \nAda\n"
    assert own_lines(text) == ["Thanks!", "See you Saturday"]
    quoted = "Yes please\nOn Mon, 1 Dec 2025 Rosie's Bakery <x@y.z> wrote:\n> Hello\n"
    assert own_lines(quoted) == ["Yes please"]
    assert own_lines("Ja\nAm 1.12.2025 um 10:00 schrieb Rosie <x@y.z>:\n> Hallo") == ["Ja"]


TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\x85\u2028\u2029"),
    max_size=200,
).map(lambda t: t + "\nline two\n")


@settings(max_examples=150, deadline=None)
@given(
    text=TEXT,
    charset=st.sampled_from(["utf-8", "iso-8859-1", "utf-16"]),
    cte=st.sampled_from(["quoted-printable", "base64", "8bit", None]),
    html=st.booleans(),
    attachment=st.booleans(),
)
def test_the_fast_reader_reads_what_the_parser_reads(text, charset, cte, html, attachment):
    """Every message the standard library builds: the fast path's text (when it takes the
    message) is the parser's."""
    message = EmailMessage()
    message["From"] = "Ada <ada@example.com>"
    message["Subject"] = "Re: hello"
    try:
        if cte is None:
            message.set_content(text, charset=charset)
        else:
            message.set_content(text, charset=charset, cte=cte)
    except (UnicodeError, ValueError):
        return  # a text this charset cannot carry
    if html:
        message.add_alternative(f"<p>{text}</p>", subtype="html")
    if attachment:
        message.add_attachment(
            b"\x00\x01", maintype="application", subtype="octet-stream", filename="a.bin"
        )
    raw = message.as_bytes()
    parsed = Mail(raw)
    assert _plain_text(parsed.headers, parsed.body, 0) is not None  # the fast path took it
    assert parsed.text() == parsed.text_by_parser()
    assert parsed.from_email == "ada@example.com"


def test_the_demo_mailbox_is_read_after_the_demo_send(cli, tmp_path, monkeypatch):
    """The README's first command: retain demo, retain send --yes, retain inbox
    --from-maildir mailbox."""
    result = cli("demo", str(tmp_path / "shop"))
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "shop")
    monkeypatch.setenv("RETAIN_DB", str(tmp_path / "shop" / "retain.db"))
    monkeypatch.setenv("RETAIN_CONFIG", str(tmp_path / "shop" / "campaigns.yaml"))
    assert cli("send", "--yes").exit_code == 0
    result = cli("inbox", "--from-maildir", "mailbox", "-f", "json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    summary = out["summary"]
    assert (summary["read"], summary["hard bounces"], summary["soft bounces"]) == (12, 1, 1)
    assert (summary["unsubscribe requests"], summary["auto-replies (ignored)"]) == (3, 1)
    assert (summary["replies"], summary["linked to a campaign"]) == (2, 9)
    assert summary["survey answers"] == 4  # the feedback survey's: each in its thread
    assert len(out["suppressed"]) == 4 and out["problems"] == []
    assert out["notes"][0].endswith("reply from orders@mill.example, not a customer")
    db = tmp_path / "shop" / "retain.db"
    from retain_cli.store import Store

    with Store.open(db) as store:
        sources = {
            email: (source, reason)
            for email, source, reason in store.conn.execute(
                "SELECT email, source, reason FROM suppressions WHERE source = 'inbox'"
            )
        }
        bounced = store.conn.execute(
            "SELECT email, send_key FROM inbox_messages WHERE classification = 'hard_bounce'"
        ).fetchone()
        sent_to = dict(store.conn.execute("SELECT send_key, email FROM sends"))
    assert sent_to[bounced[1]] == bounced[0]  # the VERP token found the message it answers
    with Store.open(db) as store:
        answers = store.conn.execute(
            "SELECT r.score, r.comment, s.email = r.email FROM survey_responses r "
            "JOIN sends s ON s.send_key = r.send_key AND s.state = 'sent' ORDER BY r.id"
        ).fetchall()
    assert [(score, same) for score, _, same in answers] == [(9, 1), (4, 1), (10, 1), (8, 1)]
    assert answers[1][1] == "The croissants were stale and the staff was rude on Saturday."
    assert sources[bounced[0]][1].startswith("hard bounce: 5.1.1 ")


HEADER_LINE = st.one_of(
    st.from_regex(r"\A[A-Za-z-]{1,8}:[ a-z<>@.\t\r]{0,12}\Z"),
    st.from_regex(r"\A[ \t][ a-z\r]{0,8}\Z"),  # a continuation
    st.from_regex(r"\A[a-z :]{0,8}\Z"),  # not a field (stops the block)
    st.just("From ada@example.com Sat Dec  5 10:00:00 2026"),  # an mbox separator
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(HEADER_LINE, max_size=8), newline=st.sampled_from(["\n", "\r\n"]))
def test_the_one_scan_header_reader_reads_what_the_line_reader_reads(lines, newline):
    from retain_cli.mailbox.parse import headers_by_line, parse_headers

    block = newline.join(lines).encode()
    assert parse_headers(block) == headers_by_line(block.decode())


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30)),
    offset=st.integers(-(23 * 60 + 59), 23 * 60 + 59),
    weekday=st.booleans(),
    seconds=st.booleans(),
    comment=st.sampled_from(["", " (UTC)", " (CET)"]),
)
def test_the_quick_date_reader_reads_what_the_standard_library_reads(
    moment, offset, weekday, seconds, comment
):
    from email.utils import parsedate_to_datetime

    from retain_cli.mailbox.parse import _quick_date

    local = moment.replace(tzinfo=timezone(timedelta(minutes=offset)))
    sign = "+" if offset >= 0 else "-"
    value = (
        (f"{local:%a}, " if weekday else "")
        + f"{local:%d %b %Y %H:%M}"
        + (f":{local:%S}" if seconds else "")
        + f" {sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}{comment}"
    )
    expected = parsedate_to_datetime(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _quick_date(value) == expected
    assert Mail(f"From: a@b.example\nDate: {value}\n\nx".encode()).received_at == expected


def test_unusual_dates_go_to_the_standard_library():
    from retain_cli.mailbox.parse import _quick_date

    for value in ("Sat, 05 Dec 2026 21:07:31 -0000", "Sat, 05 Dec 2026 21:07:31 GMT"):
        assert _quick_date(value) is None
    date = "Sat, 05 Dec 2026 21:07:31 GMT"
    assert Mail(f"From: a@b.example\nDate: {date}\n\nx".encode()).received_at == (
        "2026-12-05T21:07:31Z"
    )
    assert Mail(b"From: a@b.example\nDate: Sat, 31 Feb 2026 10:00 +0000\n\nx").received_at is None


@pytest.mark.parametrize("status", ["5.1.1", "4.2.2"])
def test_flufl_bounce_reads_the_quick_status_part_as_the_parsed_report(status):
    """The delivery-status part built from its fields gives flufl.bounce (and the reason's
    Status) what the standard library's parse of the whole report gives."""
    from email import message_from_bytes

    from flufl.bounce import all_failures

    from retain_cli.mailbox.classify import _status

    raw = mail.dsn_bounce(to=SHOP, failed="ada@example.com", status=status, original_id="<a@b>")
    quick = Mail(raw)
    assert quick.delivery_status() is not None
    assert all_failures(quick.delivery_status()) == all_failures(message_from_bytes(raw))
    assert any(all_failures(quick.delivery_status()))

    class Parsed(Mail):
        def delivery_status(self):
            return None  # _status falls back to the whole parsed message

    assert _status(quick) == _status(Parsed(raw)) != ""
