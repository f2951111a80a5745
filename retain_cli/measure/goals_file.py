"""A goals file: the goals of ``retain goals set``, written down and set together.

```yaml
goals:
  - {metric: retention_rate, change: +5pp, by: 2027-06-30}
  - {metric: average_order_value, change: +10%, by: 2027-06-30, baseline: before-winter}
  - {metric: churn_rate, change: -2pp, by: 2027-03-31, period: 90d}
```

Every goal is checked (and its start measured) before any is kept: a file with one bad goal
sets none, and the error names the file, the goal and the key.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import ConfigError, RetainError
from retain_cli.measure.goals import make_goal

if TYPE_CHECKING:
    from retain_cli.store import Store

GOAL_KEYS = ("metric", "change", "by", "period", "baseline")
PERIODS = ("30d", "90d", "month", "quarter", "year")


def _read(path: Path) -> Any:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no goals file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the goals file ({exc})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{path}: {where}YAML syntax error: {problem}") from None


def _goal_fields(raw: Any, label: str, path: Path) -> dict[str, Any]:
    def error(key: str | None, message: str) -> ConfigError:
        return ConfigError(
            ": ".join([str(path), f"goal {label}", *([f"key {key!r}"] if key else []), message])
        )

    if not isinstance(raw, Mapping):
        raise error(None, "must be a mapping with metric, change and by")
    for key in raw:
        if key not in GOAL_KEYS:
            hint = difflib.get_close_matches(str(key), GOAL_KEYS, n=1)
            did_you_mean = f"did you mean {hint[0]!r}? " if hint else ""
            raise error(
                str(key), f"unknown key; {did_you_mean}allowed here: {', '.join(GOAL_KEYS)}"
            )
    fields: dict[str, Any] = {}
    for key in ("metric", "change", "by"):
        if raw.get(key) in (None, ""):
            raise error(key, "is required")
    fields["metric"] = str(raw["metric"]).strip()
    change = raw["change"]
    fields["change"] = (
        f"+{change}" if isinstance(change, int | float) and change > 0 else str(change)
    )
    by = raw["by"]
    if isinstance(by, datetime):
        by = by.date()
    if not isinstance(by, date):
        try:
            by = date.fromisoformat(str(by).strip())
        except ValueError:
            raise error("by", f"{by!r} is not a date; write YYYY-MM-DD") from None
    fields["by"] = by
    period = str(raw.get("period", "30d")).strip()
    if period not in PERIODS:
        raise error("period", f"must be one of {', '.join(PERIODS)}, not {period!r}")
    fields["period"] = period
    baseline = raw.get("baseline")
    fields["baseline"] = None if baseline is None else str(baseline).strip()
    return fields


def set_goals_from_file(
    store: Store, path: Path, *, as_of: datetime, now: datetime
) -> list[dict[str, Any]]:
    """Check every goal of the file, then keep them all (each replaces the goal on its
    metric). Returns the goals as kept, each with ``replaced``."""
    data = _read(path)
    if not isinstance(data, Mapping) or not isinstance(data.get("goals"), list):
        raise ConfigError(
            f"{path}: must hold a list under goals: (goals: [{{metric, change, by}}])"
        )
    goals = []
    seen: set[str] = set()
    for position, raw in enumerate(data["goals"], start=1):
        name = raw.get("metric") if isinstance(raw, Mapping) else None
        label = repr(name) if isinstance(name, str) and name.strip() else str(position)
        fields = _goal_fields(raw, label, path)
        if fields["metric"] in seen:
            raise ConfigError(
                f"{path}: goal {label}: a metric has one goal; this one is listed twice"
            )
        seen.add(fields["metric"])
        try:
            goal = make_goal(
                store,
                fields["metric"],
                fields["change"],
                fields["by"],
                period=fields["period"],
                baseline=fields["baseline"],
                as_of=as_of,
                now=now,
            )
        except RetainError as exc:
            raise ConfigError(f"{path}: goal {label}: {exc}") from None
        goals.append(goal)
    replaced = store.goal_set_many(goals)
    return [{**goal, "replaced": was} for goal, was in zip(goals, replaced, strict=True)]
