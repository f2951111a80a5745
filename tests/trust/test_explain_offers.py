"""retain explain on the demo shop for the campaigns whose triggers come from the orders'
products and the loyalty section: it agrees with the plan and never fails on a trigger it has
no words for."""

from __future__ import annotations

import json

NOW = "2026-11-24T12:00:00Z"


def test_explain_agrees_with_the_plan_on_replenishment(cli, demo, monkeypatch):
    monkeypatch.setenv("RETAIN_NOW", NOW)
    plan = json.loads(cli("plan", "-f", "json").stdout)
    due = [i for i in plan["items"] if i["campaign"] == "replenishment" and i["status"] == "due"]
    assert due, "the demo has coffee regulars due again"
    first = due[0]
    result = cli("explain", first["email"], "-f", "json")
    assert result.exit_code == 0, result.output
    [decision] = [
        c for c in json.loads(result.stdout)["campaigns"] if c["campaign"] == "replenishment"
    ]
    assert (decision["status"], decision["key"]) == ("due", first["key"])

    # a customer with nothing due again: words, not a KeyError
    planned = {i["email"] for i in plan["items"] if i["campaign"] == "replenishment"}
    assert "mollyh@post.example" not in planned
    result = cli("explain", "mollyh@post.example", "-f", "json")
    assert result.exit_code == 0, result.output
    [decision] = [
        c for c in json.loads(result.stdout)["campaigns"] if c["campaign"] == "replenishment"
    ]
    assert decision["status"] == "not_due"
    assert decision["reason"] == (
        "waits for its trigger (0d after replenishment): no product they bought has a "
        "repurchase interval (their own, once bought twice, or the product's gap_days)"
    )
    table = cli("explain", "mollyh@post.example")
    assert table.exit_code == 0 and "Traceback" not in table.output
