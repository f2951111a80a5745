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

from retain_cli.errors import NotFound
from retain_cli.money import DEFAULT_LOCALE
from retain_cli.transports.base import SmtpSettings

TransportKind = Literal["smtp", "outbox"]
TriggerEvent = Literal["first_order", "last_order", "birthday", "entered_segment", "signup"]

TRIGGER_EVENTS: tuple[str, ...] = (
    "first_order",
    "last_order",
    "birthday",
    "entered_segment",
    "signup",
)
MAX_HOLDOUT = 0.5

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

    @property
    def from_email(self) -> str:
        return parseaddr(self.from_addr)[1]

    @property
    def from_name(self) -> str:
        return parseaddr(self.from_addr)[0]


@dataclass(frozen=True, slots=True)
class Limits:
    per_minute: int | None = None
    per_day: int | None = None
    batch_size: int | None = None
    quiet_hours: tuple[time, time] | None = None  # local wall clock, start-end (may wrap)
    min_hours_between_messages: float | None = None
    timezone: str = "UTC"  # IANA name for quiet hours and birthdays


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
    offer_code: str | None = None  # the discount code its messages offer (for the report)

    def step(self, index: int) -> Step:
        for step in self.steps:
            if step.index == index:
                return step
        raise NotFound(
            f"campaign {self.name!r} has no step {index}; steps are 1..{len(self.steps)}"
        )


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


def parse_percentage(value: Any) -> float:
    """``10%`` or ``0.1`` -> 0.1. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("write a percentage such as 10% or a fraction such as 0.1")
    if isinstance(value, str):
        text = value.strip()
        if not text.endswith("%"):
            raise ValueError(f"{value!r} is not a percentage; write 10% or 0.1")
        try:
            fraction = float(text[:-1].strip()) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage; write 10% or 0.1") from None
    elif isinstance(value, int | float):
        fraction = float(value)
        if fraction > 1:
            raise ValueError(f"{value} is more than 1; write {value:g}% or {value / 100:g}")
    else:
        raise ValueError("write a percentage such as 10% or a fraction such as 0.1")
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
