"""``retain import orders``: each order's currency (a column, a code or symbol with the
amount, --currency, the shop's), ``retain config`` for the shop's, and ``retain status``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from csvfiles import rows, write

FORMATS = Path(__file__).parent / "data"

NO_CURRENCY = (
    "the amounts name no currency (e.g. '19.99' on line 2) and the shop has none set; nothing "
    "was imported. Pass --currency with the code of the file's currency (e.g. --currency "
    "EUR), or set the shop's once: retain config set currency EUR"
)


def test_a_file_in_no_currency_with_none_set_fails_and_names_the_fix(cli, db_path):
    source = FORMATS / "generic_orders.csv"
    result = cli("import", "orders", str(source))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {source}: {NO_CURRENCY}\n"
    assert not db_path.exists()  # a failed first import leaves no database behind
    ok = cli("import", "orders", str(source), "--currency", "eur")
    assert ok.exit_code == 0, ok.output
    assert rows(db_path, "SELECT order_id, currency, total_minor FROM orders") == [
        ("A-1001", "EUR", 1999)
    ]


def test_codes_and_symbols_with_the_amounts_are_their_currency(cli, db_path, tmp_path):
    dots = write(
        tmp_path / "dots.csv",
        "order_id,email,date,amount\n"
        "D1,a@x.com,2025-03-01,€12.50\n"
        "D2,a@x.com,2025-03-02,$12.50\n"
        "D3,b@x.com,2025-03-03,12.50 USD\n"
        "D4,b@x.com,2025-03-04,¥500\n"
        "D5,c@x.com,2025-03-05,GBP 7\n"
        "D6,c@x.com,2025-03-06,-\n",
    )
    result = cli("import", "orders", str(dots), "--format", "json")
    assert result.exit_code == 3  # D6 has no amount
    commas = write(
        tmp_path / "commas.csv",
        "order_id;email;date;amount\n"
        "C1;a@x.com;2025-03-07;12,50 EUR\n"
        "C2;a@x.com;2025-03-08;12,50 €\n"
        "C3;b@x.com;2025-03-09;1.204,00 €\n",
    )
    assert cli("import", "orders", str(commas), "--decimal-comma").exit_code == 0
    assert rows(db_path, "SELECT order_id, currency, total_minor FROM orders ORDER BY 1") == [
        ("C1", "EUR", 1250),
        ("C2", "EUR", 1250),
        ("C3", "EUR", 120400),
        ("D1", "EUR", 1250),
        ("D2", "USD", 1250),
        ("D3", "USD", 1250),
        ("D4", "JPY", 500),  # no minor unit: 500 yen
        ("D5", "GBP", 700),
    ]


def test_a_dollar_is_the_shops_dollar_and_kr_needs_the_shops_currency(cli, db_path, tmp_path):
    source = write(
        tmp_path / "o.csv",
        "order_id,email,date,amount\nK1,a@x.com,2025-03-01,$4.20\nK2,a@x.com,2025-03-02,kr 99\n",
    )
    result = cli("import", "orders", str(source), "--format", "json")
    assert result.exit_code == 3
    with open(tmp_path / "o.csv.rejects.csv") as handle:
        assert handle.read().splitlines()[1] == (
            "K2,a@x.com,2025-03-02,kr 99,3,\"amount: 'kr' in amount 'kr 99' may be DKK, ISK, "
            "NOK, SEK; pass --currency (or set the shop's: retain config set currency CODE)\""
        )
    assert rows(db_path, "SELECT order_id, currency FROM orders") == [("K1", "USD")]
    assert cli("config", "set", "currency", "CAD").exit_code == 0
    again = cli("import", "orders", str(source), "--currency", "SEK")
    assert again.exit_code == 0, again.output
    # --currency SEK covers 'kr'; '$' is the shop's own dollar (CAD) only when it is one
    assert rows(db_path, "SELECT order_id, currency, total_minor FROM orders ORDER BY 1") == [
        ("K1", "USD", 420),
        ("K2", "SEK", 9900),
    ]
    write(source, "order_id,email,date,amount\nK3,a@x.com,2025-03-03,$4.20\n")
    assert cli("import", "orders", str(source)).exit_code == 0
    assert rows(db_path, "SELECT currency FROM orders WHERE order_id = 'K3'") == [("CAD",)]


def test_the_currency_column_comes_first_and_must_agree_with_the_amount(cli, db_path, tmp_path):
    source = write(
        tmp_path / "o.csv",
        "order_id,email,date,amount,currency\n"
        "P1,a@x.com,2025-03-01,5.00,CHF\n"
        "P2,a@x.com,2025-03-02,€5.00,USD\n"
        "P3,a@x.com,2025-03-03,€5.00,\n"
        "P4,a@x.com,2025-03-04,5.00,\n",
    )
    result = cli("import", "orders", str(source), "--currency", "GBP")
    assert result.exit_code == 3
    with open(tmp_path / "o.csv.rejects.csv") as handle:
        assert handle.read().splitlines()[1:] == [
            "P2,a@x.com,2025-03-02,€5.00,USD,3,amount: amount '€5.00' is in EUR but column "
            "'currency' says USD"
        ]
    assert rows(db_path, "SELECT order_id, currency FROM orders ORDER BY 1") == [
        ("P1", "CHF"),
        ("P3", "EUR"),
        ("P4", "GBP"),
    ]


def test_the_shops_currency_is_set_once_and_used_for_files_with_none(cli, db_path, tmp_path):
    # orders stored without a currency before retain asked for one
    source = FORMATS / "generic_orders.csv"
    assert cli("import", "orders", str(source), "--currency", "USD").exit_code == 0
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE orders SET currency = NULL")
    status = cli("status", "--format", "json")
    assert json.loads(status.stdout)["currency"] == (
        "unknown (set it: retain config set currency CODE)"
    )
    result = cli("config", "set", "currency", "eur")
    assert result.exit_code == 0
    assert result.stdout == "currency = EUR\n1 order(s) stored without a currency are now in EUR\n"
    assert rows(db_path, "SELECT key, value FROM settings") == [("currency", "EUR")]
    assert rows(db_path, "SELECT currency FROM orders") == [("EUR",)]
    assert json.loads(cli("status", "--format", "json").stdout)["currency"] == "EUR"
    source = write(tmp_path / "o.csv", "order_id,email,date,amount\nS1,a@x.com,2025-03-01,3\n")
    assert cli("import", "orders", str(source)).exit_code == 0
    assert cli("import", "orders", str(source), "--currency", "CHF").exit_code == 0  # overrides
    assert rows(db_path, "SELECT order_id, currency FROM orders ORDER BY 1") == [
        ("A-1001", "EUR"),
        ("S1", "CHF"),
    ]
    changed = cli("config", "set", "currency", "GBP")
    assert changed.stdout == "currency = GBP (was EUR)\n"
    shown = cli("config", "show", "--format", "json")
    assert json.loads(shown.stdout) == [
        {
            "setting": "currency",
            "value": "GBP",
            "meaning": "the shop's currency (ISO 4217 code, e.g. EUR), for amounts that name none",
        },
        {
            "setting": "program_holdout",
            "value": None,
            "meaning": "the share of customers kept out of every marketing campaign, e.g. 5% "
            "('retain report program' compares them with everyone else)",
        },
    ]
    assert cli("config", "unset", "currency").stdout == "currency unset\n"
    assert rows(db_path, "SELECT count(*) FROM settings") == [(0,)]


def test_a_wrong_currency_or_setting_is_a_usage_error(cli, db_path):
    bad = cli("import", "orders", str(FORMATS / "generic_orders.csv"), "--currency", "EUE")
    assert bad.exit_code == 2
    assert bad.stderr == (
        "Error: --currency: 'EUE' is not a currency code; use one such as EUR, USD or GBP\n"
    )
    assert cli("config", "set", "currency", "euros").stderr == (
        "Error: currency: 'euros' is not a currency code; use one such as EUR, USD or GBP\n"
    )
    unknown = cli("config", "set", "colour", "blue")
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        "Error: unknown setting 'colour'; the settings are: currency, program_holdout\n"
    )
    customers = cli(
        "import", "customers", str(FORMATS / "shopify_customers.csv"), "--currency", "EUR"
    )
    assert customers.exit_code == 2  # (customers imports have no such option)
    assert rows(db_path, "SELECT count(*) FROM settings") == [(0,)]


def test_status_never_shows_a_blank_currency(cli, db_path):
    assert cli("config", "set", "currency", "EUR").exit_code == 0  # (creates the database)
    shown = json.loads(cli("status", "--format", "json").stdout)
    assert (shown["orders"], shown["currency"]) == (0, "EUR")
    cli("config", "unset", "currency")
    shown = json.loads(cli("status", "--format", "json").stdout)
    assert shown["currency"] == "unknown (set it: retain config set currency CODE)"
