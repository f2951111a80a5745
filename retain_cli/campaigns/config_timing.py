"""The campaign file's keys about timing, read for :mod:`.config`: ``priority`` and
``fresh_for`` on a campaign, ``stop_when`` on a later step of a series. Each has a default by
trigger (see :mod:`.model`); errors name the key, through the caller's ``error``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from retain_cli.campaigns.model import (
    DEFAULT_PRIORITY,
    DEFAULT_STOP_WHEN,
    FRESH_DAYS,
    STOP_ORDERED,
    Step,
    parse_fresh_for,
    parse_priority,
    parse_stop_when,
)
from retain_cli.errors import ConfigError

Error = Callable[[str | None, str], ConfigError]


def campaign_timing(
    data: Mapping[str, Any], event: str | None, error: Error
) -> tuple[int, int | None]:
    """``priority`` (default: 10 for birthdays, else 0) and ``fresh_for`` in days (default:
    by trigger, see FRESH_DAYS; None: no limit, for campaigns without a trigger)."""
    try:
        priority = parse_priority(data.get("priority", DEFAULT_PRIORITY.get(event or "", 0)))
    except ValueError as exc:
        raise error("priority", str(exc)) from None
    fresh = FRESH_DAYS.get(event or "")
    if data.get("fresh_for") is not None:
        try:
            fresh = parse_fresh_for(data["fresh_for"], event)
        except ValueError as exc:
            raise error("fresh_for", str(exc)) from None
    return priority, fresh


def step_stop_when(
    step: Step, raw: Mapping[str, Any], trigger: Any, error: Error, prefix: str
) -> Step:
    """A later step with its ``stop_when`` (default: by trigger, see DEFAULT_STOP_WHEN).
    The first step takes none: nothing has begun yet."""
    given = raw.get("stop_when")
    if step.index == 1:
        if given is not None:
            raise error(
                f"{prefix}stop_when",
                "applies to later steps (what happened since step 1 went out); "
                "move it to step 2 or later",
            )
        return step
    if given is not None:
        try:
            conditions = parse_stop_when(given)
        except ValueError as exc:
            raise error(f"{prefix}stop_when", str(exc)) from None
    else:
        event = trigger.get("after") if isinstance(trigger, Mapping) else None
        conditions = DEFAULT_STOP_WHEN.get(str(event), (STOP_ORDERED,))
    return dataclasses.replace(step, stop_when=conditions)
