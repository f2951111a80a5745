"""A VIP entering at-risk becomes a task: a customer who was rfm champions a week ago and
entered lifecycle at_risk since (the shop's typical gap is 30 days with this few orders)."""

from __future__ import annotations

import json
from datetime import date, timedelta

NOW = date(2026, 6, 30)


def test_a_champion_entering_at_risk_becomes_a_task(cli, orders, store):
    for months in range(6):  # six big orders, the last one 33 days ago
        orders.add("vip@example.com", (NOW - timedelta(days=33 + 30 * months)).isoformat(), 100.0)
    for n, days in enumerate((40, 50, 60, 90, 200)):
        orders.add(f"c{n}@example.com", (NOW - timedelta(days=days)).isoformat(), 10.0)
    result = cli("tasks", "--now", "2026-06-30T12:00", "-f", "json")
    assert result.exit_code == 0, result.output
    tasks = json.loads(result.stdout)
    assert [(t["kind"], t["title"]) for t in tasks] == [
        ("vip_at_risk", "VIP at risk: vip@example.com")
    ]
    assert tasks[0]["detail"].startswith(
        "entered at_risk since 2026-06-23 (last order 2026-05-28); a VIP: rfm champions on "
        "2026-06-23"
    )
    assert tasks[0]["due_at"] == "2026-07-03T12:00:00Z"
    # the next day the same episode makes no second task
    again = cli("tasks", "--now", "2026-07-01T12:00", "-f", "json")
    assert len(json.loads(again.stdout)) == 1
