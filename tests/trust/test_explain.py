"""``retain explain CUSTOMER``: the figures behind each segment and prediction, and for every
campaign the decision ``retain plan`` makes (the same code: a property test holds them to
each other)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from trust_shop import Person, add_people, copy_campaigns, small_shop

from retain_cli.campaigns.config import load_config
from retain_cli.campaigns.planner import make_plan
from retain_cli.campaigns.send import record_plan
from retain_cli.store import Store
from retain_cli.timeutil import Clock, from_iso, to_iso
from retain_cli.trust.explain import explain_customer


@pytest.fixture
def shop(tmp_path: Path, store: Store) -> Path:
    add_people(store, small_shop())
    return copy_campaigns(tmp_path)


def _explain(cli, who: str, config: Path, *extra: str):
    return cli("explain", who, "--config", str(config), "--now", "2025-06-20T10:00", *extra)


def _plan_items(cli, config: Path, customer_id: str) -> list[tuple]:
    result = cli("plan", "--config", str(config), "--now", "2025-06-20T10:00", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["items"]
    return sorted(
        (r["campaign"], r["step"], r["status"], r["reason"], r["key"])
        for r in rows
        if r["customer_id"] == customer_id
    )


def test_explain_agrees_with_plan_through_the_cli(cli, shop):
    for who, cid in (("ada@example.com", "C1"), ("C2", "C2"), ("eve@example.com", "C3")):
        result = _explain(cli, who, shop, "--format", "json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        mine = sorted(
            (d["campaign"], d["step"], d["status"], d["reason"], d["key"])
            for d in data["campaigns"]
            if d["key"] is not None
        )
        assert mine == _plan_items(cli, shop, cid)


def test_explain_ada_campaign_by_campaign(cli, shop):
    result = _explain(cli, "ada@example.com", shop, "--format", "json")
    decisions = {d["campaign"]: d for d in json.loads(result.output)["campaigns"]}
    # her birthday is today: due, and it goes first (priority 10); hello waits for the cap
    assert decisions["birthday"]["status"] == "due"
    assert decisions["hello"]["status"] == "deferred"
    assert decisions["hello"]["reason"].startswith("frequency cap (16h between messages")
    # 2 countable orders, last on 2025-03-01: 111 days ago
    assert decisions["thank-you"] == {
        "campaign": "thank-you",
        "status": "not_due",
        "reason": "too late for the last one: due 2025-01-13, fresh for 7 days; a first "
        "order happens once",
        "step": None,
        "key": None,
        "due_on": None,
        "note": None,
        "blocked_by": [],
        "blocked": [],
    }
    assert decisions["feedback"]["reason"].startswith("too late for the last one: due 2025-03-06")
    assert decisions["feedback"]["reason"].endswith("their next order starts it again")
    assert decisions["welcome"]["reason"] == (
        "waits for its trigger (0d after signup): no sign-up date (customers of the first "
        "import count as already there)"
    )
    assert decisions["dormant"]["status"] == "disabled"


def test_explain_a_campaign_filter_names_the_clause_that_failed(cli, shop):
    result = _explain(cli, "bob@example.com", shop, "--format", "json")
    decisions = {d["campaign"]: d for d in json.loads(result.output)["campaigns"]}
    assert decisions["feedback"] == {
        "campaign": "feedback",
        "status": "not_in_audience",
        "reason": "audience.where: total_spent >= 20 failed (total_spent = 12.5)",
        "step": None,
        "key": None,
        "due_on": None,
        "note": None,
        "blocked_by": [],
        "blocked": [],
    }
    # first order 6 days ago (days: 3), but hello goes first under the frequency cap
    assert decisions["thank-you"]["status"] == "deferred"
    assert decisions["thank-you"]["reason"] == (
        "frequency cap (16h between messages; hello goes first)"
    )
    assert decisions["win-back"]["reason"].startswith("not in segment at_risk (lifecycle: they")


def test_explain_not_due_yet_says_when(cli, shop, store):
    add_people(
        store, [Person("C6", "new@example.com", orders=[("2025-06-19T09:00:00Z", 2500, 0, False)])]
    )
    result = _explain(cli, "new@example.com", shop, "--format", "json")
    decisions = {d["campaign"]: d for d in json.loads(result.output)["campaigns"]}
    assert decisions["thank-you"]["status"] == "not_due"
    assert decisions["thank-you"]["due_on"] == "2025-06-22"
    assert decisions["thank-you"]["reason"] == "due on 2025-06-22 (3d after first_order)"
    assert decisions["feedback"]["due_on"] == "2025-06-24"


def test_explain_consent_and_opt_out_with_source_and_date(cli, shop, store):
    sue = json.loads(_explain(cli, "sue@example.com", shop, "--format", "json").output)
    consent = sue["consent"]
    assert consent["accepts_marketing"] is True
    assert consent["suppression"]["reason"] == "asked by phone"
    assert consent["suppression"]["source"] == "cli"
    assert consent["may_be_mailed"] is False
    assert {d["campaign"]: d["reason"] for d in sue["campaigns"]}["hello"] == "opted out"
    # a consent change is read from the audit log, with who and when
    store.conn.execute(
        "UPDATE customers SET accepts_marketing = 0, updated_at = '2025-06-18T07:00:00Z' "
        "WHERE customer_id = 'C2'"
    )
    table = _explain(cli, "bob@example.com", shop)
    assert table.exit_code == 0
    assert "no: accepts marketing: yes -> no, retain, 2025-06-18T07:00:00Z" in table.output


def test_explain_shows_the_figures_behind_the_segments(cli, shop, tmp_path):
    (tmp_path / "segments.yaml").write_text(
        "segments:\n"
        "  - name: big\n    where: total_spent >= 100 and orders >= 2\n"
        "  - name: repeat\n    where: orders >= 2\n",
        encoding="utf-8",
    )
    result = _explain(cli, "ada@example.com", shop, "--format", "json")
    data = json.loads(result.output)
    # four customers with countable orders: 111 days is the second longest, 2 orders the
    # most, 55.00 the biggest spend
    assert data["rfm"]["scores"] == [2, 4, 4]
    assert data["rfm"]["segment"] == "at_risk"
    assert data["rfm"]["values"]["F"] == "4 (2 orders)"
    assert data["rfm"]["ranges"] == {
        "R": "1: 201 days ago; 2: 111 days ago; 3: 50 days ago; 4: 6 days ago",
        "F": "1: 1 order; 4: 2 orders",
        "M": "1: 7.00 spent; 2: 12.50 spent; 3: 30.00 spent; 4: 55.00 spent",
    }
    assert data["rfm"]["change"][0] == "an order today (about 27.50): R 5, F 4, M 4: loyal"
    assert data["lifecycle"]["segment"] == "lapsing"  # 111 days: <= 4G (G = 30)
    assert data["lifecycle"]["reason"] == "last order 111 days ago (lapsing: <= 120 days)"
    assert data["lifecycle"]["change"] == [
        "no order: lost from 2025-06-30",
        "an order today: active",
    ]
    assert data["custom_segments"] == [
        {
            "segment": "big",
            "member": False,
            "why": "not a member: total_spent >= 100 failed (total_spent = 55)",
        },
        {"segment": "repeat", "member": True, "why": "member: orders >= 2 matched"},
    ]
    assert data["prediction"]["inputs"] == {
        "frequency": 1.0,
        "recency": 50.0,
        "T": 161.0,
        "monetary_value": 30.0,
    }
    assert data["prediction"]["method"] == "rules"
    table = _explain(cli, "ada@example.com", shop)
    assert "R scores" in table.output and "would change" in table.output


def test_explain_a_prospect_and_at_80_columns(cli, shop, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = _explain(cli, "nora@example.com", shop)
    assert result.exit_code == 0, result.output
    assert "prospect: no countable order by 2025-06-20" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "welcome" in result.output


def test_explain_dispatch_metric_customer_and_did_you_mean(cli, shop):
    metric = cli("explain", "retention_rate")
    assert metric.exit_code == 0 and "retention_rate" in metric.output
    typo = _explain(cli, "ada@exampel.com", shop)
    assert typo.exit_code == 1
    assert typo.output.strip() == (
        "Error: no customer with e-mail or id 'ada@exampel.com'; did you mean ada@example.com?"
    )
    unknown = cli("explain", "retention_rat")
    assert unknown.exit_code == 2
    assert "Error: no definition for 'retention_rat'" in unknown.output


# --- explain and plan, held to each other ---------------------------------------------------

DAY = timedelta(days=1)
BASE = datetime.fromisoformat("2025-06-01T00:00:00+00:00")


@st.composite
def people(draw) -> list[Person]:
    out = []
    for n in range(draw(st.integers(1, 6))):
        orders = [
            (
                to_iso(
                    BASE
                    - draw(st.integers(0, 200)) * DAY
                    + draw(st.integers(0, 23)) * 3600 * timedelta(seconds=1)
                ),
                draw(st.sampled_from([500, 1500, 4000])),
                draw(st.sampled_from([0, 0, 0, 500, 4000])),
                draw(st.booleans()) and draw(st.booleans()),
            )
            for _ in range(draw(st.integers(0, 4)))
        ]
        birthday = draw(st.sampled_from([None, "1990-06-03", "--06-05", "1985-12-24"]))
        signed = draw(st.sampled_from([None, "2025-06-01T09:00:00Z", "2025-05-20T09:00:00Z"]))
        out.append(
            Person(
                f"P{n}",
                draw(st.sampled_from([f"p{n}@example.com", f"p{n}@example.com", None])),
                consent=draw(st.sampled_from([1, 1, 0, None])),
                suppressed=draw(st.booleans()) and draw(st.booleans()),
                birthday=birthday,
                signed_up=signed,
                orders=[(at, total, min(ref, total), c) for at, total, ref, c in orders],
            )
        )
    return out


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    shop_people=people(),
    earlier=st.integers(-3, 12),
    later=st.integers(0, 8),
    hour=st.integers(0, 23),
    sent_share=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_property_explain_and_plan_agree(
    tmp_path_factory, shop_people, earlier, later, hour, sent_share
):
    """Whatever the shop and its history, every customer's explanation lists exactly the
    items the whole plan has for them (the daily limit, which ranks everyone, aside)."""
    folder = tmp_path_factory.mktemp("shop")
    config_file = copy_campaigns(folder)
    config = load_config(config_file)
    with Store.open(folder / "retain.db") as store:
        add_people(store, shop_people)
        # an earlier run recorded its plan; some of it went out
        first = BASE + earlier * DAY - 3 * DAY + hour * timedelta(hours=1)
        clock = Clock(first)
        plan = make_plan(store, config, as_of=first, clock=clock)
        record_plan(store, plan, clock.now)
        rows = store.conn.execute("SELECT id FROM sends WHERE state = 'planned' ORDER BY id")
        ids = [r[0] for r in rows.fetchall()]
        for send_id in ids[: int(len(ids) * sent_share)]:
            store.ledger_settle(send_id, "sent", to_iso(first))
        now = first + (later + 1) * DAY
        clock = Clock(now)
        whole = make_plan(store, config, as_of=now, clock=clock)
        for person_ref, person in enumerate(shop_people, start=1):
            expected = sorted(
                (i.campaign, i.step, i.status, i.reason, i.send_key)
                for i in whole.items
                if i.customer_ref == person_ref
            )
            mine = explain_customer(
                store, person.customer_id, config_file=config_file, as_of=now, clock=clock
            )
            got = sorted((i.campaign, i.step, i.status, i.reason, i.send_key) for i in mine.items)
            assert got == expected
            decided = {(d.campaign, d.step, d.status) for d in mine.decisions if d.key}
            assert decided == {(c, s, st_) for c, s, st_, _, _ in expected}
            planned = {c for c, *_ in expected}
            for d in mine.decisions:
                if d.campaign not in planned:
                    assert d.status in ("not_due", "not_in_audience", "disabled")
            assert from_iso(to_iso(mine.as_of)) == now


def test_explain_predicts_what_retain_predict_does(cli, tmp_path):
    assert cli("demo", "demo", "--customers", "400", "--today", "2025-10-10").exit_code in (0, 3)
    db, config = tmp_path / "demo" / "retain.db", tmp_path / "demo" / "campaigns.yaml"
    predicted = cli("--db", str(db), "predict", "--as-of", "2025-10-09", "--format", "json")
    assert predicted.exit_code == 0, predicted.output
    rows = json.loads(predicted.output[predicted.output.index("[") :])  # after a notice
    chosen = [r for r in rows if r["frequency"] >= 2][:3] + [
        r for r in rows if r["frequency"] == 0
    ][:1]
    for row in chosen:
        result = cli(
            "--db",
            str(db),
            "explain",
            row["email"],
            "--config",
            str(config),
            "--as-of",
            "2025-10-09",
            "--format",
            "json",
        )
        assert result.exit_code == 0, result.output
        mine = json.loads(result.output)["prediction"]
        assert mine["method"] == row["method"]
        assert mine["inputs"] == {
            "frequency": row["frequency"],
            "recency": row["recency"],
            "T": row["T"],
            "monetary_value": row["monetary_value"],
        }
        assert (mine["p_alive"], mine["expected_orders"], mine["predicted_clv"]) == (
            row["p_alive"],
            row["expected_orders"],
            row["predicted_clv"],
        )
        assert mine["churn_risk"] == row["churn_risk"]


def test_the_kept_summary_gives_the_same_prediction_and_follows_new_orders(cli, shop, store):
    """The purchase-day summary is kept beside the fit: the next explanation reads it and
    says the same; a new order changes the key, so it is computed again."""
    first = json.loads(_explain(cli, "ada@example.com", shop, "--format", "json").output)
    (key,) = store.conn.execute(
        "SELECT fingerprint FROM analytics_cache WHERE name = 'trust:predict_summary'"
    ).fetchone()
    again = json.loads(_explain(cli, "ada@example.com", shop, "--format", "json").output)
    assert again["prediction"] == first["prediction"]
    assert first["prediction"]["inputs"] == {
        "frequency": 1.0,
        "recency": 50.0,
        "T": 161.0,
        "monetary_value": 30.0,
    }
    add_people(store, [Person("C7", "max@example.com")])
    store.conn.execute(
        "INSERT INTO orders (id, order_key, source, order_id, customer_ref, ordered_at, "
        "currency, total_minor, refunded_minor) VALUES (99, 'test:#99', 'test', '#99', 1, "
        "'2025-06-10T10:00:00Z', 'EUR', 1000, 0)"
    )
    newer = json.loads(_explain(cli, "ada@example.com", shop, "--format", "json").output)
    assert newer["prediction"]["inputs"] == {
        "frequency": 2.0,
        "recency": 151.0,
        "T": 161.0,
        "monetary_value": 20.0,
    }
    (moved,) = store.conn.execute(
        "SELECT fingerprint FROM analytics_cache WHERE name = 'trust:predict_summary'"
    ).fetchone()
    assert moved != key


def test_explain_a_replenishment_or_promoter_trigger_that_has_not_happened(cli, shop):
    """A campaign whose trigger has no event for the customer says which event it waits for
    (it used to stop explain with a KeyError for the replenishment and promoter triggers)."""
    shop.write_text(
        shop.read_text()
        + """  - name: refill
    trigger: {after: replenishment, days: 0}
    subject: "Running low?"
    template: templates/offer.txt.j2
  - name: thanks-promoter
    trigger: {after: promoter, days: 1}
    subject: "Thank you"
    template: templates/offer.txt.j2
"""
    )
    result = _explain(cli, "ada@example.com", shop, "--format", "json")
    assert result.exit_code == 0, result.output
    decisions = {d["campaign"]: d for d in json.loads(result.output)["campaigns"]}
    assert (decisions["refill"]["status"], decisions["refill"]["reason"]) == (
        "not_due",
        "waits for its trigger (0d after replenishment): no product they bought has a "
        "repurchase interval (their own, once bought twice, or the product's gap_days)",
    )
    assert (decisions["thanks-promoter"]["status"], decisions["thanks-promoter"]["reason"]) == (
        "not_due",
        "waits for its trigger (1d after promoter): no survey answer that makes them a promoter",
    )
    table = _explain(cli, "ada@example.com", shop)
    assert table.exit_code == 0, table.output
    assert "refill" in table.output and "thanks-promoter" in table.output
