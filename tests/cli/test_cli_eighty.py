"""Every command that prints a table stays readable on an 80-column terminal, on the demo
shop: no line is wider than the terminal, and every identifying value (an id, an e-mail
address, a name) that ``--format json`` gives is in the table whole, on one line, unless its
column is named as hidden under the table (``--wide`` shows it)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from retain_cli.cli.main import app

Values = list[tuple[str, str]]  # (column, value)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`retain demo shop` and one send (once for the module)."""
    base = tmp_path_factory.mktemp("eighty")
    folder = base / "shop"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RETAIN_DB", str(folder / "retain.db"))
        patch.setenv("RETAIN_CONFIG", str(folder / "campaigns.yaml"))
        patch.setenv("HOME", str(base))
        patch.chdir(base)
        for args in (["demo", "shop"], ["send", "--yes"]):
            result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
            assert result.exit_code == 0, result.output
    yield folder


def run(folder: Path, columns: int, *args: str) -> Any:
    env = {
        "RETAIN_DB": str(folder / "retain.db"),
        "RETAIN_CONFIG": str(folder / "campaigns.yaml"),
        "COLUMNS": str(columns),
    }
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(cwd)


def pick(rows: list[dict[str, Any]], *columns: str) -> Values:
    return [(c, str(r[c])) for r in rows for c in columns if r.get(c) not in (None, "")]


def first_customer(folder: Path) -> str:
    rows = json.loads(run(folder, 200, "customers", "list", "--format", "json").stdout)
    return str(rows[0]["email"])


# (command, how to find its identifying values in the json it prints)
COMMANDS: list[tuple[tuple[str, ...], Callable[[Any], Values]]] = [
    (("status",), lambda d: pick(d["recent_imports"], "file_name")),
    (
        ("customers", "list"),
        lambda d: pick(d[:100], "customer_id", "email", "first_name", "last_name"),
    ),
    (("customers", "show", "{customer}"), lambda d: pick(d["orders_history"], "order_id")),
    (("predict",), lambda d: pick(d[:100], "customer_id", "email", "churn_risk")),
    (("products",), lambda d: pick(d, "product")),
    (("segments",), lambda d: pick(d, "segment")),
    (("segments", "--scheme", "lifecycle"), lambda d: pick(d, "segment")),
    (
        ("segments", "moves", "--from", "{before}", "--to", "{today}"),
        lambda d: pick(d, "from_segment", "to_segment"),
    ),
    (("segments", "check", "--scheme", "rfm"), lambda d: pick(d, "segment")),
    (("metrics",), lambda d: pick(d["metrics"], "metric")),
    (("cohorts", "--last", "6"), lambda d: pick(d, "cohort")),
    (("campaigns", "list"), lambda d: pick(d, "name")),
    (("campaigns", "check"), lambda d: pick(d, "campaign")),
    (
        ("plan", "--limit", "100"),
        lambda d: pick(d["items"][:100], "campaign", "customer_id", "email"),
    ),
    (("sends",), lambda d: pick(d, "campaign", "email")),
    (("simulate", "--days", "3"), lambda d: pick(d, "night")),
    (("report",), lambda d: pick(d, "campaign")),
    (("import", "folder", "exports"), lambda d: pick(d, "file")),
    (("suppressions", "list"), lambda d: pick(d, "email")),
    (("tasks",), lambda d: pick(d, "who", "email")),
]


def hidden_columns(text: str) -> set[str]:
    """The columns the note under a table names as hidden."""
    flat = " ".join(text.split())
    return {
        name.strip()
        for found in re.findall(r"columns? hidden \(([^)]*)\)", flat)
        for name in found.split(",")
    }


@pytest.mark.parametrize("command,values", COMMANDS, ids=[" ".join(c) for c, _ in COMMANDS])
def test_every_table_keeps_identifying_values_whole_at_80_columns(demo, command, values):
    from datetime import date, timedelta

    today = date.today()
    fill = {
        "customer": first_customer(demo) if "{customer}" in command else "",
        "today": today.isoformat(),
        "before": (today - timedelta(days=91)).isoformat(),
    }
    args = [part.format(**fill) for part in command]
    data = run(demo, 200, *args, "--format", "json")
    assert data.exit_code in (0, 3), data.output
    wanted = values(json.loads(data.stdout))
    assert wanted, f"retain {' '.join(args)} --format json gave nothing to look for"
    table = run(demo, 80, *args)
    assert table.exit_code in (0, 3), table.output
    lines = table.stdout.splitlines()
    too_wide = [line for line in lines if cell_len(line) > 80]
    assert not too_wide, f"retain {' '.join(args)} is wider than 80 columns:\n" + "\n".join(
        too_wide
    )
    hidden = hidden_columns(table.stdout)
    cut = sorted(
        {(c, v) for c, v in wanted if c not in hidden and not any(v in line for line in lines)}
    )
    assert not cut, f"retain {' '.join(args)} at 80 columns cuts or wraps {cut}:\n" + "\n".join(
        lines[:40]
    )


def test_predict_keeps_customer_email_and_risk_on_one_line_at_80_columns(demo):
    rows = json.loads(run(demo, 200, "predict", "--format", "json").stdout)[:100]
    text = run(demo, 80, "predict")
    assert text.exit_code == 0
    lines = text.stdout.splitlines()
    for row in rows:
        (line,) = [line for line in lines if f" {row['email']} " in line]
        assert f" {row['customer_id']} " in line
        assert f" {row['churn_risk']} " in line
    assert "--wide shows all" in " ".join(text.stdout.split())


def test_wide_shows_every_column_whatever_the_width(demo):
    narrow = run(demo, 80, "customers", "list", "--limit", "5")
    assert "3 columns hidden" in " ".join(narrow.stdout.split()) or hidden_columns(narrow.stdout)
    wide = run(demo, 80, "customers", "list", "--limit", "5", "--wide")
    assert wide.exit_code == 0
    header = next(line for line in wide.stdout.splitlines() if "customer_id" in line)
    for column in ("customer_id", "email", "first_name", "last_name", "first_order_at"):
        assert column in header
    assert max(cell_len(line) for line in wide.stdout.splitlines()) > 80
    assert "hidden" not in wide.stdout
    rows = json.loads(run(demo, 200, "customers", "list", "--limit", "5", "-f", "json").stdout)
    for row in rows:
        line = next(line for line in wide.stdout.splitlines() if row["email"] in line)
        assert str(row["customer_id"]) in line
        assert row["first_order_at"][:10] in line


def test_sends_and_customers_list_wrap_nothing_at_100_and_120_columns(demo):
    rows = json.loads(run(demo, 200, "sends", "--format", "json").stdout)
    for columns in (100, 120):
        text = run(demo, columns, "sends").stdout
        assert hidden_columns(text) <= {"step", "attempts", "error"}  # error: empty here
        lines = text.splitlines()
        for row in rows:
            found = [line for line in lines if f" {row['email']} " in line]
            found = [line for line in found if f" {row['campaign']} " in line]
            assert found, row
            if row["sent_at"]:
                when = row["sent_at"][:16].replace("T", " ")
                assert any(when in line for line in found), row
        listed = run(demo, columns, "customers", "list").stdout.splitlines()
        people = json.loads(run(demo, 200, "customers", "list", "-f", "json").stdout)[:100]
        for person in people:
            assert any(person["email"] in line for line in listed)


def test_segments_moves_numbers_its_columns_when_the_names_do_not_fit(demo):
    from datetime import date, timedelta

    today = date.today()
    args = ["segments", "moves", "--from", (today - timedelta(days=91)).isoformat()]
    args += ["--to", today.isoformat()]
    narrow = run(demo, 80, *args).stdout
    assert "Columns are numbered as the rows; --wide shows the names." in narrow
    assert re.search(r"^\s+1 champions\s", narrow, re.M)
    assert "…" not in narrow
    wide = run(demo, 80, *args, "--wide").stdout
    header = next(line for line in wide.splitlines() if "to" in line and "champions" in line)
    assert "potential_loyalists" in header
    lifecycle = run(demo, 80, *args, "--scheme", "lifecycle").stdout
    assert "numbered" not in lifecycle  # six names fit side by side


def test_customers_show_gives_each_order_one_line_at_80_columns(demo):
    customer = first_customer(demo)
    profile = json.loads(run(demo, 200, "customers", "show", customer, "-f", "json").stdout)
    text = run(demo, 80, "customers", "show", customer).stdout
    lines = [line for line in text.splitlines() if line.startswith("│ #")]
    assert len(lines) == len(profile["orders_history"]) > 5
    for order, line in zip(profile["orders_history"], lines, strict=True):
        assert line.startswith(f"│ {order['order_id']} ")
        assert order["ordered_at"][:10] in line
        first_item = order["items"].split(",")[0]
        assert line.split("│")[4].strip().rstrip("…") in order["items"]
        assert first_item[:10] in line
