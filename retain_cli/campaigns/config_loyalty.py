"""The campaign file's ``loyalty:`` section, read for :mod:`.config`::

    loyalty:
      points_per_unit: 1        # points per unit of money spent (net of refunds)
      recalculate: monthly      # monthly, quarterly or yearly: when tiers can drop
      expiry: 365d              # points expire after this long without an order
      notice: 30d               # tier_at_risk and points_expiring are due this long before
      tiers:                    # by spend in the last 365 days (min_spend) or orders (min_orders)
        - {name: Crumb, min_spend: 0}
        - {name: Loaf, min_spend: 100}
      rewards:
        - {name: Free coffee, points: 50, code: LOYAL-COFFEE}

Errors name the file and the key (``loyalty.tiers[2].min_spend``) and say what to write.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, cast

from retain_cli.analytics.loyalty import RECALCULATIONS, LoyaltyProgram, Reward, Tier
from retain_cli.campaigns.model import LOYALTY_EVENTS, LOYALTY_REPEAT, Campaign, parse_interval
from retain_cli.campaigns.yamlcheck import Where, as_mapping, check_keys, kind_of

LOYALTY_KEYS = ("points_per_unit", "recalculate", "expiry", "notice", "tiers", "rewards")
TIER_KEYS = ("name", "min_spend", "min_orders")
REWARD_KEYS = ("name", "points", "code")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_NOTICE_DAYS = 30
MAX_POINTS_PER_UNIT = 1000


def _days(value: Any, where: Where, key: str) -> int:
    try:
        hours = parse_interval(value).total_seconds() / 3600
    except ValueError as exc:
        raise where.error(key, str(exc)) from None
    if hours % 24:
        raise where.error(key, f"{value!r} is not a whole number of days; write 30d or 52w")
    return int(hours // 24)


def _number(value: Any, where: Where, key: str, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise where.error(key, f"must be a number such as {example}, not {kind_of(value)}")
    if value < 0:
        raise where.error(key, f"must be 0 or more, not {value}")
    if value > 1e9:
        raise where.error(key, f"{value} is too large; write at most 1000000000")
    return float(value)


def _name(value: Any, where: Where, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(key, f"must be a name such as Gold, not {kind_of(value)}")
    text = " ".join(value.split())
    if len(text) > 40:
        raise where.error(key, f"{text[:40]!r}... is longer than 40 characters; shorten it")
    return text


def _tiers(data: Any, where: Where) -> tuple[tuple[Tier, ...], str]:
    if not isinstance(data, list) or not data:
        raise where.error(
            "loyalty.tiers",
            "must be a list of tiers, lowest first, e.g. - {name: Silver, min_spend: 100}",
        )
    tiers: list[Tier] = []
    basis: str | None = None
    for i, raw in enumerate(data, start=1):
        key = f"loyalty.tiers[{i}]"
        mapping = as_mapping(raw, where, key)
        check_keys(mapping, TIER_KEYS, where, f"{key}.")
        name = _name(mapping.get("name"), where, f"{key}.name")
        given = [k for k in ("min_spend", "min_orders") if k in mapping]
        if len(given) != 1:
            raise where.error(
                key,
                "needs min_spend (spend in the last 365 days) or min_orders (orders in the "
                "last 365 days), one of the two",
            )
        this = "spend" if given[0] == "min_spend" else "orders"
        if basis is not None and this != basis:
            raise where.error(
                f"{key}.{given[0]}",
                f"every tier counts the same thing; the first tier uses min_{basis}, so "
                f"write min_{basis} here too",
            )
        basis = this
        minimum = _number(mapping[given[0]], where, f"{key}.{given[0]}", "100")
        if this == "orders" and minimum != int(minimum):
            raise where.error(f"{key}.min_orders", f"must be a whole number, not {minimum:g}")
        if tiers and minimum <= tiers[-1].minimum:
            raise where.error(
                f"{key}.{given[0]}",
                f"{minimum:g} is not above the tier before ({tiers[-1].name}: "
                f"{tiers[-1].minimum:g}); list tiers lowest first, each higher than the last",
            )
        if any(t.name.lower() == name.lower() for t in tiers):
            raise where.error(f"{key}.name", f"{name!r} is used by another tier")
        tiers.append(Tier(name=name, minimum=minimum))
    assert basis is not None
    return tuple(tiers), basis


def _rewards(data: Any, where: Where) -> tuple[Reward, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise where.error(
            "loyalty.rewards",
            f"must be a list such as - {{name: Free coffee, points: 50}}, not {kind_of(data)}",
        )
    rewards: list[Reward] = []
    for i, raw in enumerate(data, start=1):
        key = f"loyalty.rewards[{i}]"
        mapping = as_mapping(raw, where, key)
        check_keys(mapping, REWARD_KEYS, where, f"{key}.")
        name = _name(mapping.get("name"), where, f"{key}.name")
        points = mapping.get("points")
        if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= 10**9:
            raise where.error(
                f"{key}.points", f"must be a whole number of points above 0, not {points!r}"
            )
        code = mapping.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        if code is not None and (not isinstance(code, str) or not CODE_RE.match(code)):
            raise where.error(
                f"{key}.code",
                f"{code!r} is not a discount code; write it as your shop does, e.g. "
                "LOYAL-COFFEE (an order using it spends the points)",
            )
        if code and any(r.code and r.code.upper() == code.upper() for r in rewards):
            raise where.error(f"{key}.code", f"{code!r} is the code of another reward")
        rewards.append(Reward(name=name, points=points, code=code))
    return tuple(rewards)


def parse_loyalty(data: Any, where: Where, timezone: str) -> LoyaltyProgram | None:
    """The ``loyalty:`` section as a :class:`LoyaltyProgram` (None when absent)."""
    if data is None:
        return None
    mapping = as_mapping(data, where, "loyalty")
    check_keys(mapping, LOYALTY_KEYS, where, "loyalty.")
    if "points_per_unit" not in mapping:
        raise where.error(
            "loyalty.points_per_unit",
            "is required: the points one unit of money earns, e.g. 1 (0 for tiers only)",
        )
    per_unit = _number(mapping["points_per_unit"], where, "loyalty.points_per_unit", "1")
    if per_unit > MAX_POINTS_PER_UNIT:
        raise where.error(
            "loyalty.points_per_unit",
            f"{per_unit:g} is more than {MAX_POINTS_PER_UNIT} points per unit of money; "
            "write a smaller number (1 point per euro is usual)",
        )
    recalculate = mapping.get("recalculate", "monthly")
    if recalculate not in RECALCULATIONS:
        raise where.error(
            "loyalty.recalculate",
            f"must be one of {', '.join(RECALCULATIONS)}, not {recalculate!r} (when a tier "
            "can drop)",
        )
    tiers, basis = _tiers(mapping.get("tiers"), where)
    expiry = None
    if mapping.get("expiry") not in (None, "never", False):
        expiry = _days(mapping["expiry"], where, "loyalty.expiry")
    notice = DEFAULT_NOTICE_DAYS
    if mapping.get("notice") is not None:
        notice = _days(mapping["notice"], where, "loyalty.notice")
    if expiry is not None and notice >= expiry:
        raise where.error(
            "loyalty.notice",
            f"{notice} days is not shorter than the expiry ({expiry} days); a notice comes "
            "before points expire, e.g. notice: 30d",
        )
    return LoyaltyProgram(
        points_per_unit=per_unit,
        tiers=tiers,
        basis=cast(Any, basis),
        recalculate=cast(Any, recalculate),
        rewards=_rewards(mapping.get("rewards"), where),
        expiry_days=expiry,
        notice_days=notice,
        timezone=timezone,
    )


def loyalty_campaigns(
    campaigns: list[Campaign],
    raw: list[Any],
    program: LoyaltyProgram | None,
    where: Where,
) -> list[Campaign]:
    """The campaigns, checked: a loyalty trigger needs a ``loyalty:`` section (and
    points_expiring an expiry); without a ``repeat:`` of their own, loyalty campaigns repeat
    for each new event (:data:`LOYALTY_REPEAT`), which their occurrence sends once."""
    out: list[Campaign] = []
    for campaign, data in zip(campaigns, raw, strict=True):
        event = campaign.trigger.event if campaign.trigger else None
        if event not in LOYALTY_EVENTS:
            out.append(campaign)
            continue
        here = where.in_campaign(repr(campaign.name))
        if program is None:
            raise here.error(
                "trigger.after",
                f"{event} needs a loyalty: section at the top of the file (points_per_unit "
                "and tiers); see the README's Loyalty section",
            )
        if event == "points_expiring" and program.expiry_days is None:
            raise here.error(
                "trigger.after",
                "points_expiring needs loyalty.expiry (e.g. expiry: 365d); without it points "
                "never expire",
            )
        if data.get("repeat") is None:
            campaign = dataclasses.replace(campaign, repeat=LOYALTY_REPEAT)
        out.append(campaign)
    return out
