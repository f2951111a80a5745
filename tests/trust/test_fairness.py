"""``retain audit fairness``: rates per group, the four-fifths rule, small samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trust_shop import Person, add_people, copy_campaigns

from retain_cli.store import Store


def _sends(store: Store, rows: list[tuple[int, str, str]]) -> None:
    """(customer_ref, campaign, state) rows, sent on 2025-05-01."""
    store.db["sends"].insert_all(
        {
            "send_key": f"{campaign}:1:{ref}:1",
            "campaign": campaign,
            "step": 1,
            "customer_ref": ref,
            "occurrence": "1",
            "email": f"c{ref}@example.com",
            "state": state,
            "planned_at": "2025-05-01T07:00:00Z",
            "sent_at": "2025-05-01T07:00:00Z" if state == "sent" else None,
            "updated_at": "2025-05-01T07:00:00Z",
        }
        for ref, campaign, state in rows
    )


@pytest.fixture
def shop(tmp_path: Path, store: Store) -> Path:
    """40 customers in DE, 40 in AT, 5 in FR. Contacted (hello): 30 in DE, 15 in AT; the
    offer (win-back): 10 each; held out of win-back: 4 each. Converted (an order within 30
    days of the message): 15 in DE, 3 in AT."""
    people = []
    for country, n, converted in (("DE", 40, 15), ("AT", 40, 3), ("FR", 5, 0)):
        for i in range(n):
            orders = [("2025-05-10T10:00:00Z", 2000, 0, False)] if i < converted else []
            people.append(
                Person(
                    f"{country}{i}",
                    f"{country.lower()}{i}@example.com",
                    country=country,
                    orders=orders,
                )
            )
    add_people(store, people)
    refs = {p.customer_id: ref for ref, p in enumerate(people, start=1)}
    rows = []
    for country, contacted in (("DE", 30), ("AT", 15)):
        for i in range(contacted):
            rows.append((refs[f"{country}{i}"], "hello", "sent"))
        for i in range(10):
            rows.append((refs[f"{country}{i}"], "win-back", "sent"))
        for i in range(30, 34):
            rows.append((refs[f"{country}{i}"], "win-back", "held_out"))
    _sends(store, rows)
    return copy_campaigns(tmp_path)


def test_fairness_by_country_flags_below_four_fifths(cli, shop):
    result = cli(
        "audit",
        "fairness",
        "--by",
        "country",
        "--config",
        str(shop),
        "--as-of",
        "2025-06-20",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["offers"] == ["win-back", "birthday"]  # their template: a free coffee
    groups = {g["group"]: g for g in data["groups"]}
    de, at, fr = groups["DE"], groups["AT"], groups["FR"]
    assert (de["customers"], de["contacted"], de["offered"], de["held_out"], de["converted"]) == (
        40,
        0.75,
        0.25,
        0.1,
        0.5,
    )
    assert (at["customers"], at["contacted"], at["offered"], at["held_out"], at["converted"]) == (
        40,
        0.375,
        0.25,
        0.1,
        0.2,
    )
    assert de["flags"] == ""
    assert at["flags"] == "contacted 0.50, converted 0.40"
    assert at["warning"] == "converted: only 15 contacted"
    assert fr["warning"] == "small sample"
    assert fr["flags"] == "contacted 0.00, offered 0.00"
    assert data["reference"]["contacted"] == "DE (75.0%)"


def test_fairness_table_at_80_columns_and_bad_fields(cli, shop, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli(
        "audit", "fairness", "--by", "country", "--config", str(shop), "--as-of", "2025-06-20"
    )
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    assert "Fairness by country" in result.output
    assert "2 group(s) flagged." in result.output
    email = cli("audit", "fairness", "--by", "email")
    assert email.exit_code == 2
    assert "Error: --by email is an address: every customer would be a group of their own" in (
        " ".join(email.output.split())
    )
    unknown = cli("audit", "fairness", "--by", "shoe size")
    assert unknown.exit_code == 2
    assert "Error: --by 'shoe size' is not a customer field; use 'age band' or one of:" in (
        " ".join(unknown.output.split())
    )


def test_fairness_by_age_band(cli, tmp_path, store):
    add_people(
        store,
        [
            Person("A", "a@example.com", birthday="2003-06-21"),  # 21 on 2025-06-20
            Person("B", "b@example.com", birthday="1990-01-01"),  # 35
            Person("C", "c@example.com", birthday="--05-05"),  # no year
        ],
    )
    result = cli(
        "audit", "fairness", "--by", "age band", "--as-of", "2025-06-20", "--format", "json"
    )
    groups = {g["group"]: g["customers"] for g in json.loads(result.output)["groups"]}
    assert groups == {"under 25": 1, "35-44": 1, "(unknown)": 1}


def test_fairness_on_the_demo_shop(cli, tmp_path):
    assert cli("demo", "demo", "--customers", "300", "--seed", "3").exit_code in (0, 3)
    config = tmp_path / "demo" / "campaigns.yaml"
    db = tmp_path / "demo" / "retain.db"
    sent = cli("--db", str(db), "send", "--config", str(config), "--yes")
    assert sent.exit_code in (0, 3), sent.output
    result = cli("--db", str(db), "audit", "fairness", "--by", "city", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "Fairness by city" in result.output
    with Store.open(db) as store:
        customers = store.customer_count()
        contacted = store.conn.execute(
            "SELECT count(DISTINCT customer_ref) FROM sends WHERE state = 'sent'"
        ).fetchone()[0]
    data = json.loads(
        cli(
            "--db",
            str(db),
            "audit",
            "fairness",
            "--by",
            "city",
            "--config",
            str(config),
            "--format",
            "json",
        ).output
    )
    assert sum(g["customers"] for g in data["groups"]) == customers
    assert sum(round(g["contacted"] * g["customers"]) for g in data["groups"]) == contacted > 0
