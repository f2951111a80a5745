"""A small, safe filter language over customer features, evaluated on whole columns at once.

    days_since_last_order > 60 and orders >= 2 and total_spent >= 100
    not accepts_marketing or email in ["a@example.com", "b@example.com"]
    first_order_at >= "2025-01-01" and (orders = 1 or total_spent < 20)

Grammar (keywords are case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | comparison
    comparison := operand (OP operand | ["not"] "in" list)?     OP: = == != < <= > >=
    operand    := FIELD | NUMBER | STRING | true | false
    list       := "[" [literal ("," literal)*] "]"

A bare field is allowed only for true/false fields (``accepts_marketing``). A missing value
(a customer without orders has no ``last_order_at``) never satisfies a comparison. The text is
tokenised and parsed into a tree that is evaluated with pandas, never with ``eval``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from retain_cli.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

#: the fields a filter may use, with their kind: number, text, bool or date
FIELDS: dict[str, str] = {
    "customer_id": "text",
    "email": "text",
    "orders": "number",
    "total_spent": "number",
    "avg_order_value": "number",
    "first_order_at": "date",
    "last_order_at": "date",
    "days_since_last_order": "number",
    "days_since_first_order": "number",
    "accepts_marketing": "bool",
    "birthday": "text",
}

COMPARISONS = ("=", "==", "!=", "<", "<=", ">", ">=")
KEYWORDS = ("and", "or", "not", "in", "true", "false")

# --- tokens ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|==|!=|<|>|=)
  | (?P<punct>[()\[\],])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, keyword, op, punct, end
    text: str
    column: int  # 1-based


def tokenize(text: str, where: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            bad = text[position]
            if bad in "\"'":
                raise FilterSyntaxError(text, where, position + 1, "a closing quote")
            raise FilterSyntaxError(
                text, where, position + 1, f"a field, value or operator, found {bad!r}"
            )
        kind = match.lastgroup or ""
        value = match.group()
        if kind != "space":
            if kind == "name" and value.lower() in KEYWORDS:
                tokens.append(Token("keyword", value.lower(), position + 1))
            else:
                tokens.append(Token(kind, value, position + 1))
        position = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


class FilterSyntaxError(ConfigError):
    """A rule that cannot be read: says where, what was expected, and shows a caret."""

    def __init__(self, text: str, where: str, column: int, expected: str) -> None:
        self.column = column
        self.expected = expected
        caret = " " * (column - 1) + "^"
        super().__init__(
            f"{where}: invalid rule at column {column}: expected {expected}\n  {text}\n  {caret}"
        )


# --- the tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    column: int


@dataclass(frozen=True)
class Literal:
    value: Any  # float, str, bool, datetime
    column: int


@dataclass(frozen=True)
class Compare:
    left: Field | Literal
    op: str
    right: Field | Literal


@dataclass(frozen=True)
class InList:
    field: Field
    values: tuple[Any, ...]
    negated: bool


@dataclass(frozen=True)
class Truth:
    field: Field


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Compare | InList | Truth | Not | And | Or


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "end of rule"
    return repr(token.text)


class _Parser:
    def __init__(self, text: str, where: str, fields: dict[str, str]) -> None:
        self.text = text
        self.where = where
        self.fields = fields
        self.tokens = tokenize(text, where)
        self.index = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def fail(self, expected: str, token: Token | None = None) -> FilterSyntaxError:
        token = token or self.token
        return FilterSyntaxError(
            self.text, self.where, token.column, f"{expected}, found {_describe(token)}"
        )

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        token = self.token
        if token.kind == kind and (text is None or token.text == text):
            return self.advance()
        return None

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise self.fail("a condition such as 'orders >= 2'")
        node = self.expr()
        if self.token.kind != "end":
            raise self.fail("'and', 'or' or the end of the rule")
        return node

    def expr(self) -> Node:
        operands = [self.and_expr()]
        while self.accept("keyword", "or"):
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self) -> Node:
        operands = [self.not_expr()]
        while self.accept("keyword", "and"):
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def not_expr(self) -> Node:
        if self.accept("keyword", "not"):
            return Not(self.not_expr())
        if self.accept("punct", "("):
            node = self.expr()
            if not self.accept("punct", ")"):
                raise self.fail("')' or 'and'/'or'")
            return node
        return self.comparison()

    def operand(self, after: str | None = None) -> Field | Literal:
        token = self.token
        what = "a field, number, quoted text or true/false"
        if after:
            what += f" after {after!r}"
        if token.kind == "name":
            self.advance()
            if token.text not in self.fields:
                raise FilterSyntaxError(
                    self.text,
                    self.where,
                    token.column,
                    f"a known field, found unknown field {token.text!r} "
                    f"(fields: {', '.join(self.fields)})",
                )
            return Field(token.text, token.column)
        if token.kind in ("number", "string") or (
            token.kind == "keyword" and token.text in ("true", "false")
        ):
            return Literal(self.literal_value(self.advance()), token.column)
        raise self.fail(what)

    def literal_value(self, token: Token) -> Any:
        if token.kind == "number":
            return float(token.text)
        if token.kind == "string":
            body = token.text[1:-1]
            return re.sub(r"\\(.)", r"\1", body)
        return token.text == "true"

    def comparison(self) -> Node:
        left = self.operand()
        token = self.token
        if token.kind == "op":
            self.advance()
            right = self.operand(after=token.text)
            return self.check_compare(left, token, right)
        negated = False
        if token.kind == "keyword" and token.text == "not":
            following = self.tokens[self.index + 1]
            if following.kind == "keyword" and following.text == "in":
                self.advance()
                negated = True
                token = self.token
        if token.kind == "keyword" and token.text == "in":
            self.advance()
            if not isinstance(left, Field):
                raise self.fail("a field before 'in'", token)
            return InList(left, self.value_list(left), negated)
        if isinstance(left, Field) and self.fields[left.name] == "bool":
            return Truth(left)
        if isinstance(left, Field):
            raise self.fail(f"a comparison (= != < <= > >=) or 'in' after {left.name!r}")
        raise self.fail("a comparison (= != < <= > >=) after the value")

    def value_list(self, field: Field) -> tuple[Any, ...]:
        if not self.accept("punct", "["):
            raise self.fail("'[' to start the list of values")
        values: list[Any] = []
        if self.accept("punct", "]"):
            return ()
        while True:
            token = self.token
            literal = self.operand(after="[" if not values else ",")
            if not isinstance(literal, Literal):
                raise self.fail("a value (fields are not allowed in a list)", token)
            values.append(self.coerce(field, literal))
            if self.accept("punct", "]"):
                return tuple(values)
            if not self.accept("punct", ","):
                raise self.fail("',' or ']'")

    def coerce(self, field: Field, literal: Literal) -> Any:
        """The literal as the field's kind, or a clear error at the literal's column."""
        kind = self.fields[field.name]
        value = literal.value
        ok = {
            "number": isinstance(value, float),
            "text": isinstance(value, str),
            "bool": isinstance(value, bool),
            "date": isinstance(value, str),
        }[kind]
        if not ok:
            expected = {
                "number": "a number",
                "text": "quoted text",
                "bool": "true or false",
                "date": 'a quoted date such as "2025-01-31"',
            }[kind]
            raise FilterSyntaxError(
                self.text,
                self.where,
                literal.column,
                f"{expected} to compare with {field.name!r}, found {_show(value)}",
            )
        if kind == "date":
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise FilterSyntaxError(
                    self.text,
                    self.where,
                    literal.column,
                    f'a date such as "2025-01-31" for {field.name!r}, found {_show(value)}',
                ) from None
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return value

    def check_compare(self, left: Field | Literal, op: Token, right: Field | Literal) -> Compare:
        if isinstance(left, Literal) and isinstance(right, Literal):
            raise FilterSyntaxError(
                self.text, self.where, left.column, "a field on one side of the comparison"
            )
        if isinstance(left, Field) and isinstance(right, Field):
            kinds = (self.fields[left.name], self.fields[right.name])
            if kinds[0] != kinds[1]:
                raise FilterSyntaxError(
                    self.text,
                    self.where,
                    right.column,
                    f"a field of the same kind as {left.name!r} ({kinds[0]}), "
                    f"found {right.name!r} ({kinds[1]})",
                )
            return Compare(left, op.text, right)
        field, literal = (left, right) if isinstance(left, Field) else (right, left)
        assert isinstance(field, Field) and isinstance(literal, Literal)
        value = Literal(self.coerce(field, literal), literal.column)
        if self.fields[field.name] in ("bool", "text") and op.text not in ("=", "==", "!="):
            raise FilterSyntaxError(
                self.text,
                self.where,
                op.column,
                f"= or != for {field.name!r} ({self.fields[field.name]}), found {op.text!r}",
            )
        if isinstance(left, Field):
            return Compare(field, op.text, value)
        return Compare(value, op.text, field)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


# --- evaluation -----------------------------------------------------------------------------


def _fields_of(node: Node) -> set[str]:
    if isinstance(node, Compare):
        return {side.name for side in (node.left, node.right) if isinstance(side, Field)}
    if isinstance(node, InList | Truth):
        return {node.field.name}
    if isinstance(node, Not):
        return _fields_of(node.operand)
    return set().union(*(_fields_of(o) for o in node.operands))


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "==": "==", "!=": "!="}


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise ConfigError(f"the customer data has no field {name!r}")
    return frame[name]


def _compare(series: pd.Series, op: str, value: Any) -> pd.Series:
    import pandas as pd

    present = series.notna()
    if isinstance(value, pd.Series):
        present &= value.notna()
    if op in ("=", "=="):
        result = series == value
    elif op == "!=":
        result = series != value
    elif op == "<":
        result = series < value
    elif op == "<=":
        result = series <= value
    elif op == ">":
        result = series > value
    else:
        result = series >= value
    return (result.fillna(False).astype(bool)) & present


def _evaluate(node: Node, frame: pd.DataFrame) -> pd.Series:
    import pandas as pd

    if isinstance(node, Compare):
        if isinstance(node.left, Field):
            left = _prepared(_column(frame, node.left.name))
            right: Any = (
                _prepared(_column(frame, node.right.name))
                if isinstance(node.right, Field)
                else _value(node.right.value)
            )
            return _compare(left, node.op, right)
        assert isinstance(node.right, Field) and isinstance(node.left, Literal)
        return _compare(
            _prepared(_column(frame, node.right.name)), _FLIP[node.op], _value(node.left.value)
        )
    if isinstance(node, InList):
        series = _prepared(_column(frame, node.field.name))
        inside = series.isin([_value(v) for v in node.values]) & series.notna()
        return (~inside & series.notna()) if node.negated else inside
    if isinstance(node, Truth):
        series = _column(frame, node.field.name)
        return series.fillna(False).astype(bool)
    if isinstance(node, Not):
        return ~_evaluate(node.operand, frame)
    result = _evaluate(node.operands[0], frame)
    for operand in node.operands[1:]:
        other = _evaluate(operand, frame)
        result = (result & other) if isinstance(node, And) else (result | other)
    return pd.Series(result, index=frame.index, dtype=bool)


def _prepared(series: pd.Series) -> pd.Series:
    import pandas as pd

    if series.dtype == object or str(series.dtype) in ("boolean", "Int64"):
        return series
    if pd.api.types.is_datetime64_any_dtype(series) and series.dt.tz is None:
        return series.dt.tz_localize("UTC")
    return series


def _value(value: Any) -> Any:
    import pandas as pd

    if isinstance(value, datetime):
        return pd.Timestamp(value)
    return value


@dataclass(frozen=True)
class Filter:
    """A compiled rule. ``mask(frame)`` is a boolean Series over the frame's rows."""

    text: str
    where: str
    node: Node
    fields: frozenset[str]

    def mask(self, frame: pd.DataFrame) -> pd.Series:
        import pandas as pd

        if len(frame) == 0:
            return pd.Series(False, index=frame.index, dtype=bool)
        return _evaluate(self.node, frame).astype(bool)

    __call__ = mask
    evaluate = mask

    def never_matches(self) -> str | None:
        """Why no customer can ever match (contradictory conditions), else None."""
        return _never(self.node)


def compile_filter(text: str, *, where: str, fields: dict[str, str] | None = None) -> Filter:
    """Parse ``text`` into a :class:`Filter`; ``where`` names the file/segment for errors."""
    if not isinstance(text, str):
        raise ConfigError(f'{where}: the rule must be text, such as "orders >= 2"')
    node = _Parser(text, where, fields or FIELDS).parse()
    return Filter(text, where, node, frozenset(_fields_of(node)))


# --- static analysis: rules that can never match --------------------------------------------


@dataclass
class _Range:
    low: float = -math.inf
    low_open: bool = False
    high: float = math.inf
    high_open: bool = False
    equal: set[Any] | None = None  # the value must be one of these

    def add(self, op: str, value: Any) -> None:
        if op in ("=", "=="):
            self.restrict({value})
        elif op == ">":
            self.raise_low(value, True)
        elif op == ">=":
            self.raise_low(value, False)
        elif op == "<":
            self.lower_high(value, True)
        elif op == "<=":
            self.lower_high(value, False)

    def restrict(self, values: set[Any]) -> None:
        self.equal = set(values) if self.equal is None else self.equal & set(values)

    def raise_low(self, value: Any, open_: bool) -> None:
        if value > self.low or (value == self.low and open_):
            self.low, self.low_open = value, open_

    def lower_high(self, value: Any, open_: bool) -> None:
        if value < self.high or (value == self.high and open_):
            self.high, self.high_open = value, open_

    def inside(self, value: Any) -> bool:
        above = value > self.low or (value == self.low and not self.low_open)
        below = value < self.high or (value == self.high and not self.high_open)
        return above and below

    def empty(self) -> bool:
        if self.equal is not None:
            numeric = [v for v in self.equal if isinstance(v, float)]
            others = [v for v in self.equal if not isinstance(v, float)]
            return not (others or any(self.inside(v) for v in numeric))
        if self.low > self.high:
            return True
        return self.low == self.high and (self.low_open or self.high_open)


def _flatten_and(node: Node) -> list[Node]:
    if isinstance(node, And):
        return [leaf for operand in node.operands for leaf in _flatten_and(operand)]
    return [node]


def _never(node: Node) -> str | None:
    if isinstance(node, Or):
        reasons = [_never(o) for o in node.operands]
        return "; ".join(r for r in reasons if r) if all(reasons) else None
    if not isinstance(node, And):
        return _never_leaf(node)
    leaves = _flatten_and(node)
    for leaf in leaves:
        reason = _never(leaf) if isinstance(leaf, Or) else _never_leaf(leaf)
        if reason:
            return reason
    ranges: dict[str, _Range] = {}
    for leaf in leaves:
        if isinstance(leaf, Compare):
            if isinstance(leaf.left, Field) and isinstance(leaf.right, Literal):
                name, op, value = leaf.left.name, leaf.op, leaf.right.value
            elif isinstance(leaf.right, Field) and isinstance(leaf.left, Literal):
                name, op, value = leaf.right.name, _FLIP[leaf.op], leaf.left.value
            else:
                continue
            ranges.setdefault(name, _Range()).add(op, _orderable(value))
        elif isinstance(leaf, InList) and not leaf.negated:
            values = {_orderable(v) for v in leaf.values}
            ranges.setdefault(leaf.field.name, _Range()).restrict(values)
        elif isinstance(leaf, Truth):
            ranges.setdefault(leaf.field.name, _Range()).restrict({True})
    for name, allowed in ranges.items():
        if allowed.empty():
            return f"the conditions on {name!r} contradict each other"
    return None


def _orderable(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else value


def _never_leaf(node: Node) -> str | None:
    if isinstance(node, InList) and not node.negated and not node.values:
        return f"{node.field.name!r} in [] matches nothing"
    return None


def describe_fields(fields: Sequence[str] | None = None) -> str:
    names = fields or list(FIELDS)
    return ", ".join(f"{n} ({FIELDS.get(n, '?')})" for n in names)
