"""The demo's send history: a win-back campaign whose window has ended, measured by retain
report (and written as HTML), recorded once however often the demo runs."""

from __future__ import annotations

import json

from retain_cli.demo.history import HISTORY_REPLY
from retain_cli.store import Store

TODAY = "2026-11-23"


def test_demo_has_a_finished_campaign_to_report_on(cli, tmp_path, monkeypatch):
    made = cli("demo", "shop", "--customers", "300", "--today", TODAY)
    assert made.exit_code == 0, made.output
    monkeypatch.chdir(tmp_path / "shop")
    monkeypatch.setenv("RETAIN_DB", str(tmp_path / "shop" / "retain.db"))
    monkeypatch.setenv("RETAIN_CONFIG", str(tmp_path / "shop" / "campaigns.yaml"))
    with Store.open(tmp_path / "shop" / "retain.db") as store:
        rows = store.conn.execute(
            "SELECT campaign, state, count(*), min(planned_at), max(planned_at), "
            "count(DISTINCT reply) FROM sends GROUP BY 1, 2 ORDER BY 2"
        ).fetchall()
        sent = store.conn.execute("SELECT DISTINCT reply FROM sends WHERE state = 'sent'")
        assert sent.fetchall() == [(HISTORY_REPLY,)]
    assert [(r[0], r[1]) for r in rows] == [("win-back", "held_out"), ("win-back", "sent")]
    assert rows[1][3] == "2026-08-03T10:00:00Z"  # 16 weeks before
    assert rows[1][4] == "2026-10-12T10:00:00Z"  # the last run, six weeks before
    row, a, b = json.loads(cli("report", "--as-of", TODAY, "-f", "json").stdout)
    assert row["campaign"] == "win-back" and row["status"] == "finished"
    assert row["recipients"] == rows[1][2] and row["held_out"] == rows[0][2]
    assert row["expected_holdout"] == 0.1 and row["sample_ratio_mismatch"] is False
    # the demo's win-back is an A/B test: both variants' windows have ended, side by side
    with Store.open(tmp_path / "shop" / "retain.db") as store:
        split = dict(
            store.conn.execute(
                "SELECT coalesce(variant, 'held out'), count(*) FROM sends GROUP BY 1"
            ).fetchall()
        )
    assert split == {"A": a["recipients"], "B": b["recipients"], "held out": row["held_out"]}
    assert min(a["recipients"], b["recipients"]) >= 5  # 300 customers, less the program holdout
    assert (a["variant"], b["variant"], b["versus_variant"]) == ("A", "B", "A")
    assert a["status"] == b["status"] == b["versus_status"] == "finished"
    assert a["variant_share"] == b["variant_share"] == 0.5
    assert b["versus_conversion_verdict"] == "inconclusive"  # never a winner on so few
    assert b["versus_no_verdict"] == "fewer than 30 customers in a group"
    text = " ".join(cli("report", "--as-of", TODAY).stdout.split())
    assert "Variants of win-back, side by side" in text
    assert "B against A: conversion inconclusive, revenue per customer inconclusive (fewer " in text
    page = cli("report", "--html", "report.html", "--as-of", TODAY, "--compare")
    assert page.exit_code == 0, page.output
    html = (tmp_path / "shop" / "report.html").read_text()
    assert 'data-check="win-back|1||recipients"' in html
    assert 'data-check="win-back|1|B|versus_conversion_difference"' in html
    # the demo again: the same files, and no second history
    monkeypatch.chdir(tmp_path)
    again = cli("demo", "shop", "--customers", "300", "--today", TODAY)
    assert again.exit_code == 0, again.output
    with Store.open(tmp_path / "shop" / "retain.db") as store:
        count = store.conn.execute("SELECT count(*) FROM sends").fetchone()[0]
    assert count == rows[0][2] + rows[1][2]
