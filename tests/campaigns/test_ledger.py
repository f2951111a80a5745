"""The send ledger's store queries: recording, uniqueness, settling by hand."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from smtp_servers import add_customers, plan_rows, states

from retain_cli.campaigns.resolve import resolve_sends
from retain_cli.errors import NotFound, UsageError

EMAILS = ["a@example.org", "b@example.org", "c@example.org"]


def test_recording_twice_keeps_one_row_per_key(store):
    add_customers(store, EMAILS)
    plan_rows(store, "c", EMAILS)
    plan_rows(store, "c", EMAILS)  # a second run records the same audience: nothing new
    assert store.conn.execute("SELECT count(*) FROM sends").fetchone() == (3,)
    store.conn.execute("UPDATE sends SET state = 'sent' WHERE email = ?", (EMAILS[0],))
    plan_rows(store, "c", EMAILS)
    assert states(store)[EMAILS[0]] == "sent"  # never reset by a later plan


def test_campaign_step_customer_occurrence_is_unique(store):
    [ref] = add_customers(store, EMAILS[:1])
    plan_rows(store, "c", EMAILS[:1])
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute(
            "INSERT INTO sends (send_key, campaign, step, customer_ref, occurrence, email, "
            "state, planned_at, updated_at) VALUES ('other-key', 'c', 1, ?, '1', ?, "
            "'planned', 'x', 'x')",
            (ref, EMAILS[0]),
        )


def test_ledger_list_filters_and_orders_newest_first(store):
    add_customers(store, EMAILS)
    plan_rows(store, "a", EMAILS[:2])
    plan_rows(store, "b", EMAILS[2:])
    store.conn.execute(
        "UPDATE sends SET state = 'failed', error = 'x' WHERE email = ?", (EMAILS[1],)
    )
    assert [r["email"] for r in store.ledger_list()] == list(reversed(EMAILS))
    assert [r["email"] for r in store.ledger_list(campaign="a")] == [EMAILS[1], EMAILS[0]]
    failed = store.ledger_list(state="failed")
    assert [(r["email"], r["error"], r["key"]) for r in failed] == [
        (EMAILS[1], "x", f"a:1:{EMAILS[1]}:1")
    ]
    assert len(store.ledger_list(limit=1)) == 1


def test_resolve_by_key_and_by_campaign(store):
    add_customers(store, EMAILS)
    plan_rows(store, "c", EMAILS)
    store.conn.execute("UPDATE sends SET state = 'ambiguous', claimed_at = '2025-06-01T10:00:00Z'")
    moment = datetime(2025, 6, 2, tzinfo=UTC)
    key = f"c:1:{EMAILS[0]}:1"
    assert resolve_sends(store, key=key, campaign=None, outcome="sent", now=moment) == 1
    row = store.conn.execute(
        "SELECT state, sent_at, error FROM sends WHERE send_key = ?", (key,)
    ).fetchone()
    assert row == (
        "sent",
        "2025-06-01T10:00:00Z",
        "resolved by hand as sent at 2025-06-02T00:00:00Z",
    )
    assert resolve_sends(store, key=None, campaign="c", outcome="retry", now=moment) == 2
    assert states(store) == {EMAILS[0]: "sent", EMAILS[1]: "planned", EMAILS[2]: "planned"}
    with pytest.raises(UsageError):
        resolve_sends(store, key=None, campaign=None, outcome="sent")
    with pytest.raises(NotFound):
        resolve_sends(store, key="c:1:nobody:1", campaign=None, outcome="sent")


def test_mailability_checks_the_planned_address_too(store):
    refs = add_customers(store, EMAILS[:2])
    store.conn.execute("UPDATE customers SET email = 'new@example.org' WHERE id = ?", (refs[0],))
    store.conn.execute(
        "INSERT INTO suppressions VALUES (?, 'asked', 'cli', '2025-01-01T00:00:00Z')",
        (EMAILS[0],),
    )
    status = store.mailability([(refs[0], EMAILS[0]), (refs[1], EMAILS[1])])
    assert status == {refs[0]: (True, True, True), refs[1]: (True, True, False)}
