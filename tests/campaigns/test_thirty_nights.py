"""Thirty nights of a hand-made shop, run the way cron runs it (issue 11's "done when").

A Berlin bakery imports its exports by day and runs ``retain send`` every night on
a machine whose cron reads UTC: 05:30 UTC is 07:30 in Berlin until the clocks go back on
26 October, then 06:30, inside the quiet hours; the owner moves the line to 06:30 UTC after
two nights that sent nothing (and said so, exit 3). Between the nights: two new customers
sign up (a welcome series; one of them buys after step 1), a first order (a thank-you),
two birthdays, a weekly tips campaign (``repeat: 7d``) under a daily limit of 3, and an
address change that the import spots and the owner merges. One night goes through a real SMTP
server on 127.0.0.1. Every night's sends are asserted.
"""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

from scheduling_shop import sent, write_config
from smtp_servers import SmtpServer

from retain_cli.store import Store

LIMITS = '  per_day: 3\n  quiet_hours: "21:00-07:00"\n  timezone: Europe/Berlin\n'
CAMPAIGNS = """\
  - name: welcome
    trigger: {after: signup}
    steps:
      - {days: 0, subject: "Welcome", template: templates/hello.txt.j2}
      - {days: 4, subject: "What our regulars love", template: templates/follow_up.txt.j2}
  - name: thank-you
    trigger: {after: first_order, days: 3}
    subject: "Thank you for your first order"
    template: templates/thanks.txt.j2
  - name: birthday
    trigger: {after: birthday}
    subject: "Happy birthday"
    template: templates/hello.txt.j2
    repeat: 300d
  - name: tips
    audience: {where: "orders >= 1"}
    subject: "This week's bread"
    template: templates/hello.txt.j2
    repeat: 7d
"""

ADA, BOB, NEW_BOB = "ada@example.org", "bob@old.example", "bob@new.example"
DORA, FINN, GIA = "dora@example.org", "finn@example.org", "gia@example.org"

# night (Berlin date) -> what it sends; the cron line runs at 05:30 UTC until 27 October
NIGHTS: dict[str, list[tuple[str, int, str]]] = {
    "2025-10-13": [("tips", 1, ADA), ("tips", 1, BOB), ("tips", 1, DORA)],
    "2025-10-14": [],
    "2025-10-15": [],  # Finn and Gia sign up this afternoon
    "2025-10-16": [("welcome", 1, FINN), ("welcome", 1, GIA)],
    "2025-10-17": [],  # Gia's first order comes in this afternoon
    "2025-10-18": [("tips", 1, GIA)],
    "2025-10-19": [("welcome", 2, FINN)],  # Gia bought after step 1: her series stops
    # Ada's birthday goes first; the daily limit of 3 holds two tips back for a night
    "2025-10-20": [("birthday", 1, ADA), ("thank-you", 1, GIA), ("tips", 1, ADA)],
    # Bob ordered from a new address yesterday afternoon; the import said so; merged: his
    # queued tips go to the new address, and he is not welcomed or thanked as "new"
    "2025-10-21": [("tips", 1, NEW_BOB), ("tips", 1, DORA)],
    "2025-10-22": [],
    "2025-10-23": [],
    "2025-10-24": [],
    "2025-10-25": [("tips", 1, GIA)],
    "2025-10-26": [],  # 05:30 UTC is 06:30 in Berlin now: quiet hours, Dora's birthday waits
    "2025-10-27": [],  # again (Ada's tips wait too); the owner moves cron to 06:30 UTC
    # through SMTP: Dora's birthday two days late, still fresh; then what waited longest
    "2025-10-28": [("birthday", 1, DORA), ("tips", 1, ADA), ("tips", 1, DORA)],
    "2025-10-29": [("tips", 1, NEW_BOB)],
    "2025-10-30": [],
    "2025-10-31": [],
    "2025-11-01": [("tips", 1, GIA)],
    "2025-11-02": [],
    "2025-11-03": [],
    "2025-11-04": [("tips", 1, ADA), ("tips", 1, DORA)],
    "2025-11-05": [("tips", 1, NEW_BOB)],
    "2025-11-06": [],
    "2025-11-07": [],
    "2025-11-08": [("tips", 1, GIA)],
    "2025-11-09": [],
    "2025-11-10": [],
    "2025-11-11": [("tips", 1, ADA), ("tips", 1, DORA)],
}
HELD_BACK = {"2025-10-20", "2025-10-26", "2025-10-27", "2025-10-28"}  # exit 3


def csv_file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_thirty_nights(cli, db_path, tmp_path, monkeypatch):
    exports = tmp_path / "exports"
    exports.mkdir()
    assert cli("config", "set", "currency", "EUR").exit_code == 0  # the exports name none

    def import_(kind: str, name: str, text: str, at: str):
        monkeypatch.setenv("RETAIN_NOW", at)
        # (a generic file; its header alone would pass for Shopify's legacy customers export)
        source = ["--source", f"generic_{kind}"]
        result = cli("import", kind, str(csv_file(exports, name, text)), *source)
        monkeypatch.delenv("RETAIN_NOW")
        assert result.exit_code == 0, result.output
        return result

    import_(
        "customers",
        "customers.csv",
        "email,first name,last name,accepts marketing,birthday\n"
        f"{ADA},Ada,Lovelace,yes,1990-10-20\n"
        f"{BOB},Bob,Stone,yes,\n"
        "cem@example.org,Cem,Kaya,yes,\n"
        f"{DORA},Dora,Maar,yes,1985-10-26\n",
        "2025-10-12T10:00:00Z",
    )
    import_(
        "orders",
        "orders.csv",
        "order id,email,date,amount\n"
        f"1,{ADA},2025-01-10,20.00\n2,{ADA},2025-03-05,18.50\n"
        f"3,{BOB},2025-02-01,31.00\n4,{DORA},2025-04-01,12.00\n",
        "2025-10-12T10:05:00Z",
    )
    between = {  # imports in the afternoon after a night
        "2025-10-15": lambda: import_(
            "customers",
            "signups.csv",
            "email,first name,last name,accepts marketing\n"
            f"{FINN},Finn,Berg,yes\n{GIA},Gia,Rossi,yes\n",
            "2025-10-15T12:00:00Z",
        ),
        "2025-10-17": lambda: import_(
            "orders",
            "orders-1017.csv",
            f"order id,email,date,amount\n5,{GIA},2025-10-17T13:00:00Z,24.00\n",
            "2025-10-17T13:30:00Z",
        ),
        "2025-10-20": lambda: import_(
            "orders",
            "orders-1020.csv",
            f"order id,email,name,date,amount\n6,{NEW_BOB},Bob Stone,2025-10-20T09:00:00Z,27.00\n",
            "2025-10-20T12:00:00Z",
        ),
    }

    with SmtpServer() as server:
        transport = f"  host: 127.0.0.1\n  port: {server.port}\n  security: none\n  timeout: 5\n"
        config = write_config(tmp_path, LIMITS, CAMPAIGNS, transport)
        for night, expected in NIGHTS.items():
            at = "05:30" if night < "2025-10-28" else "06:30"
            args = ["send", "--yes", "-c", str(config), "--now", f"{night}T{at}:00Z"]
            if night == "2025-10-28":
                args += ["--transport", "smtp"]
            result = cli(*args)
            assert result.exit_code == (3 if night in HELD_BACK else 0), (night, result.output)
            if night in ("2025-10-26", "2025-10-27"):
                assert "Held back:" in result.stderr and "quiet hours 21:00-07:00" in result.stderr
            assert sent(db_path, f"{night}T{at}:00Z") == sorted(expected), night
            if night in between:
                imported = between[night]()
                if night == "2025-10-20":
                    assert "Looks like an address change: bob@old.example -> bob@new.example" in (
                        " ".join(imported.stderr.split())
                    )
                    merged = cli("customers", "merge", BOB, NEW_BOB)
                    assert merged.exit_code == 0, merged.output
    assert sorted(server.recipients()) == [ADA, DORA, DORA]
    birthday = [r.message for r in server.received if r.message["Subject"] == "Happy birthday"]
    assert [m["To"] for m in birthday] == ["Dora Maar <dora@example.org>"]

    everything = [m for night in NIGHTS.values() for m in night]
    assert len(sent(db_path)) == len(everything)
    outbox = list((tmp_path / "shop" / "outbox").glob("*/*.eml"))
    assert len(outbox) == len(everything) - 3  # one night went through SMTP
    to_bob = [message_from_bytes(p.read_bytes())["To"] for p in outbox if "Bob" in p.read_text()]
    assert sorted(to_bob) == [
        "Bob Stone <bob@new.example>",
        "Bob Stone <bob@new.example>",
        "Bob Stone <bob@new.example>",
        "Bob Stone <bob@old.example>",
    ]
    with Store.open(db_path) as store:
        left = store.conn.execute(
            "SELECT state, count(*) FROM sends GROUP BY state ORDER BY state"
        ).fetchall()
    assert left == [("sent", len(everything))]  # nothing waits, nothing was lost
