"""``retain simulate``: what each night of the next N days would send, before cron runs it.

Each night is a real ``retain send`` (:func:`retain_cli.campaigns.send.run_send`) on a copy
of the database, at the cron time on a simulated clock, through a transport that delivers
nothing: the same plan, limits (quiet hours, the daily limit, the frequency cap, the
per-minute pace on the simulated clock), re-checks of the queue and ledger as the real nights
would have, night after night, with every limit applied whatever the campaign file's
transport. The database itself is not touched. The orders stay as they are today: customers
do not buy in a simulation, though they age into new segments.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.timeutil import Clock, local_day, to_iso, zone

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.store import Store

MAX_NIGHTS = 366


class RehearsalTransport:
    """Takes every message and delivers none."""

    name = "rehearsal"

    def open(self) -> None:
        return None

    def send(
        self,
        message: EmailMessage,
        sender: str,
        recipient: str,
        *,
        before_data: Callable[[], None] | None = None,
        awaiting_reply: Callable[[], None] | None = None,
    ) -> str:
        if before_data is not None:
            before_data()
        return "250 rehearsal: not delivered"

    def close(self) -> None:
        return None


@dataclass
class Night:
    """One simulated run: when, and per campaign what it sent, skipped and left waiting."""

    day: date
    moment: datetime  # UTC
    local: str  # "06:30 CET" on the shop's clock
    campaigns: dict[str, dict[str, int]] = field(default_factory=dict)
    held_back: str = ""  # why due messages waited (quiet hours, the daily limit)
    errors: list[str] = field(default_factory=list)

    @property
    def note(self) -> str:
        """A short note: what kept messages waiting, how many failed."""
        parts = []
        if self.held_back.startswith("quiet hours"):
            parts.append("quiet hours")
        elif self.held_back:
            parts.append("daily limit")
        elif self.total("waiting"):
            parts.append("frequency cap")  # what else keeps a rehearsal's message waiting
        if self.total("failed"):
            parts.append(f"{self.total('failed')} failed")
        return ", ".join(parts)

    def total(self, what: str) -> int:
        return sum(counts.get(what, 0) for counts in self.campaigns.values())

    def row(self) -> dict[str, Any]:
        sent = ", ".join(
            f"{name} {counts['sent']}" for name, counts in self.campaigns.items() if counts["sent"]
        )
        return {
            "night": self.day.isoformat(),
            "time": self.local,
            "sent": self.total("sent"),
            "campaigns": sent,
            "waiting": self.total("waiting"),
            "skipped": self.total("skipped"),
            "note": self.note,
            "held_back": self.held_back,
        }

    def long_rows(self) -> list[dict[str, Any]]:
        return [
            {"night": self.day.isoformat(), "time": self.local, "campaign": name, **counts}
            for name, counts in self.campaigns.items()
        ]


def first_night(now: datetime, at: time, cron_tz: str) -> datetime:
    """The next run at ``at`` (on ``cron_tz``'s clock) after ``now``, in UTC."""
    tz = zone(cron_tz)
    day = local_day(now, tz)
    moment = datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
    if moment <= now:
        moment = datetime.combine(day + timedelta(days=1), at, tzinfo=tz).astimezone(UTC)
    return moment


def simulate(
    store: Store,
    config: CampaignConfig,
    *,
    nights: int,
    at: time,
    clock: Clock,
    cron_tz: str | None = None,
    campaigns: Sequence[str] = (),
) -> list[Night]:
    """Run the next ``nights`` nightly sends on a copy of the database; see the module."""
    from retain_cli.campaigns.planner import selected_campaigns
    from retain_cli.campaigns.send import run_send
    from retain_cli.errors import UsageError

    if not 1 <= nights <= MAX_NIGHTS:
        raise UsageError(f"--days {nights}: simulate between 1 and {MAX_NIGHTS} nights")
    names = [c.name for c in selected_campaigns(config, campaigns)]
    where = cron_tz or config.timezone
    tz, shop = zone(where), zone(config.timezone)
    start = first_night(clock.now(), at, where)
    out: list[Night] = []
    with tempfile.TemporaryDirectory(prefix="retain-simulate-") as folder:
        copy = store.rehearsal_copy(Path(folder) / "rehearsal.db")
        try:
            for offset in range(nights):
                day = local_day(start, tz) + timedelta(days=offset)
                moment = datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
                result = run_send(
                    copy,
                    config,
                    campaigns=campaigns,
                    transport=RehearsalTransport(),
                    clock=Clock(moment, source="simulate"),
                )
                night = Night(
                    day=day,
                    moment=moment,
                    local=f"{moment.astimezone(shop):%H:%M %Z}",
                    held_back=result.held_back or "",
                    errors=result.errors[:3],
                )
                counts = {row["campaign"]: row for row in copy.ledger_night_counts(to_iso(moment))}
                for name in names:
                    row = counts.get(name, {})
                    night.campaigns[name] = {
                        key: int(row.get(key) or 0)
                        for key in ("sent", "held_out", "skipped", "waiting", "failed")
                    }
                out.append(night)
        finally:
            copy.close()
    return out
