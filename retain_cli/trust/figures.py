"""The figures behind one customer's segments and prediction, for ``retain explain CUSTOMER``.

Every figure comes from the functions the segments and predict commands use (quintile
scores, the RFM grid, the lifecycle thresholds, the filter language, BG/NBD and Gamma-Gamma),
evaluated over the whole shop and read at the customer's place, so what is shown is what
those commands compute. On top of that: the values and the score ranges that gave each
score, the first clause of a rule that failed, and what an order today would change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from retain_cli.analytics.features import Core
    from retain_cli.analytics.filters import Filter, Node
    from retain_cli.analytics.predict import ModelFit, Summary
    from retain_cli.store import Store

HORIZON_DAYS = 90.0
FIT_CACHE = "trust:predict_fit"
SUMMARY_CACHE = "trust:predict_summary"


# --- rules: the first clause that failed ------------------------------------------------------


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, datetime):
        return f'"{value.date().isoformat()}"'
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def clause_text(node: Node) -> str:
    """A rule's tree written back as text (``orders >= 2``)."""
    from retain_cli.analytics.filters import And, Compare, Field, InList, Not, Truth

    if isinstance(node, Compare):
        sides = [
            s.name if isinstance(s, Field) else _literal(s.value) for s in (node.left, node.right)
        ]
        return f"{sides[0]} {node.op} {sides[1]}"
    if isinstance(node, InList):
        values = ", ".join(_literal(v) for v in node.values)
        return f"{node.field.name} {'not in' if node.negated else 'in'} [{values}]"
    if isinstance(node, Truth):
        return node.field.name
    if isinstance(node, Not):
        return f"not ({clause_text(node.operand)})"
    joiner = " and " if isinstance(node, And) else " or "
    return joiner.join(f"({clause_text(o)})" for o in node.operands)


def _fields(node: Node) -> list[str]:
    from retain_cli.analytics.filters import Compare, Field, InList, Not, Truth

    if isinstance(node, Compare):
        return [s.name for s in (node.left, node.right) if isinstance(s, Field)]
    if isinstance(node, InList | Truth):
        return [node.field.name]
    inner = [node.operand] if isinstance(node, Not) else list(node.operands)
    return [name for child in inner for name in _fields(child)]


def _holds(node: Node, frame: pd.DataFrame) -> bool:
    from retain_cli.analytics.filters import Filter

    return bool(Filter("", "", node, frozenset()).mask(frame).iloc[0])


def value_text(frame: pd.DataFrame, name: str) -> str:
    import pandas as pd

    value = frame.iloc[0][name] if name in frame.columns else None
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return f"{name}: no value"
    if isinstance(value, pd.Timestamp):
        return f"{name} = {value.date().isoformat()}"
    if isinstance(value, float) and value.is_integer():
        return f"{name} = {int(value)}"
    return f"{name} = {_literal(value.item() if hasattr(value, 'item') else value)}"


def first_failure(rule: Filter, frame: pd.DataFrame) -> str | None:
    """For a one-row frame: None when ``rule`` matches, else the first clause that failed
    with the customer's values (``orders >= 2 failed (orders = 1)``)."""
    from retain_cli.analytics.filters import And

    def failing(node: Node) -> Node | None:
        if _holds(node, frame):
            return None
        if isinstance(node, And):
            for operand in node.operands:
                found = failing(operand)
                if found is not None:
                    return found
        return node

    node = failing(rule.node)
    if node is None:
        return None
    values = "; ".join(value_text(frame, n) for n in dict.fromkeys(_fields(node)))
    return f"{clause_text(node)} failed" + (f" ({values})" if values else "")


# --- RFM ---------------------------------------------------------------------------------------


def _ranges(values: np.ndarray, scores: np.ndarray) -> dict[int, tuple[float, float]]:
    """score -> (lowest, highest value) among the customers with that score."""
    import numpy as np

    out = {}
    for score in range(1, 6):
        chosen = values[scores == score]
        if len(chosen):
            out[score] = (float(np.min(chosen)), float(np.max(chosen)))
    return out


def _score_after(values: np.ndarray, own: float, new: float) -> int:
    """The quintile score a value of ``new`` would get, the others' values unchanged."""
    import numpy as np

    below = int(np.count_nonzero(values < new)) - (1 if own < new else 0)
    return int(min(below * 5 // len(values) + 1, 5))


def _span(low: float, high: float, unit: str, digits: int = 0) -> str:
    def fmt(x: float) -> str:
        return f"{x:,.{digits}f}"

    if low == high:
        return f"{fmt(low)} {unit.removesuffix('s') if low == 1 and unit == 'orders' else unit}"
    return f"{fmt(low)}-{fmt(high)} {unit}"


@dataclass
class Rfm:
    scores: tuple[int, int, int]
    segment: str
    values: dict[str, str]
    ranges: dict[str, str]
    change: list[str] = field(default_factory=list)


def rfm_of(core: Core, index: int) -> Rfm:
    """The customer's R, F, M with their values, each score's value range, the segment,
    and what an order today (or none) would change."""
    import numpy as np

    from retain_cli.analytics.segments import fm_score, rfm_scores, rfm_segment

    days = core.days_since_last
    orders = core.order_count
    total = np.round(np.asarray(core.total, dtype=np.float64), 2)
    r_all, f_all, m_all = rfm_scores(days, orders, total)
    r, f, m = int(r_all[index]), int(f_all[index]), int(m_all[index])
    segment = rfm_segment(r, f, m)
    day, count, spent = int(days[index]), int(orders[index]), float(total[index])
    r_ranges = _ranges(days.astype(np.float64), r_all)
    f_ranges = _ranges(orders.astype(np.float64), f_all)
    m_ranges = _ranges(total, m_all)

    def listing(ranges: dict[int, tuple[float, float]], unit: str, digits: int = 0) -> str:
        return "; ".join(
            f"{s}: {_span(lo, hi, unit, digits)}" for s, (lo, hi) in sorted(ranges.items())
        )

    result = Rfm(
        (r, f, m),
        segment,
        {
            "R": f"{r} (last order {day} days ago)",
            "F": f"{f} ({count} order{'s' if count != 1 else ''})",
            "M": f"{m} ({spent:,.2f} spent)",
            "FM": f"{fm_score(f, m)} = ({f} + {m}) / 2, rounded half up",
        },
        {
            "R": listing(r_ranges, "days ago"),
            "F": listing(f_ranges, "orders"),
            "M": listing(m_ranges, "spent", 2),
        },
    )
    average = spent / count if count else 0.0
    f_next = _score_after(orders.astype(np.float64), float(count), float(count + 1))
    m_next = _score_after(total, spent, round(spent + average, 2))
    after = rfm_segment(5, f_next, m_next)
    result.change.append(
        f"an order today (about {average:,.2f}): R 5, F {f_next}, M {m_next}: {after}"
    )
    buyers = len(days)
    result.change.append(
        f"scores are ranks among the {buyers:,} customers with orders: they move when this "
        "customer or the others order, not with the passing days alone"
    )
    return result


# --- lifecycle ---------------------------------------------------------------------------------


@dataclass
class Lifecycle:
    segment: str
    gap: str
    reason: str
    change: list[str] = field(default_factory=list)


def lifecycle_of(core: Core, index: int) -> Lifecycle:
    from retain_cli.analytics.segments import LIFECYCLE_SEGMENTS, lifecycle_thresholds

    t = lifecycle_thresholds(core.orders)
    g = t.gap
    last, first = int(core.days_since_last[index]), int(core.days_since_first[index])
    today = core.as_of.date()
    bounds = [(g, "active"), (2 * g, "at_risk"), (4 * g, "lapsing")]
    if first <= g:
        name = "new"
        reason = f"first order {first} days ago, within G = {g} days"
        nxt = today + timedelta(days=g - first + 1)
        after = next((n for b, n in bounds if last + (g - first + 1) <= b), "lost")
        change = [f"becomes {after} on {nxt.isoformat()} (first order more than G days ago)"]
    else:
        code = next((i + 1 for i, (b, _) in enumerate(bounds) if last <= b), 4)
        name = LIFECYCLE_SEGMENTS[code]
        limits = {"active": f"<= {g}", "at_risk": f"<= {2 * g}", "lapsing": f"<= {4 * g}"}
        reason = f"last order {last} days ago ({name}: {limits.get(name, f'> {4 * g}')} days)"
        change = []
        if code < 4:
            bound, _ = bounds[code - 1]
            later = LIFECYCLE_SEGMENTS[code + 1]
            change.append(
                f"no order: {later} from {(today + timedelta(days=bound - last + 1)).isoformat()}"
            )
        if name != "active":
            change.append("an order today: active")
    return Lifecycle(name, t.describe(), reason, change)


# --- the prediction ----------------------------------------------------------------------------


@dataclass
class Prediction:
    method: str
    inputs: dict[str, float]
    p_alive: float
    expected_orders: float
    predicted_clv: float
    churn_risk: str
    notices: list[str]
    change: list[str] = field(default_factory=list)


def _fit_record(fit: ModelFit) -> str:
    def outcome(o: Any) -> Any:
        if o is None:
            return None
        return {"params": vars(o.params), "ll": o.log_likelihood, "problems": o.problems}

    return json.dumps(
        {
            "customers": fit.customers,
            "repeat": fit.repeat_customers,
            "unit": fit.time_unit,
            "as_of": fit.as_of.isoformat(),
            "bgnbd": outcome(fit.bgnbd),
            "gg": outcome(fit.gamma_gamma),
            "problems": fit.problems,
            "gg_problems": fit.gamma_gamma_problems,
        }
    )


def _fit_from(text: str) -> ModelFit:
    from retain_cli.analytics.predict import BgNbdParams, FitOutcome, GammaGammaParams, ModelFit

    data = json.loads(text)

    def outcome(o: Any, kind: Any) -> Any:
        if o is None:
            return None
        return FitOutcome(kind(**o["params"]), o["ll"], list(o["problems"]))

    return ModelFit(
        customers=data["customers"],
        repeat_customers=data["repeat"],
        time_unit=data["unit"],
        as_of=date.fromisoformat(data["as_of"]),
        bgnbd=outcome(data["bgnbd"], BgNbdParams),
        gamma_gamma=outcome(data["gg"], GammaGammaParams),
        problems=list(data["problems"]),
        gamma_gamma_problems=list(data["gg_problems"]),
    )


def fitted(store: Store, summary: Any, key: str) -> ModelFit:
    """The models fitted on ``summary``; the fit is kept in the database under ``key`` (the
    orders and the as-of day), so that the next explanation on the same data skips it."""
    from retain_cli.analytics.predict import fit_models

    cached = store.cached_blob(FIT_CACHE)
    if cached is not None and cached[0] == key:
        return _fit_from(cached[1].decode("utf-8"))
    fit = fit_models(summary)
    store.save_cached_blob(FIT_CACHE, key, _fit_record(fit).encode("utf-8"))
    return fit


_SUMMARY_PARTS = ("customer_ref", "frequency", "recency", "T", "monetary_value")


def shop_summary(store: Store, core: Core, key: str) -> Summary:
    """``retain predict``'s purchase-day summary of every customer with orders (the fit and
    the rules' shop figures read it), kept in the database under ``key`` (the orders and the
    as-of day) beside the fit: customer numbers and figures only, never a name or address."""
    import numpy as np

    from retain_cli.analytics.predict import Summary, summary_from_orders

    as_of = core.as_of.date()
    cached = store.cached_blob(SUMMARY_CACHE)
    size = 8 * len(_SUMMARY_PARTS)
    if cached is not None and cached[0] == key and len(cached[1]) % size == 0:
        n = len(cached[1]) // size

        def part(k: int) -> Any:
            kind = "<i8" if k == 0 else "<f8"
            return np.frombuffer(cached[1], dtype=kind, count=n, offset=8 * n * k)

        empty = np.full(n, None, dtype=object)
        return Summary(
            customer_ref=part(0).astype(np.int64),
            customer_id=empty,
            email=empty.copy(),
            frequency=part(1),
            recency=part(2),
            T=part(3),
            monetary_value=part(4),
            time_unit="day",
            as_of=as_of,
        )
    orders = core.orders
    # the orders are sorted by customer: each customer's first row, without another sort
    firsts = np.r_[True, orders.customer[1:] != orders.customer[:-1]]
    refs = orders.customer[firsts]
    blank: list[Any] = [None] * len(refs)
    summary = summary_from_orders(
        orders.customer,
        orders.t // 86400,
        np.asarray(orders.amount, dtype=np.float64),
        (refs, blank, blank),
        as_of=as_of,
        time_unit="day",
    )
    packed = b"".join(
        np.ascontiguousarray(getattr(summary, part), dtype="<i8" if k == 0 else "<f8").tobytes()
        for k, part in enumerate(_SUMMARY_PARTS)
    )
    store.save_cached_blob(SUMMARY_CACHE, key, packed)
    return summary


def prediction_of(store: Store, core: Core, ref: int) -> Prediction | None:
    """``retain predict``'s figures for one customer (90 days ahead, days), with the inputs,
    and what an order today would make of them. None without a countable order."""
    import dataclasses

    import numpy as np

    from retain_cli.analytics.predict import make_predictions

    orders = core.orders
    if not len(orders):
        return None
    key = f"{store.orders_fingerprint()}:{core.as_of.date()}:{len(orders)}"
    summary = shop_summary(store, core, key)
    where = np.searchsorted(summary.customer_ref, ref)
    if where >= len(summary) or summary.customer_ref[where] != ref:
        return None
    i = int(where)
    fit = fitted(store, summary, key)
    made = make_predictions(summary, fit, HORIZON_DAYS, rows=[i])
    inputs = {
        "frequency": float(summary.frequency[i]),
        "recency": float(summary.recency[i]),
        "T": float(summary.T[i]),
        "monetary_value": round(float(summary.monetary_value[i]), 2),
    }
    result = Prediction(
        method=made.methods()[0],
        inputs=inputs,
        p_alive=round(float(made.p_alive[0]), 4),
        expected_orders=round(float(made.expected_orders[0]), 4),
        predicted_clv=round(float(made.predicted_clv[0]), 2),
        churn_risk=made.churn_risk[0],
        notices=list(made.notices),
    )
    # an order today: one more purchase day (unless they already bought today), recency = T
    changed = dataclasses.replace(
        summary,
        frequency=summary.frequency.copy(),
        recency=summary.recency.copy(),
    )
    if summary.recency[i] < summary.T[i]:
        changed.frequency[i] += 1
        changed.recency[i] = summary.T[i]
    after = make_predictions(changed, fit, HORIZON_DAYS, rows=[i])
    result.change.append(
        f"an order today: p_alive {result.p_alive:.2f} -> {float(after.p_alive[0]):.2f}, "
        f"expected orders in {HORIZON_DAYS:g} days {result.expected_orders:.2f} -> "
        f"{float(after.expected_orders[0]):.2f}, churn risk {after.churn_risk[0]}"
    )
    return result
