"""The nightly cron line imports the new exports before it sends (``retain cron
--import-dir``); without that, ``retain send`` says when the orders it works from are more
than a day old."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduling_shop import sent, write_config

from retain_cli.campaigns.cron import STALE_NOTE
from retain_cli.store import Store

THANKS = """\
  - name: thank-you
    trigger: {after: first_order}
    subject: "Thank you for your first order"
    template: templates/thanks.txt.j2
"""
CUSTOMERS = "email,first name,last name,accepts marketing\nada@example.org,Ada,Lovelace,yes\n"


def test_the_cron_line_imports_new_exports_before_the_send(cli, tmp_path):
    config = write_config(tmp_path, "", THANKS)
    shop = config.parent
    exports = shop / "exports"
    exports.mkdir()
    (exports / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    db = shop / "retain.db"
    made = cli("--db", str(db), "import", "folder", str(exports))
    assert made.exit_code == 0, made.output

    result = cli("cron", "--at", "10:00", "-c", str(config), "--db", str(db), "--import-dir",
                 str(exports))  # fmt: skip
    assert result.exit_code == 0, result.output
    line = result.stdout.strip().splitlines()[-1]
    log = shop / "retain-send.log"
    assert f"import folder {exports} >> {log} 2>&1; " in line
    assert line.index(" import folder ") < line.index(" send --config ")
    assert not set(STALE_NOTE) & set(result.stdout.splitlines())  # nothing to warn about

    # the afternoon's export: Ada's first order; the night's run must see it and thank her
    bought = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    orders = f"order id,email,date,amount,currency\n1001,ada@example.org,{bought},24.00,EUR\n"
    (exports / "orders-today.csv").write_text(orders, encoding="utf-8")
    command = line.split(" * * * ", 1)[1]  # what cron runs at 10:00
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    run = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True)
    assert run.returncode == 0, log.read_text()
    with Store.open(db) as store:
        imported = store.conn.execute("SELECT file_name FROM imports ORDER BY id").fetchall()
    assert imported == [("customers.csv",), ("orders-today.csv",)]
    assert sent(db) == [("thank-you", 1, "ada@example.org")]
    text = " ".join(log.read_text().split())
    assert "orders-today.csv │ orders │ imported" in text
    assert text.index("Exports in") < text.index("Send summary")
    assert "Warning" not in text


def test_cron_without_an_import_folder_says_the_run_uses_the_last_import(cli, tmp_path):
    config = write_config(tmp_path, "", THANKS)
    result = cli("cron", "-c", str(config), "--db", str(tmp_path / "shop.db"))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:2] == list(STALE_NOTE)
    assert " import folder " not in lines[-1]


def test_send_warns_when_the_newest_orders_import_is_over_a_day_old(cli, tmp_path, monkeypatch):
    config = write_config(tmp_path, "", THANKS)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "orders.csv").write_text(
        "order id,email,date,amount,currency\n1,ada@example.org,2025-09-30T08:00:00Z,24.00,EUR\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("RETAIN_NOW", "2025-10-01T10:00:00Z")
    imported = cli("import", "orders", str(exports / "orders.csv"))
    assert imported.exit_code == 0, imported.output
    monkeypatch.delenv("RETAIN_NOW")

    fresh = cli("send", "--dry-run", "-c", str(config), "--now", "2025-10-02T09:59:00Z")
    assert fresh.exit_code == 0, fresh.output
    assert "Warning" not in fresh.stderr
    stale = cli("send", "--dry-run", "-c", str(config), "--now", "2025-10-04T10:30:00Z")
    assert stale.exit_code == 0, stale.output
    assert " ".join(stale.stderr.split()) == (
        "Warning: the newest orders import (orders.csv, 2025-10-01 10:00 UTC) is 3 days old: "
        "orders since then are not seen (a customer who bought since may still get a "
        "win-back message). Import the new export first; 'retain cron --import-dir FOLDER' "
        "puts that before the nightly send"
    )
    back_dated = cli("send", "--dry-run", "-c", str(config), "--as-of", "2025-10-01")
    assert "Warning" not in back_dated.stderr  # an --as-of run looks at the past on purpose
