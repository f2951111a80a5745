"""The campaign file as typed objects: frozen dataclasses, built by :mod:`.config`.

A :class:`CampaignConfig` holds the shop (locale, time zone), the sender, the transport, the
limits and the campaigns; a
:class:`Campaign` its audience, trigger and steps. Every other campaigns module works on these
objects, never on the YAML. The values written as text in the file (an interval ``90d``, a
holdout ``10%``, quiet hours ``21:00-08:00``) are read and shown by the functions at the end.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import time, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

from retain_cli.analytics.loyalty import LoyaltyProgram
from retain_cli.errors import NotFound
from retain_cli.money import DEFAULT_LOCALE
from retain_cli.transports.base import SmtpSettings

TransportKind = Literal["smtp", "outbox"]
TriggerEvent = Literal[
    "first_order",
    "last_order",
    "birthday",
    "entered_segment",
    "signup",
    "promoter",
    "tier_upgraded",
    "tier_at_risk",
    "points_expiring",
    "replenishment",
]

TRIGGER_EVENTS: tuple[str, ...] = (
    "first_order",
    "last_order",
    "birthday",
    "entered_segment",
    "signup",
    "promoter",  # a survey answer of 9-10 (NPS) or 5 (CSAT): a thank-you may follow
    "tier_upgraded",  # loyalty: an order reached a higher tier
    "tier_at_risk",  # loyalty: the orders so far will not keep the tier at the recalculation
    "points_expiring",  # loyalty: the balance expires within loyalty.notice
    "replenishment",  # due to buy a product again (see retain_cli.products.replenish)
)
#: the triggers that need the campaign file's ``loyalty:`` section
LOYALTY_EVENTS: tuple[str, ...] = ("tier_upgraded", "tier_at_risk", "points_expiring")
#: their ``repeat`` unless the file says: each event (a tier reached, a recalculation, an
#: expiry day) is sent once by its occurrence, so a customer may get the next one a day later
LOYALTY_REPEAT = timedelta(days=1)
MAX_HOLDOUT = 0.5

# How many days after its due day a message may still go (a run missed by cron, or one held
# back by limits), unless the campaign says ``fresh_for``: a birthday greeting is stale soon,
# a thank-you for an order keeps a week. Campaigns without a trigger have no such day.
FRESH_DAYS: dict[str, int] = {
    "birthday": 2,
    "first_order": 7,
    "last_order": 7,
    "signup": 7,
    "entered_segment": 7,
    "promoter": 7,
    "tier_upgraded": 7,
    # due from loyalty.notice before the day, and until it: a run missed by cron catches up
    "tier_at_risk": 30,
    "points_expiring": 30,
    "replenishment": 7,
}
# Date-bound messages go before others when limits allow only some (``priority:``).
DEFAULT_PRIORITY: dict[str, int] = {"birthday": 10}
# What stops a series before its later steps (``stop_when:``), by trigger; "ordered" means
# an order placed after step 1 went out. Campaigns without a trigger stop on "ordered" too.
DEFAULT_STOP_WHEN: dict[str, tuple[str, ...]] = {
    "birthday": (),
    "entered_segment": (),
}
STOP_ORDERED = "ordered"
STOP_ENTERED = "entered segment "

INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hdw])\s*$")
QUIET_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
INTERVAL_UNITS = {"h": 1.0, "d": 24.0, "w": 24.0 * 7}


@dataclass(frozen=True, slots=True)
class Shop:
    """How the shop writes to its customers: money and dates in ``locale`` (Babel's name,
    e.g. ``de_DE``), days and times in ``timezone`` (IANA name)."""

    locale: str = DEFAULT_LOCALE
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Sender:
    from_addr: str  # as written: "Rosie's Bakery <hello@rosies.example>"
    reply_to: str | None
    address: str  # postal footer
    unsubscribe: str  # mailto:... or https://...
    bounce_address: str | None = None  # VERP: hello+bounce-{token}@shop.example

    @property
    def from_email(self) -> str:
        return parseaddr(self.from_addr)[1]

    @property
    def from_name(self) -> str:
        return parseaddr(self.from_addr)[0]


DEFAULT_MAX_RUN_MINUTES = 240.0


@dataclass(frozen=True, slots=True)
class Limits:
    per_minute: int | None = None
    per_day: int | None = None
    batch_size: int | None = None
    quiet_hours: tuple[time, time] | None = None  # local wall clock, start-end (may wrap)
    min_hours_between_messages: float | None = None
    timezone: str = "UTC"  # IANA name for quiet hours and birthdays
    # a run stops taking new messages after this long (real time; the rest waits for the next)
    max_run_minutes: float = DEFAULT_MAX_RUN_MINUTES


@dataclass(frozen=True, slots=True)
class Audience:
    kind: Literal["all", "segment"]
    segment: str | None = None
    where: str | None = None

    def describe(self) -> str:
        text = self.segment if self.kind == "segment" and self.segment else "all"
        return f"{text} where {self.where}" if self.where else text


@dataclass(frozen=True, slots=True)
class Trigger:
    event: TriggerEvent
    days: int
    segment: str | None = None  # for entered_segment

    def describe(self) -> str:
        event = f"entering {self.segment}" if self.segment else self.event
        return f"{self.days}d after {event}"


@dataclass(frozen=True, slots=True)
class Step:
    index: int  # 1 for the first step
    days: int  # offset from the trigger event (0 for the first)
    subject: str  # a Jinja2 template string
    template: Path  # .txt.j2, resolved relative to the config file
    html_template: Path | None  # the .html.j2 sibling if it exists
    # later steps: what stops the series ("ordered", "entered segment NAME"); () never
    stop_when: tuple[str, ...] = ()
    # "email", or "task": the step becomes a task for the owner (the subject its title, the
    # rendered template what to do), not a message
    channel: str = "email"
    variant: str | None = None  # the A/B variant whose subject and template these are

    @property
    def is_task(self) -> bool:
        return self.channel == "task"


@dataclass(frozen=True, slots=True)
class Variant:
    """One arm of an A/B test (``variants:``): its share of the recipients and its version
    of every step (the campaign's own subject and template where it names none)."""

    name: str
    share: float  # 0 < share <= 1; a campaign's shares add up to 1
    steps: tuple[Step, ...]
    own: bool  # True when it changes nothing: the campaign's own message (the control)


@dataclass(frozen=True, slots=True)
class Survey:
    """A survey campaign's question: NPS (0-10) or CSAT (1-5); nobody is asked twice within
    ``fatigue_days`` (by any survey campaign); ``form`` is the owner's form link with
    ``{score}`` and ``{token}`` in it, if answers may come through a form."""

    kind: Literal["nps", "csat"]
    fatigue_days: int = 90
    form: str | None = None

    @property
    def scale(self) -> range:
        return range(0, 11) if self.kind == "nps" else range(1, 6)


@dataclass(frozen=True, slots=True)
class Campaign:
    name: str
    audience: Audience
    trigger: Trigger | None
    steps: tuple[Step, ...]
    holdout: float  # 0.0 .. 0.5
    repeat: timedelta | None  # None: never again for the same customer
    enabled: bool
    description: str | None = None
    priority: int = 0  # higher goes first when limits let only some messages through
    fresh_days: int | None = None  # days after the due day a message may still go
    offer_code: str | None = None  # the discount code its messages offer (for the report)
    approval: bool = False  # approval: required: messages wait in 'retain queue' for a yes
    survey: Survey | None = None  # a survey campaign (survey: nps | csat)
    # marketing (the default) or transactional: only marketing leaves out the program holdout
    kind: str = "marketing"
    coupon_pool: str | None = None  # each message carries a code of this pool (coupon.code)
    variants: tuple[Variant, ...] = ()  # A/B variants splitting the recipients
    variant_salt: str = ""  # part of the variant draw: a new salt draws a new split

    def step(self, index: int) -> Step:
        for step in self.steps:
            if step.index == index:
                return step
        raise NotFound(
            f"campaign {self.name!r} has no step {index}; steps are 1..{len(self.steps)}"
        )

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    def message_step(self, index: int, variant: str | None) -> Step:
        """Step ``index`` as variant ``variant`` sends it (None: the campaign's own)."""
        if variant is None:
            return self.step(index)
        found = self.variant(variant)
        if found is None:
            names = ", ".join(v.name for v in self.variants) or "none"
            raise NotFound(
                f"campaign {self.name!r} has no variant {variant!r} any more; variants: {names}"
            )
        return next(s for s in found.steps if s.index == index)


@dataclass(frozen=True, slots=True)
class CampaignConfig:
    path: Path
    sender: Sender
    transport: TransportKind
    outbox_dir: Path
    smtp: SmtpSettings | None
    limits: Limits
    campaigns: tuple[Campaign, ...]
    shop: Shop = Shop()
    loyalty: LoyaltyProgram | None = None  # the ``loyalty:`` section, if the file has one

    @property
    def timezone(self) -> str:
        """The shop's time zone: days (triggers, limits, --as-of) are counted in it."""
        return self.shop.timezone

    def campaign(self, name: str) -> Campaign:
        for campaign in self.campaigns:
            if campaign.name == name:
                return campaign
        names = ", ".join(c.name for c in self.campaigns) or "none"
        hint = difflib.get_close_matches(name, [c.name for c in self.campaigns], n=1)
        did_you_mean = f"did you mean {hint[0]!r}? " if hint else ""
        raise NotFound(f"no campaign {name!r} in {self.path}; {did_you_mean}campaigns are: {names}")


# --- the values' text forms: 90d, 10%, 21:00-08:00 -------------------------------------


def parse_interval(text: Any) -> timedelta:
    """``90d``, ``12h``, ``2w`` -> timedelta. Raises ValueError."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError("write an interval such as 90d, 12h or 2w")
    match = INTERVAL_RE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an interval; write 90d, 12h or 2w")
    hours = float(match.group(1)) * INTERVAL_UNITS[match.group(2)]
    if hours <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return timedelta(hours=hours)


def read_fraction(value: Any, noun: str, percent: str, fraction: str) -> float:
    """``10%`` or ``0.1`` -> 0.1, with no range but "at most 1" for a plain number; errors
    name it a ``noun`` and show ``percent`` and ``fraction`` as examples. Raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"write a {noun} such as {percent} or a fraction such as {fraction}")
    if isinstance(value, str):
        text = value.strip()
        try:
            if not text.endswith("%"):
                raise ValueError
            return float(text[:-1].strip()) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not a {noun}; write {percent} or {fraction}") from None
    if value > 1:
        raise ValueError(f"{value} is more than 1; write {value:g}% or {value / 100:g}")
    return float(value)


def parse_percentage(value: Any) -> float:
    """``10%`` or ``0.1`` -> 0.1 (a holdout: at most MAX_HOLDOUT). Raises ValueError."""
    fraction = read_fraction(value, "percentage", "10%", "0.1")
    if not 0 <= fraction <= MAX_HOLDOUT:
        raise ValueError(f"{value!r} must be between 0% and {MAX_HOLDOUT:.0%}")
    return fraction


def parse_quiet_hours(value: Any) -> tuple[time, time]:
    """``"21:00-08:00"`` -> (21:00, 08:00). Raises ValueError."""
    match = QUIET_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'{value!r} is not a time range; write "21:00-08:00" (quoted)')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"{value!r} has an impossible time; hours 00-23, minutes 00-59")
    if (h1, m1) == (h2, m2):
        raise ValueError(f"{value!r} starts and ends at the same time")
    return time(h1, m1), time(h2, m2)


def format_interval(delta: timedelta | None) -> str:
    """timedelta -> ``90d`` / ``12h`` / ``2w``; None -> ``never``."""
    if delta is None:
        return "never"
    hours = delta.total_seconds() / 3600
    if hours % (24 * 7) == 0:
        return f"{hours / (24 * 7):g}w"
    if hours % 24 == 0:
        return f"{hours / 24:g}d"
    return f"{hours:g}h"


def parse_priority(value: Any) -> int:
    """``priority: 10`` -> 10 (higher goes first). Raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("write a whole number such as 10 (higher goes first)")
    if not -100 <= value <= 100:
        raise ValueError(f"{value} must be between -100 and 100")
    return value


def parse_fresh_for(value: Any, trigger: str | None) -> int | None:
    """``fresh_for: 3d`` -> 3 (days after the due day a message may still go). ``never``
    (no limit) only for a campaign without a trigger: a triggered one would otherwise mail
    about events from years ago. Raises ValueError."""
    if value in ("never", False) and trigger is None:
        return None
    if value in ("never", False):
        assert trigger is not None
        raise ValueError(
            "a campaign with a trigger needs a limit (it is also how far back a new "
            f"install looks for events); write a number of days such as {FRESH_DAYS[trigger]}d"
        )
    delta = parse_interval(value)
    hours = delta.total_seconds() / 3600
    if hours % 24:
        raise ValueError(f"{value!r} is not a whole number of days; write 2d, 7d or 2w")
    return int(hours // 24)


def parse_stop_when(value: Any) -> tuple[str, ...]:
    """``stop_when: ordered`` / ``[ordered, entered segment champions]`` / ``never`` -> the
    conditions, in canonical form. Raises ValueError."""
    if value in ("never", False, None) or value == []:
        return ()
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError("write ordered, entered segment NAME, or never (a list for several)")
        words = item.split()
        text = " ".join(words).lower()
        if text in ("ordered", "purchased", "bought"):
            out.append(STOP_ORDERED)
        elif len(words) >= 3 and text.startswith(STOP_ENTERED):
            out.append(STOP_ENTERED + " ".join(words[2:]))
        elif text == "replied":
            raise ValueError(
                "retain does not read replies (it has no mailbox to read them from); use "
                "ordered or entered segment NAME"
            )
        else:
            raise ValueError(
                f"{item!r} is not a stop condition; write ordered, entered segment NAME, or never"
            )
    return tuple(dict.fromkeys(out))


def describe_stop_when(conditions: tuple[str, ...]) -> str:
    return ", ".join(conditions) if conditions else "never"
