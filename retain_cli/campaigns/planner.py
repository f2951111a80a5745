"""Who is due for which campaign now, and who is left out and why.

For each enabled campaign (or the ones named), every member of its audience is looked at
(:mod:`.due`; every day is a calendar day in the shop's time zone, ``shop.timezone``):

- **trigger**: ``first_order``/``last_order``/``signup`` + ``days``: due on the day the event
  happened ``days`` ago (plus the step's own ``days`` for later steps), and for up to the
  campaign's ``fresh_for`` days after that (default 7), so a run missed by cron is caught
  up, but a new install does not mail about events from years ago. ``birthday``: on the day
  (month-day; 29 February is celebrated on the 28th in other years), fresh for 2 days.
  ``entered_segment``: the day a segment snapshot first shows the customer in the segment.
  Without a trigger, the audience itself is the trigger: due now.
- **steps**: step 1 as above; step k is due ``days`` after the trigger event (untriggered
  campaigns: after step 1 was sent), only once step 1 of the same occurrence was sent, and
  not when its ``stop_when`` happened since step 1 went out (default: an order).
- **repeat**: ``never``: once per customer for the campaign; an interval: again only when
  the last message (or holdout) of this campaign is older than that, in whole days.
- the send key is ``campaign:step:customer_id:occurrence``: occurrence is the trigger event's
  date, ``1`` for a one-off audience campaign, or the day of the run for a repeating one.

Messages recorded by an earlier run and not sent yet (held back by limits) are checked again:
still in the audience, the same trigger event, not past ``fresh_for``, no ``stop_when`` since;
otherwise they are skipped, with the reason. Left out, with the reason: no consent, opted
out, no e-mail address, already sent, repeat not due, stopped, order refunded in full (a
``first_order``/``last_order`` trigger whose order was refunded in full; cancelled orders never
trigger at all). Held out: the campaign's
holdout (a hash of campaign and customer, the same in every run). Deferred (recorded, sent by
a later run): frequency cap, daily limit, quiet hours. When limits let only some through, the
higher ``priority`` goes first (birthdays: 10, others 0), then what waited longest, then the
order of the campaign file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from retain_cli.campaigns.due import (
    DEFERRED,
    DUE,
    HELD_OUT,
    LEFT_OUT,
    SKIPPED,
    CampaignDays,
    PlanItem,
    holdout_score,
)
from retain_cli.campaigns.program import PROGRAM_REASON, TRANSACTIONAL, program_held, program_share
from retain_cli.errors import UsageError
from retain_cli.timeutil import Clock, current_clock, to_iso

if TYPE_CHECKING:
    from retain_cli.campaigns.model import Campaign, CampaignConfig, Limits
    from retain_cli.store import Store

__all__ = [
    "DEFERRED",
    "DUE",
    "HELD_OUT",
    "LEFT_OUT",
    "SKIPPED",
    "Plan",
    "PlanItem",
    "campaign_items",
    "holdout_score",
    "make_plan",
    "selected_campaigns",
]


@dataclass(slots=True)
class Plan:
    as_of: datetime
    campaigns: list[str]
    items: list[PlanItem] = field(default_factory=list)
    quiet: str | None = None  # set when the run falls in quiet hours
    day_budget: int | None = None  # messages the daily limit still allows
    daily_limit: str | None = None  # set when the daily limit holds messages back
    timezone: str = "UTC"
    now: datetime | None = None  # the moment the limits were judged at
    rank: dict[str, int] = field(default_factory=dict)  # send key -> order of sending
    # a plan for a few customers (``refs``) keeps each campaign's view of its audience, so
    # that ``retain explain`` can say why the plan has nothing for someone
    days: dict[str, CampaignDays] = field(default_factory=dict)
    program_share: float | None = None  # the program holdout in force, if any

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    def program_left_out(self) -> tuple[int, int]:
        """(messages, customers) the program holdout left out of this plan."""
        refs = [
            i.customer_ref
            for i in self.items
            if i.status == LEFT_OUT and i.reason == PROGRAM_REASON
        ]
        return len(refs), len(set(refs))

    def program_summary(self) -> dict[str, Any] | None:
        """The program holdout in this plan (None when none is in force): its share, and
        the messages and customers it left out."""
        if self.program_share is None:
            return None
        messages, customers = self.program_left_out()
        return {"share": self.program_share, "messages": messages, "customers": customers}

    @property
    def held_back(self) -> str | None:
        """Why due messages wait for a later run (quiet hours, daily limit), if they do."""
        if not any(i.status == DEFERRED for i in self.items):
            return None
        return self.quiet or self.daily_limit

    def ledger_rows(self) -> list[dict[str, Any]]:
        """Rows to record: due and deferred items as planned, holdout as held_out."""
        rows = []
        for item in self.items:
            if item.recorded or item.status in (LEFT_OUT, SKIPPED) or not item.email:
                continue
            rows.append(
                {
                    "send_key": item.send_key,
                    "campaign": item.campaign,
                    "step": item.step,
                    "customer_ref": item.customer_ref,
                    "occurrence": item.occurrence,
                    "email": item.email,
                    "state": "held_out" if item.status == HELD_OUT else "planned",
                    "variant": item.variant,
                }
            )
        return rows

    def skipped(self) -> list[tuple[str, str]]:
        """(send key, reason) of queued messages that should not go any more."""
        return [(i.send_key, i.reason) for i in self.items if i.status == SKIPPED]

    def summary(self) -> list[dict[str, Any]]:
        """Per campaign: due, held out, deferred, skipped, and left out per reason."""
        out = []
        for name in self.campaigns:
            items = [i for i in self.items if i.campaign == name]
            counts = Counter(i.status for i in items)

            def why(status: str, items: list[PlanItem] = items) -> str:
                reasons = Counter(_reason_key(i.reason) for i in items if i.status == status)
                return ", ".join(f"{k} {v}" for k, v in reasons.most_common())

            out.append(
                {
                    "campaign": name,
                    "due": counts[DUE],
                    "held_out": counts[HELD_OUT],
                    "deferred": counts[DEFERRED],
                    "skipped": counts[SKIPPED],
                    "left_out": counts[LEFT_OUT],
                    "why_left_out": why(LEFT_OUT),
                    "why_deferred": why(DEFERRED),
                    "why_skipped": why(SKIPPED),
                }
            )
        return out


def _reason_key(reason: str) -> str:
    """The kind of a reason, for counting: "frequency cap (...)" -> "frequency cap"."""
    key = reason.split(" (", 1)[0].split(": ", 1)[0]
    return "quiet hours" if key.startswith("quiet hours") else key


def selected_campaigns(config: CampaignConfig, names: Sequence[str]) -> list[Campaign]:
    """The campaigns named (each must exist and be enabled), else every enabled one."""
    if not names:
        return [c for c in config.campaigns if c.enabled]
    chosen = []
    for name in dict.fromkeys(names):
        campaign = config.campaign(name)
        if not campaign.enabled:
            raise UsageError(
                f"campaign {name!r} is disabled (enabled: false in {config.path}); "
                "enable it to plan or send it"
            )
        chosen.append(campaign)
    return chosen


def make_plan(
    store: Store,
    config: CampaignConfig,
    *,
    campaigns: Sequence[str] = (),
    as_of: datetime | None = None,
    transport: str | None = None,
    now: datetime | None = None,
    clock: Clock | None = None,
    record_snapshots: bool = False,
    refs: Collection[int] | None = None,
    features: Any = None,
) -> Plan:
    """Everyone due for each chosen campaign, and everyone left out with the reason.

    Triggers are evaluated at ``as_of`` (default: now); the limits (quiet hours, frequency
    cap, daily budget) at ``now`` (default: the clock's time, the moment a send would
    happen). A simulated ``clock`` is a rehearsal: every limit applies, as in the real run.
    ``record_snapshots`` keeps the as-of day's segment snapshot for ``entered_segment``
    triggers: a real send does; a plan, a preview or a dry run only reads.

    ``refs`` plans for those customers only (``retain explain CUSTOMER``): each of their
    items is the one the whole plan has, except that the daily limit is judged as if
    nobody else were due (in the whole plan, others may go first). ``features``: the
    caller's :func:`retain_cli.campaigns.audience.customer_frame` for the same ``as_of`` and
    ``refs``, when it has one already."""
    from retain_cli.campaigns.audience import audience_members, customer_frame
    from retain_cli.campaigns.limits import effective_limits, in_quiet_hours, quiet_hours_text

    clock = clock or current_clock()
    moment = now or clock.now()
    as_of = as_of or moment
    chosen = selected_campaigns(config, campaigns)
    plan = Plan(as_of=as_of, campaigns=[c.name for c in chosen], timezone=config.timezone)
    plan.now = moment
    kind = transport or config.transport
    limits = effective_limits(config.limits, kind, rehearsal=clock.simulated)
    if in_quiet_hours(limits, moment):
        plan.quiet = quiet_hours_text(limits)

    queued: dict[str, list[dict[str, Any]]] = {}
    few = None if refs is None else sorted(refs)
    for row in store.ledger_pending_rows(plan.campaigns, few):
        queued.setdefault(row["campaign"], []).append(row)
    if features is None and chosen:
        features = customer_frame(store, as_of, refs)
    marketing = any(c.kind != TRANSACTIONAL for c in chosen)
    program = program_held(store, refs) if marketing else set()
    plan.program_share = program_share(store) if marketing else None
    for campaign in chosen:
        frame = audience_members(store, config, campaign, as_of, features=features)
        days = CampaignDays(
            store,
            config,
            campaign,
            frame,
            as_of,
            record_snapshots=record_snapshots,
            program=program,
        )
        if refs is not None:
            plan.days[campaign.name] = days
        for row in queued.get(campaign.name, []):
            reason = days.recheck(row)
            plan.items.append(
                PlanItem(
                    campaign=row["campaign"],
                    step=row["step"],
                    customer_ref=row["customer_ref"],
                    customer_id=row["customer_id"],
                    email=row["email"],
                    occurrence=row["occurrence"],
                    status=SKIPPED if reason else DUE,
                    reason=reason or f"planned {row['planned_at']}",
                    recorded=True,
                    variant=row["variant"],
                )
            )
        plan.items.extend(days.items())
    _apply_limits(store, plan, chosen, limits, moment, few)
    return plan


def _apply_limits(
    store: Store,
    plan: Plan,
    chosen: Sequence[Campaign],
    limits: Limits,
    moment: datetime,
    refs: Sequence[int] | None = None,
) -> None:
    """Defer what the frequency cap, the quiet hours and the daily limit hold back, taking
    the due messages in order of sending: priority, then waiting longest, then file order."""
    from retain_cli.campaigns.limits import cap_since, cap_text, day_start

    position = {c.name: i for i, c in enumerate(chosen)}
    priority = {c.name: c.priority for c in chosen}

    def order(item: PlanItem) -> tuple[int, bool, int, int, int]:
        name = item.campaign
        return (-priority[name], not item.recorded, position[name], item.step, item.customer_ref)

    waiting = sorted((i for i in plan.items if i.status == DUE), key=order)
    plan.rank = {item.send_key: n for n, item in enumerate(waiting)}
    since = cap_since(limits, moment)
    if since is not None:
        if refs is None:
            last_sent = store.ledger_last_sent_all(to_iso(since))
        else:
            last_sent = store.ledger_last_sent(refs, to_iso(since))
        first: dict[int, str] = {}
        for item in waiting:
            last = last_sent.get(item.customer_ref)
            if last is not None:
                item.status = DEFERRED
                item.reason = f"frequency cap ({cap_text(limits)}; last sent {last})"
            elif item.customer_ref in first:
                item.status = DEFERRED
                item.reason = (
                    f"frequency cap ({cap_text(limits)}; {first[item.customer_ref]} goes first)"
                )
            else:
                first[item.customer_ref] = item.campaign
    budget = None
    if limits.per_day:
        used = store.ledger_count_sent_since(to_iso(day_start(limits, moment)))
        budget = plan.day_budget = max(limits.per_day - used, 0)
    for item in waiting:
        if item.status != DUE:
            continue
        if plan.quiet:
            item.status = DEFERRED
            item.reason = plan.quiet
        elif budget is not None:
            if budget <= 0:
                item.status = DEFERRED
                item.reason = f"rate limit (per_day {limits.per_day} reached; next run)"
                plan.daily_limit = (
                    f"daily limit of {limits.per_day} messages reached (today in {limits.timezone})"
                )
            budget -= 1
    others = [i for i in plan.items if i.send_key not in plan.rank]
    plan.items = [*waiting, *others]


def campaign_items(
    store: Store, config: CampaignConfig, campaign: Campaign, as_of: datetime, frame: Any
) -> list[PlanItem]:
    """One campaign's due, held-out and left-out items for its audience ``frame``
    (:func:`retain_cli.campaigns.audience.audience_members`), before the run's limits,
    whether the campaign is enabled or not: whom ``retain preview`` shows."""
    return CampaignDays(store, config, campaign, frame, as_of).items()
