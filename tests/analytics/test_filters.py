"""The filter language: parsing, vectorised evaluation, errors with a caret, never-matching."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retain_cli.analytics.filters import FIELDS, compile_filter
from retain_cli.errors import ConfigError

WHERE = "segments.yaml, segment 'x'"


@pytest.fixture
def frame() -> pd.DataFrame:
    nat = pd.NaT
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "email": ["ann@example.com", "bob@example.com", "cat@example.com", None],
            "orders": [3, 1, 0, 7],
            "total_spent": [120.0, 15.5, 0.0, 700.0],
            "avg_order_value": [40.0, 15.5, math.nan, 100.0],
            "first_order_at": pd.to_datetime(
                ["2024-01-01", "2025-02-01", nat, "2023-06-01"], utc=True
            ),
            "last_order_at": pd.to_datetime(
                ["2025-01-01", "2025-02-01", nat, "2025-03-01"], utc=True
            ),
            "days_since_last_order": [90.0, 59.0, math.nan, 30.0],
            "days_since_first_order": [456.0, 59.0, math.nan, 700.0],
            "accepts_marketing": pd.array([True, False, None, True], dtype="boolean"),
            "birthday": ["1990-05-01", None, "--06-23", None],
        },
        index=pd.Index([1, 2, 3, 4], name="customer_ref"),
    )


def matching(text: str, frame: pd.DataFrame) -> list[int]:
    rule = compile_filter(text, where=WHERE)
    mask = rule.mask(frame)
    assert mask.dtype == bool and list(mask.index) == list(frame.index)
    return [int(i) for i in frame.index[mask]]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("days_since_last_order > 60 and orders >= 2 and total_spent >= 100", [1]),
        ("orders = 1 or orders == 7", [2, 4]),
        ("orders != 3", [2, 3, 4]),
        ("not orders >= 1", [3]),
        # and binds tighter than or; parentheses change it
        ("orders = 0 or orders = 1 and total_spent > 100", [3]),
        ("(orders = 0 or orders = 1) and total_spent < 100", [2, 3]),
        ("orders in [1, 7]", [2, 4]),
        ("orders not in [1, 7]", [1, 3]),
        ("email = 'bob@example.com'", [2]),
        ('email in ["ann@example.com", "cat@example.com"]', [1, 3]),
        ("accepts_marketing", [1, 4]),
        ("accepts_marketing = false", [2]),
        ("not accepts_marketing", [2, 3]),
        ('first_order_at >= "2024-01-01"', [1, 2]),
        ('last_order_at < "2025-02-01T00:00:00Z"', [1]),
        ("avg_order_value >= total_spent", [2]),
        ("100 <= total_spent", [1, 4]),
        # a missing value never satisfies a comparison (cat has no orders)
        ("days_since_last_order != 90", [2, 4]),
        ("days_since_last_order < 1000", [1, 2, 4]),
        ("birthday = '--06-23'", [3]),
        ("orders >= 1 AND NOT orders = 7", [1, 2]),  # keywords in any case
        ("orders >= 1.5e0", [1, 4]),
        ("total_spent > -1", [1, 2, 3, 4]),
    ],
)
def test_rules_select_the_right_customers(frame, text, expected):
    assert matching(text, frame) == expected


def test_fields_are_reported_and_filter_is_callable(frame):
    rule = compile_filter("orders > 1 and (email = 'x' or not accepts_marketing)", where=WHERE)
    assert rule.fields == frozenset({"orders", "email", "accepts_marketing"})
    assert list(rule(frame)) == list(rule.mask(frame))
    assert rule.mask(frame.iloc[0:0]).empty


@pytest.mark.parametrize(
    "text,column,expected",
    [
        ("orders >= ", 11, "a field, number, quoted text or true/false after '>=', found end"),
        ("orders >> 2", 9, "a field, number, quoted text or true/false after '>'"),
        ("and orders > 1", 1, "a field, number, quoted text or true/false, found 'and'"),
        ("orders > 1 orders", 12, "'and', 'or' or the end of the rule, found 'orders'"),
        ("(orders > 1", 12, "')' or 'and'/'or', found end of rule"),
        ("orders > 'many'", 10, "a number to compare with 'orders', found 'many'"),
        ("email > 'a'", 7, "= or != for 'email' (text), found '>'"),
        ("email = 3", 9, "quoted text to compare with 'email', found 3"),
        ("accepts_marketing = 1", 21, "true or false to compare with 'accepts_marketing'"),
        ("first_order_at > 'soon'", 18, "a date such as \"2025-01-31\" for 'first_order_at'"),
        ("orders", 7, "a comparison (= != < <= > >=) or 'in' after 'orders', found end"),
        ("email = 'open", 9, "a closing quote"),
        ("orders ~ 2", 8, "a field, value or operator, found '~'"),
        ("orders in 1, 2", 11, "'[' to start the list of values, found '1'"),
        ("orders in [1 2]", 14, "',' or ']', found '2'"),
        ("orders in [total_spent]", 12, "a value (fields are not allowed in a list)"),
        ("1 < 2", 1, "a field on one side of the comparison"),
        ("orders = email", 10, "a field of the same kind as 'orders' (number)"),
        ("", 1, "a condition such as 'orders >= 2', found end of rule"),
    ],
)
def test_errors_name_the_place_and_what_was_expected(text, column, expected):
    with pytest.raises(ConfigError) as caught:
        compile_filter(text, where=WHERE)
    message = str(caught.value)
    first, rule_line, caret_line = message.split("\n")
    assert first.startswith(f"{WHERE}: invalid rule at column {column}: expected {expected}")
    assert rule_line == f"  {text}"
    assert caret_line == "  " + " " * (column - 1) + "^"


def test_unknown_field_lists_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        compile_filter("orders > 1 and spend > 100", where=WHERE)
    assert "column 16: expected a known field, found unknown field 'spend'" in str(caught.value)
    assert "(fields: " + ", ".join(FIELDS) + ")" in str(caught.value)


def test_a_rule_that_is_not_text_is_refused():
    with pytest.raises(ConfigError, match="the rule must be text"):
        compile_filter(5, where=WHERE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text,reason",
    [
        ("orders > 5 and orders < 3", "the conditions on 'orders' contradict each other"),
        ("orders >= 5 and orders < 5", "the conditions on 'orders' contradict each other"),
        ("orders = 2 and orders = 3", "the conditions on 'orders' contradict each other"),
        ("orders in [1, 2] and orders > 2", "the conditions on 'orders' contradict each other"),
        ("email = 'a' and email = 'b'", "the conditions on 'email' contradict each other"),
        ("accepts_marketing and accepts_marketing = false", "the conditions on 'accepts"),
        (
            'first_order_at > "2025-01-01" and first_order_at < "2024-01-01"',
            "the conditions on 'first_order_at' contradict each other",
        ),
        ("(orders > 5 and orders < 3) or (total_spent < 0 and total_spent > 1)", "'orders'"),
        ("orders in []", "'orders' in [] matches nothing"),
        ("total_spent > 1 and (orders > 5 and (orders < 3))", "'orders'"),
        ("1 > orders and orders > 1", "'orders'"),
    ],
)
def test_contradictions_are_found(text, reason):
    found = compile_filter(text, where=WHERE).never_matches()
    assert found is not None and reason in found


@pytest.mark.parametrize(
    "text",
    [
        "orders >= 5 and orders <= 5",
        "orders > 5 or orders < 3",
        "orders in [1, 2] and orders >= 2",
        "not (orders > 5 and orders < 3)",
        "orders != 3 and orders = 4",
        "(orders > 5 and orders < 3) or total_spent > 1",
    ],
)
def test_satisfiable_rules_are_not_flagged(text):
    assert compile_filter(text, where=WHERE).never_matches() is None


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="orders totl_pn><=!()[],'\"0123456789. aeimfx", max_size=40))
def test_any_text_either_compiles_or_fails_with_a_config_error(text):
    try:
        compile_filter(text, where=WHERE)
    except ConfigError as exc:
        assert "invalid rule at column" in str(exc) or "the rule must be text" in str(exc)


_ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
_leaf = st.builds(lambda op, n: f"orders {op} {n}", _ops, st.integers(0, 6)) | st.builds(
    lambda op, n: f"total_spent {op} {n}", _ops, st.integers(0, 6)
)
_rule = st.recursive(
    _leaf,
    lambda inner: (
        st.builds(lambda a, b: f"({a} and {b})", inner, inner)
        | st.builds(lambda a, b: f"({a} or {b})", inner, inner)
    ),
    max_leaves=6,
)


@settings(max_examples=200, deadline=None)
@given(_rule)
def test_never_matches_is_never_wrong(text):
    """A rule flagged as never matching matches no customer on a grid of all values."""
    values = [x / 2 for x in range(-2, 16)]
    grid = pd.DataFrame([(o, t) for o in values for t in values], columns=["orders", "total_spent"])
    rule = compile_filter(text, where=WHERE)
    if rule.never_matches():
        assert not rule.mask(grid).any()
