"""The clock of a run (--now, RETAIN_NOW, --as-of in the shop's days), retain simulate and
retain cron against the quiet hours (issue 11)."""

from __future__ import annotations

import csv
import io
import json
from email import message_from_bytes
from email.utils import parsedate_to_datetime

from scheduling_shop import customers, ledger, order, sent, write_config
from smtp_servers import SmtpServer

HELLO = """\
  - name: hello
    audience: all
    subject: "Hello"
    template: templates/hello.txt.j2
"""
BIRTHDAY = """\
  - name: birthday
    trigger: {after: birthday}
    subject: "Happy birthday"
    template: templates/hello.txt.j2
    repeat: 300d
"""
BERLIN = '  quiet_hours: "21:00-07:00"\n  timezone: Europe/Berlin\n'


def rows_of(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


def smtp_transport(port: int) -> str:
    return f"  host: 127.0.0.1\n  port: {port}\n  security: none\n  timeout: 5\n"


# --- --now and RETAIN_NOW --------------------------------------------------------------------


def test_now_moves_limits_ledger_and_the_outbox_together(cli, db_path, tmp_path):
    customers(db_path, [("ada@example.org", "Ada", None)])
    config = write_config(tmp_path, BERLIN + "  per_day: 100\n", HELLO)
    plan = cli("plan", "-c", str(config), "--now", "2025-12-24T06:30")
    assert plan.exit_code == 0
    assert "Plan as of 2025-12-24 06:30 Europe/Berlin" in plan.stdout
    assert "quiet hours 21:00-07:00 (Europe/Berlin); nothing is sent until 07:00" in plan.stdout
    result = cli("send", "--yes", "-c", str(config), "--now", "2025-12-24T07:15", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sent"] == 1
    assert ledger(db_path, "planned_at", "claimed_at", "sent_at") == [
        ("2025-12-24T06:15:00Z", "2025-12-24T06:15:00Z", "2025-12-24T06:15:00Z")
    ]
    [eml] = (tmp_path / "shop" / "outbox" / "hello").glob("*.eml")
    date = parsedate_to_datetime(message_from_bytes(eml.read_bytes())["Date"])
    assert date.isoformat() == "2025-12-24T06:15:00+00:00"


def test_retain_now_works_like_now(cli, db_path, tmp_path, monkeypatch):
    customers(db_path, [("ada@example.org", "Ada", None)])
    config = write_config(tmp_path, BERLIN, HELLO)
    monkeypatch.setenv("RETAIN_NOW", "2025-12-24T06:30")
    held = cli("send", "--yes", "-c", str(config))
    assert held.exit_code == 3
    assert "Held back: 1 due message wait" in held.stderr
    monkeypatch.setenv("RETAIN_NOW", "2025-12-24T09:30")
    assert cli("send", "--yes", "-c", str(config)).exit_code == 0
    assert sent(db_path, "2025-12-24T08:30:00Z") == [("hello", 1, "ada@example.org")]
    # commands that do not read the campaign file need the time zone written out
    monkeypatch.setenv("RETAIN_NOW", "2025-12-24T09:30")
    status = cli("segments")
    assert status.exit_code == 2
    assert status.stderr.strip() == (
        "Error: RETAIN_NOW '2025-12-24T09:30' has no time zone, and this command does not "
        "read the campaign file's; write it as 2025-12-24T09:30Z (UTC) or with an offset "
        "such as 2025-12-24T09:30+01:00"
    )
    bad = cli("plan", "-c", str(config), "--now", "Christmas")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == (
        "Error: --now 'Christmas' is not a date and time; write it as 2025-10-26T06:30 (the "
        "shop's time zone) or 2025-10-26T06:30+01:00"
    )


def test_a_real_smtp_send_refuses_a_future_now_or_as_of(cli, db_path, tmp_path):
    customers(db_path, [("ada@example.org", "Ada", None)])
    with SmtpServer() as server:
        config = write_config(tmp_path, "", HELLO, smtp_transport(server.port))
        args = ("send", "--yes", "-c", str(config), "--transport", "smtp")
        future = cli(*args, "--now", "2099-01-01T09:00Z")
        assert future.exit_code == 2
        assert future.stderr.strip() == (
            "Error: --now 2099-01-01T09:00:00Z is in the future, and a real SMTP send happens "
            "now; rehearse it with --dry-run or --transport outbox"
        )
        ahead = cli(*args, "--as-of", "2099-01-01")
        assert ahead.exit_code == 2
        assert ahead.stderr.startswith("Error: --as-of 2099-01-01 is after today (")
        assert ledger(db_path, "state") == []
        assert server.recipients() == []
        rehearsal = cli(*args, "--now", "2099-01-01T09:00Z", "--dry-run", "-f", "json")
        assert rehearsal.exit_code == 0
        assert json.loads(rehearsal.stdout)["would send"] == 1
        past = cli(*args, "--now", "2025-06-01T09:00Z")
        assert past.exit_code == 0, past.output
    assert server.recipients() == ["ada@example.org"]
    assert sent(db_path, "2025-06-01T09:00:00Z") == [("hello", 1, "ada@example.org")]


def test_an_as_of_date_is_the_end_of_that_day_in_the_shop_time_zone(cli, db_path, tmp_path):
    customers(db_path, [("kiri@example.org", "Kiri", "1990-06-11")])
    config = write_config(tmp_path, "  timezone: Pacific/Auckland\n", BIRTHDAY)
    before = cli("plan", "-c", str(config), "--as-of", "2025-06-10", "-f", "csv")
    assert rows_of(before.stdout) == []  # 23:59 UTC is already 11 June in Auckland
    on_the_day = cli("plan", "-c", str(config), "--as-of", "2025-06-11", "-f", "csv")
    assert [r["key"] for r in rows_of(on_the_day.stdout)] == [
        "birthday:1:kiri@example.org:2025-06-11"
    ]


# --- simulate --------------------------------------------------------------------------------


def test_simulate_shows_each_night_and_leaves_the_database_alone(cli, db_path, tmp_path):
    people = [(f"p{i}@example.org", f"P{i}", None) for i in range(5)]
    customers(db_path, [*people, ("ada@example.org", "Ada", "1990-10-27")])
    order(db_path, "p0@example.org", "2025-01-01T10:00:00Z")
    config = write_config(tmp_path, BERLIN + "  per_day: 2\n", BIRTHDAY + HELLO)
    args = ("simulate", "--days", "5", "--at", "06:30", "-c", str(config))
    args += ("--cron-tz", "UTC", "--now", "2025-10-24T12:00")
    result = cli(*args, "-f", "json")
    assert result.exit_code == 0, result.output
    nights = json.loads(result.stdout)
    assert [(n["night"], n["time"], n["sent"], n["note"]) for n in nights] == [
        ("2025-10-25", "08:30 CEST", 2, "daily limit"),
        ("2025-10-26", "07:30 CET", 2, "daily limit"),
        ("2025-10-27", "07:30 CET", 2, "daily limit"),  # the birthday goes first
        ("2025-10-28", "07:30 CET", 1, ""),
        ("2025-10-29", "07:30 CET", 0, ""),
    ]
    assert [n["campaigns"]["birthday"]["sent"] for n in nights] == [0, 0, 1, 0, 0]
    assert [n["campaigns"]["hello"]["waiting"] for n in nights] == [4, 2, 1, 0, 0]
    drift = cli(*args[:4], "05:30", *args[5:])  # a cron on UTC, through the clock change
    assert drift.exit_code == 0, drift.output
    text = " ".join(drift.stdout.split())
    assert "4 of 5 nights held messages back: quiet hours 21:00-07:00 (Europe/Berlin)" in text
    assert ledger(db_path, "state") == []  # the rehearsal ran on a copy
    long = cli(*args, "-f", "csv")
    assert list(rows_of(long.stdout)[0]) == [
        "night",
        "time",
        "campaign",
        "sent",
        "held_out",
        "skipped",
        "waiting",
        "failed",
    ]


# --- cron against the quiet hours -------------------------------------------------------------


def test_cron_refuses_a_time_inside_the_quiet_hours(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    config = write_config(tmp_path, BERLIN, HELLO)
    result = cli("cron", "--at", "06:30", "-c", str(config))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --at 06:30 is inside the quiet hours 21:00-07:00 (Europe/Berlin): every run "
        "would send nothing while the queue grows. Pick a time between 07:00 and 21:00, "
        "such as 07:30"
    )
    fine = cli("cron", "--at", "08:30", "-c", str(config), "--db", "shop.db")
    assert fine.exit_code == 0
    lines = fine.stdout.strip().splitlines()
    assert lines[:2] == [
        "# CRON_TZ: cron reads the times below on the shop's clock (Europe/Berlin)",
        "CRON_TZ=Europe/Berlin",
    ]
    assert lines[2].startswith(f"30 8 * * * cd {tmp_path} && ")
    assert fine.stderr == ""


def test_cron_warns_when_the_machine_clock_drifts_into_quiet_hours(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("RETAIN_NOW", "2025-06-01T12:00Z")
    limits = '  quiet_hours: "21:00-07:00"\n  timezone: America/New_York\n'
    config = write_config(tmp_path, limits, HELLO)
    result = cli("cron", "--at", "11:30", "-c", str(config))
    assert result.exit_code == 0
    warning = " ".join(result.stderr.split())
    assert warning == (
        "Warning: if your cron ignores CRON_TZ (Debian's and Ubuntu's cron do), this line "
        "runs at 11:30 on this machine's clock (UTC), which is inside the quiet hours "
        "21:00-07:00 (America/New_York) from 2025-11-02 to 2026-03-07: those nights send "
        "nothing. Use a cron that reads CRON_TZ, set the machine's time zone to "
        "America/New_York, or pick a time that is safe both ways, such as 12:00"
    )
    assert result.stdout.startswith("# warning: if your cron ignores CRON_TZ")
    assert "CRON_TZ=America/New_York\n30 11 * * * " in result.stdout


def test_preview_reads_an_as_of_date_in_the_shop_time_zone(cli, db_path, tmp_path):
    customers(db_path, [("kiri@example.org", "Kiri", "1990-06-11")])
    config = write_config(tmp_path, "  timezone: Pacific/Auckland\n", BIRTHDAY)
    early = cli("preview", "birthday", "-c", str(config), "--as-of", "2025-06-10")
    assert "NOT DUE NOW" in early.stdout
    on_the_day = cli("preview", "birthday", "-c", str(config), "--as-of", "2025-06-11")
    assert on_the_day.exit_code == 0, on_the_day.output
    assert "NOT DUE NOW" not in on_the_day.stdout
    assert "=== message 1 of 1: step 1 to kiri@example.org ===" in on_the_day.stdout
