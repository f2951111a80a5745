"""One definition of marketing consent: the ``customer_consent`` view, and every user of it.

A customer may get marketing mail when they said yes (``accepts_marketing = 1``), have an
e-mail address, and that address is not suppressed. The status counts, the importer's
``effective_consent``, the sender's last check (``mailability``), the customer profile and
the audience frame must all say the same thing as the view.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from retain_cli.analytics.customers import customer_profile
from retain_cli.campaigns.audience import customer_frame
from retain_cli.store import Store

CUSTOMERS = (
    "Customer ID,First Name,Last Name,Email,Accepts Email Marketing\n"
    "'101,Yes,Y,yes@example.com,yes\n"
    "'102,No,N,no@example.com,no\n"
    "'103,Unknown,U,unknown@example.com,\n"
    "'104,Optedout,O,optedout@example.com,yes\n"
    "'105,Walkin,W,,yes\n"
)
SUPPRESSIONS = "email,reason\nOptedOut@Example.com,asked to stop\n"

# customer_id -> (email, has_email, marketing, suppressed, consent)
EXPECTED = {
    "101": ("yes@example.com", 1, 1, 0, 1),
    "102": ("no@example.com", 1, 0, 0, 0),
    "103": ("unknown@example.com", 1, 0, 0, 0),
    "104": ("optedout@example.com", 1, 1, 1, 0),
    "105": (None, 0, 1, 0, 0),
}


@pytest.fixture
def consent_shop(cli, db_path: Path, tmp_path: Path) -> dict[str, int]:
    """The five cases imported from real files; returns customer_id -> customers.id."""
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS, encoding="utf-8")
    suppressions = tmp_path / "suppressions.csv"
    suppressions.write_text(SUPPRESSIONS, encoding="utf-8")
    result = cli("import", "customers", str(customers), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 5
    result = cli("import", "suppressions", str(suppressions), "--format", "json")
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT email, reason FROM suppressions").fetchall() == [
            ("optedout@example.com", "asked to stop")
        ]
        stored = conn.execute(
            "SELECT customer_id, email, accepts_marketing FROM customers ORDER BY customer_id"
        ).fetchall()
        assert stored == [
            ("101", "yes@example.com", 1),
            ("102", "no@example.com", 0),
            ("103", "unknown@example.com", None),
            ("104", "optedout@example.com", 1),
            ("105", None, 1),
        ]
        return dict(conn.execute("SELECT customer_id, id FROM customers"))


def test_view_states_the_rule(consent_shop, db_path):
    with Store.open(db_path) as store:
        got = store.conn.execute(
            "SELECT c.customer_id, v.email, v.has_email, v.marketing, v.suppressed, v.consent "
            "FROM customer_consent v JOIN customers c ON c.id = v.customer_ref"
        ).fetchall()
    assert {row[0]: tuple(row[1:]) for row in got} == EXPECTED


def test_every_user_agrees_with_the_view(consent_shop, db_path, cli):
    refs = consent_shop
    consenting = {cid for cid, want in EXPECTED.items() if want[4]}
    assert consenting == {"101"}

    with Store.open(db_path, create=False) as store:
        # status counts
        counts = store.status_counts()
        assert (counts["customers"], counts["with_consent"], counts["suppressed"]) == (5, 1, 1)

        # the importer's effective_consent (by address, any case)
        for cid, (email, *_rest, consent) in EXPECTED.items():
            if email is not None:
                assert store.effective_consent(email.upper()) is bool(consent), cid

        # the sender's check right before sending: (has e-mail, accepts, suppressed)
        planned = [(ref, EXPECTED[cid][0] or "") for cid, ref in refs.items()]
        status = store.mailability(planned)
        assert {cid: status[ref] for cid, ref in refs.items()} == {
            cid: (bool(has), bool(marketing), bool(suppressed))
            for cid, (_, has, marketing, suppressed, _) in EXPECTED.items()
        }
        mailable = {cid for cid, ref in refs.items() if all(status[ref][:2]) and not status[ref][2]}
        assert mailable == consenting

        # the customer profile
        for cid, ref in refs.items():
            profile = customer_profile(store, cid)
            assert (profile.ref, profile.can_email) == (ref, cid in consenting), cid

        # the audience frame
        frame = customer_frame(store, datetime(2026, 1, 1, tzinfo=UTC))
        by_id = frame.set_index("customer_id")
        assert {cid: bool(by_id.loc[cid, "consent"]) for cid in refs} == {
            cid: cid in consenting for cid in refs
        }
        assert {cid: bool(by_id.loc[cid, "suppressed"]) for cid in refs} == {
            cid: cid == "104" for cid in refs
        }

    # and what the user sees
    result = cli("status", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["with_consent"] == 1


def test_consent_follows_a_later_suppression(consent_shop, db_path):
    with Store.open(db_path) as store:
        assert store.effective_consent("yes@example.com") is True
        assert store.suppress("yes@example.com", "asked to stop", "cli") is True
        assert store.effective_consent("yes@example.com") is False
        assert store.status_counts()["with_consent"] == 0
        ref = consent_shop["101"]
        assert store.mailability([(ref, "yes@example.com")]) == {ref: (True, True, True)}


def test_an_older_database_gets_the_view_when_opened(db_path):
    with Store.open(db_path) as store:
        store.conn.execute("DROP VIEW customer_consent")
        store.conn.execute("DELETE FROM _retain_migrations WHERE name = 'm005_customer_consent'")
        store.conn.commit()
    with Store.open(db_path) as store:
        assert "m005_customer_consent" in store.applied_migrations()
        names = store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'view' AND name = 'customer_consent'"
        ).fetchall()
        assert names == [("customer_consent",)]
