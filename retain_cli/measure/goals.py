"""Baselines and goals: ``retain baseline save``, ``retain goals set``, ``retain report goals``.

A **baseline** is a named snapshot of every figure of ``retain metrics`` for one period
(``--period``, ending at ``--as-of``). A **goal** moves one figure by a date: ``+5pp`` (rates,
in percentage points), ``+10%`` (relative to the start), ``+200`` or ``-3`` (in the
figure's own unit). It starts from a saved baseline (``--baseline NAME``) or from the figure
as it is when the goal is set, and keeps that start, so its track never moves.

``retain report goals`` measures each figure again (same period length, ending at
``--as-of``) and compares it with a straight line from the start to the target:

- ``reached``: the figure is at or past the target;
- ``on track``: it has covered at least the share of the way that the share of the time
  gone says (halfway through the time, at least halfway to the target);
- ``off track``: less than that; ``missed``: the date has passed without reaching it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from retain_cli.errors import NotFound, UsageError
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    from retain_cli.store import Store

_CHANGE = re.compile(r"^\s*([+-])?\s*(\d+(?:\.\d+)?)\s*(pp|%)?\s*$", re.I)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
REACHED, ON_TRACK, OFF_TRACK, MISSED = "reached", "on track", "off track", "missed"


@dataclass(frozen=True)
class Change:
    """A goal's change as written: ``+5pp``, ``-10%``, ``+200``."""

    text: str
    kind: str  # pp | relative | absolute
    amount: float  # signed: 0.05 for +5pp and +5%, 200.0 for +200

    def target(self, start: float) -> float:
        if self.kind == "relative":
            return start * (1 + self.amount)
        return start + self.amount


def metric_unit(metric: str) -> str:
    """The unit of a figure of ``retain metrics`` (rate, money, count, number, days)."""
    from retain_cli.analytics.definitions import DEFINITIONS
    from retain_cli.analytics.metrics import METRIC_NAMES

    if metric not in METRIC_NAMES:
        hint = difflib.get_close_matches(metric, METRIC_NAMES, n=1)
        did_you_mean = f"did you mean {hint[0]!r}? " if hint else ""
        raise UsageError(
            f"{metric!r} is not a figure of 'retain metrics'; {did_you_mean}"
            f"figures: {', '.join(METRIC_NAMES)}"
        )
    return DEFINITIONS[metric].unit


def parse_change(text: str, metric: str) -> Change:
    """``+5pp`` (rates only), ``+10%``, ``-200`` -> :class:`Change`; UsageError otherwise."""
    unit = metric_unit(metric)
    match = _CHANGE.match(text or "")
    if not match:
        raise UsageError(
            f"change {text!r} is not a change; write +5pp (percentage points, for rates), "
            "+10% (relative to the start) or +200 (in the figure's unit)"
        )
    sign, number, suffix = match.groups()
    amount = float(number) * (-1 if sign == "-" else 1)
    if amount == 0:
        raise UsageError(f"change {text!r} changes nothing; give a goal that moves the figure")
    suffix = (suffix or "").lower()
    if suffix == "pp":
        if unit != "rate":
            raise UsageError(
                f"{metric} is not a rate, so +pp does not apply; write a relative change "
                "such as +10% or an amount such as +200"
            )
        return Change(text.strip(), "pp", amount / 100)
    if suffix == "%":
        if unit == "rate":
            raise UsageError(
                f"{metric} is a rate: write the change in percentage points ({sign or '+'}"
                f"{number}pp), so it cannot be mistaken for a relative change"
            )
        return Change(text.strip(), "relative", amount / 100)
    if unit == "rate":
        raise UsageError(
            f"{metric} is a rate: write the change in percentage points, e.g. {sign or '+'}"
            f"{number}pp"
        )
    return Change(text.strip(), "absolute", amount)


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise UsageError(
            f"baseline name {name!r}: use letters, digits, '-', '_' or '.' (e.g. before-winter)"
        )
    return name


def save_baseline(
    store: Store, name: str, as_of: datetime, period: str, now: datetime
) -> dict[str, Any]:
    """Measure every figure for the period ending at ``as_of`` and keep it as ``name``."""
    from retain_cli.analytics.metrics import metrics

    check_name(name)
    report = metrics(store, as_of, period)
    replaced = store.baseline_save(
        name, to_iso(as_of), period, report.currency or None, report.values, to_iso(now)
    )
    return {
        "name": name,
        "as_of": to_iso(as_of),
        "period": period,
        "label": report.period.label,
        "replaced": replaced,
        "metrics": report.values,
    }


def set_goal(
    store: Store, metric: str, change_text: str, by: date, **options: Any
) -> dict[str, Any]:
    """Add (or replace) the goal on ``metric`` (``options`` as :func:`make_goal`'s); returns
    it with ``replaced``."""
    goal = make_goal(store, metric, change_text, by, **options)
    replaced = store.goal_set(goal)
    return {**goal, "replaced": replaced}


def make_goal(
    store: Store,
    metric: str,
    change_text: str,
    by: date,
    *,
    period: str,
    baseline: str | None,
    as_of: datetime,
    now: datetime,
) -> dict[str, Any]:
    """The goal as it would be kept (its start measured or taken from the baseline);
    nothing is written."""
    from retain_cli.analytics.metrics import metrics

    change = parse_change(change_text, metric)
    if baseline is not None:
        saved = store.baseline_get(baseline)
        if saved is None:
            names = ", ".join(b["name"] for b in store.baseline_list()) or "none yet"
            raise NotFound(
                f"no baseline {baseline!r}; saved baselines: {names} "
                "(save one with 'retain baseline save NAME')"
            )
        start, start_as_of, period = saved["metrics"].get(metric), saved["as_of"], saved["period"]
    else:
        start = metrics(store, as_of, period).values[metric]
        start_as_of = to_iso(as_of)
    if start is None:
        raise UsageError(
            f"{metric} has no value for the period ending {start_as_of[:10]} (no orders or "
            "customers to measure yet), so a goal cannot start from it"
        )
    if by <= date.fromisoformat(start_as_of[:10]):
        raise UsageError(
            f"by {by.isoformat()} is not after the start ({start_as_of[:10]}); give a "
            "date in the future"
        )
    return {
        "metric": metric,
        "change": change.text,
        "target": round(change.target(float(start)), 6),
        "by_date": by.isoformat(),
        "period": period,
        "baseline": baseline,
        "start_value": float(start),
        "start_as_of": start_as_of,
        "created_at": to_iso(now),
    }


def goal_status(start: float, target: float, now_value: float | None, elapsed: float) -> str:
    """reached / on track / off track / missed (``elapsed``: the share of the time gone)."""
    if now_value is None:
        return MISSED if elapsed >= 1 else OFF_TRACK
    progress = (now_value - start) / (target - start) if target != start else 1.0
    if progress >= 1:
        return REACHED
    if elapsed >= 1:
        return MISSED
    return ON_TRACK if progress >= elapsed else OFF_TRACK


def goals_report(store: Store, as_of: datetime) -> list[dict[str, Any]]:
    """Every goal: start, now, expected by now on the straight line, target, status."""
    from retain_cli.analytics.metrics import metrics

    goals = store.goal_list()
    values: dict[str, dict[str, Any]] = {}
    rows = []
    for goal in goals:
        period = goal["period"]
        if period not in values:
            values[period] = metrics(store, as_of, period).values
        now_value = values[period][goal["metric"]]
        start_day = date.fromisoformat(goal["start_as_of"][:10])
        by = date.fromisoformat(goal["by_date"])
        total = (by - start_day).days
        gone = (as_of.date() - start_day).days
        elapsed = min(max(gone / total, 0.0), 1.0) if total > 0 else 1.0
        start, target = float(goal["start_value"]), float(goal["target"])
        rows.append(
            {
                "metric": goal["metric"],
                "unit": metric_unit(goal["metric"]),
                "change": goal["change"],
                "period": period,
                "baseline": goal["baseline"],
                "start": start,
                "start_as_of": goal["start_as_of"][:10],
                "now": now_value,
                "as_of": as_of.date().isoformat(),
                "expected_now": round(start + (target - start) * elapsed, 6),
                "target": target,
                "by": goal["by_date"],
                "time_gone": round(elapsed, 4),
                "status": goal_status(start, target, now_value, elapsed),
            }
        )
    return rows
