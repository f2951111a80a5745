"""Who is due for which campaign now, and who is left out and why.

For each enabled campaign (or the ones named), every member of its audience is looked at:

- **trigger**: ``first_order``/``last_order``/``signup`` + ``days``: due on the day the event
  happened ``days`` ago (plus the step's own ``days`` for later steps), and for up to
  ``CATCH_UP_DAYS`` after that, so a run missed by cron is caught up, but a new install does
  not mail about events from years ago. ``birthday``: on the day (month-day) in
  ``limits.timezone`` (29 February is celebrated on the 28th in other years), caught up for
  ``BIRTHDAY_CATCH_UP_DAYS``. ``entered_segment``: the day a segment snapshot first shows the
  customer in the segment. Without a trigger, the audience itself is the trigger: due now.
- **steps**: step 1 as above; step k is due ``days`` after the trigger event (untriggered
  campaigns: after step 1 was sent), only once step 1 of the same occurrence was sent.
- **repeat**: ``never``: once per customer for the campaign; an interval: again only when
  the last message (or holdout) of this campaign is older than that.
- the send key is ``campaign:step:customer_id:occurrence``: occurrence is the trigger event's
  date, ``1`` for a one-off audience campaign, or the day of the run for a repeating one.

Left out, with the reason: no consent, opted out, no e-mail address, already sent (the key is
in the ledger), repeat not due, order refunded in full (a ``first_order``/``last_order``
trigger whose order was refunded in full; cancelled orders never trigger at all). Held out:
the campaign's holdout (a hash of campaign and customer, the same in every run). Deferred
(recorded, sent by a later run): frequency cap, daily limit, quiet hours.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.errors import UsageError
from retain_cli.timeutil import from_iso, to_iso

if TYPE_CHECKING:
    from retain_cli.campaigns.model import Campaign, CampaignConfig
    from retain_cli.store import Store

CATCH_UP_DAYS = 7
BIRTHDAY_CATCH_UP_DAYS = 2

DUE = "due"
HELD_OUT = "held_out"
DEFERRED = "deferred"
LEFT_OUT = "left_out"


@dataclass(slots=True)
class PlanItem:
    campaign: str
    step: int
    customer_ref: int
    customer_id: str
    email: str | None
    occurrence: str
    status: str  # due | held_out | deferred | left_out
    reason: str = ""
    recorded: bool = False  # already planned in the ledger by an earlier run

    @property
    def send_key(self) -> str:
        return f"{self.campaign}:{self.step}:{self.customer_id}:{self.occurrence}"

    def as_row(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "step": self.step,
            "customer_id": self.customer_id,
            "email": self.email,
            "status": self.status,
            "reason": self.reason,
            "key": self.send_key,
        }


@dataclass(slots=True)
class Plan:
    as_of: datetime
    campaigns: list[str]
    items: list[PlanItem] = field(default_factory=list)
    quiet: str | None = None  # set when the run falls in quiet hours
    day_budget: int | None = None  # messages the daily limit still allows

    def count(self, status: str) -> int:
        return sum(1 for item in self.items if item.status == status)

    def ledger_rows(self) -> list[dict[str, Any]]:
        """Rows to record: due and deferred items as planned, holdout as held_out."""
        rows = []
        for item in self.items:
            if item.recorded or item.status == LEFT_OUT or not item.email:
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
                }
            )
        return rows

    def summary(self) -> list[dict[str, Any]]:
        """Per campaign: due, held out, deferred, and left out per reason."""
        out = []
        for name in self.campaigns:
            items = [i for i in self.items if i.campaign == name]
            counts = Counter(i.status for i in items)
            reasons = Counter(_reason_key(i.reason) for i in items if i.status == LEFT_OUT)
            deferred = Counter(_reason_key(i.reason) for i in items if i.status == DEFERRED)
            out.append(
                {
                    "campaign": name,
                    "due": counts[DUE],
                    "held_out": counts[HELD_OUT],
                    "deferred": counts[DEFERRED],
                    "left_out": counts[LEFT_OUT],
                    "why_left_out": ", ".join(f"{k} {v}" for k, v in reasons.most_common()),
                    "why_deferred": ", ".join(f"{k} {v}" for k, v in deferred.most_common()),
                }
            )
        return out


def _reason_key(reason: str) -> str:
    return reason.split(" (", 1)[0].split(":", 1)[0]


def holdout_score(campaign: str, customer_id: str) -> float:
    """A number in [0, 1) fixed by campaign and customer: held out when below the fraction."""
    digest = hashlib.sha256(f"{campaign}\0{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


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


def _birthday_this_year(text: str | None, today: date) -> date | None:
    """The birthday's date nearest before or on ``today`` (this year or last)."""
    if not text:
        return None
    month_day = text[-5:]
    try:
        month, day = int(month_day[:2]), int(month_day[3:])
    except ValueError:
        return None
    for year in (today.year, today.year - 1):
        try:
            moment = date(year, month, day)
        except ValueError:
            if month == 2 and day == 29:
                moment = date(year, 2, 28)
            else:
                return None
        if moment <= today:
            return moment
    return None


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _entered_days(
    store: Store, segment: str, as_of: datetime, refs: Sequence[int]
) -> dict[int, date]:
    """customer_ref -> the day they (last) entered ``segment``, from segment snapshots (the
    first snapshot is a baseline: a new install does not mail every current member)."""
    from retain_cli.analytics.segment_snapshots import entered_on

    wanted = set(refs)
    return {ref: day for ref, day in entered_on(store, segment, as_of).items() if ref in wanted}


def make_plan(
    store: Store,
    config: CampaignConfig,
    *,
    campaigns: Sequence[str] = (),
    as_of: datetime,
    transport: str | None = None,
    now: datetime | None = None,
) -> Plan:
    """Everyone due for each chosen campaign, and everyone left out with the reason.

    Triggers are evaluated at ``as_of``; the limits (quiet hours, frequency cap, daily
    budget) at ``now`` (default: the real time; the moment a send would happen)."""
    from retain_cli.campaigns.audience import audience_members
    from retain_cli.campaigns.limits import effective_limits, in_quiet_hours, quiet_hours_text
    from retain_cli.timeutil import utc_now

    moment = now or utc_now()
    chosen = selected_campaigns(config, campaigns)
    plan = Plan(as_of=as_of, campaigns=[c.name for c in chosen])
    limits = effective_limits(config.limits, transport or config.transport)
    if in_quiet_hours(limits, moment):
        plan.quiet = quiet_hours_text(limits)
    gap = limits.min_hours_between_messages
    busy: dict[int, str] = {}
    if gap:
        busy = store.ledger_busy_customers(to_iso(moment - timedelta(hours=gap)))
    if limits.per_day:
        used = store.ledger_count_sent_since(to_iso(moment - timedelta(hours=24)))
        plan.day_budget = max(limits.per_day - used, 0)

    # messages recorded by earlier runs and not sent yet come first
    for row in store.ledger_pending_rows(plan.campaigns):
        plan.items.append(
            PlanItem(
                campaign=row["campaign"],
                step=row["step"],
                customer_ref=row["customer_ref"],
                customer_id=row["customer_id"],
                email=row["email"],
                occurrence=row["occurrence"],
                status=DUE,
                reason=f"planned {row['planned_at']}",
                recorded=True,
            )
        )
    pending_keys = {item.send_key for item in plan.items}

    given: set[int] = set()
    for campaign in chosen:
        frame = audience_members(store, config, campaign, as_of)
        for item in _campaign_items(store, config, campaign, frame, as_of):
            if item.send_key in pending_keys:
                continue
            if item.status == DUE and gap:
                last = busy.get(item.customer_ref)
                if item.customer_ref in given or last is not None:
                    item.status = DEFERRED
                    when = "a message is waiting" if last == "pending" else f"last sent {last}"
                    if last is None:
                        when = "another campaign is due for them in this run"
                    item.reason = f"frequency cap ({gap:g}h between messages; {when})"
            if item.status == DUE:
                given.add(item.customer_ref)
            plan.items.append(item)

    budget = plan.day_budget
    for item in plan.items:
        if item.status != DUE:
            continue
        if plan.quiet:
            item.status = DEFERRED
            item.reason = plan.quiet
        elif budget is not None:
            if budget <= 0:
                item.status = DEFERRED
                item.reason = f"rate limit (per_day {limits.per_day} reached; next run)"
            budget -= 1
    return plan


def _campaign_items(
    store: Store,
    config: CampaignConfig,
    campaign: Campaign,
    frame: Any,
    as_of: datetime,
) -> list[PlanItem]:
    """Due, held-out and left-out items for one campaign's audience."""
    from zoneinfo import ZoneInfo

    if frame is None or len(frame) == 0:
        return []
    refs = [int(r) for r in frame.index]
    history = store.ledger_history(campaign.name)
    trigger = campaign.trigger
    today_utc = as_of.date()
    today_local = as_of.astimezone(ZoneInfo(config.limits.timezone)).date()
    events: dict[int, dict[str, str | None]] = {}
    entered: dict[int, date] = {}
    refunded: dict[int, dict[str, bool]] = {}
    if trigger is not None:
        if trigger.event == "entered_segment":
            assert trigger.segment is not None
            entered = _entered_days(store, trigger.segment, as_of, refs)
        else:
            events = store.customer_events(refs, to_iso(as_of))
        if trigger.event in ("first_order", "last_order"):
            refunded = store.refunded_trigger_orders(refs, to_iso(as_of))
    first_step = campaign.steps[0]
    later_steps = campaign.steps[1:]
    step_states = {
        s.index: store.ledger_step_states(campaign.name, s.index) for s in campaign.steps
    }
    first_sent = store.ledger_step_sent_at(campaign.name, first_step.index) if later_steps else {}
    sent_occurrences: dict[int, list[str]] = {}
    for sent_ref, sent_occurrence in first_sent:
        sent_occurrences.setdefault(sent_ref, []).append(sent_occurrence)

    items: list[PlanItem] = []
    columns = list(frame.columns)
    pos = {name: columns.index(name) for name in ("customer_id", "email", "consent", "suppressed")}
    for ref, values in zip(refs, frame.itertuples(index=False, name=None), strict=True):
        customer_id = str(values[pos["customer_id"]])
        email = values[pos["email"]]
        email = str(email) if isinstance(email, str) and email else None
        consent = bool(values[pos["consent"]])
        suppressed = bool(values[pos["suppressed"]])

        def item(
            step: int,
            occurrence: str,
            status: str,
            reason: str = "",
            *,
            _ref: int = ref,
            _customer_id: str = customer_id,
            _email: str | None = email,
        ) -> PlanItem:
            return PlanItem(
                campaign=campaign.name,
                step=step,
                customer_ref=_ref,
                customer_id=_customer_id,
                email=_email,
                occurrence=occurrence,
                status=status,
                reason=reason,
            )

        # when is the event, and which occurrence is it
        if trigger is None:
            event_day = today_utc
            catch_up: int | None = None
            occurrence = "1" if campaign.repeat is None else today_utc.isoformat()
        elif trigger.event == "birthday":
            event_day_or_none = _birthday_this_year(
                events.get(ref, {}).get("birthday"), today_local
            )
            if event_day_or_none is None:
                continue
            event_day = event_day_or_none
            catch_up = BIRTHDAY_CATCH_UP_DAYS
            occurrence = event_day.isoformat()
        elif trigger.event == "entered_segment":
            if ref not in entered:
                continue
            event_day = entered[ref]
            catch_up = CATCH_UP_DAYS
            occurrence = event_day.isoformat()
        else:
            event_day_or_none = _day(events.get(ref, {}).get(trigger.event))
            if event_day_or_none is None:
                continue
            event_day = event_day_or_none
            catch_up = CATCH_UP_DAYS
            occurrence = event_day.isoformat()
        today = today_local if trigger is not None and trigger.event == "birthday" else today_utc
        offset = trigger.days if trigger is not None else 0

        # later steps of an occurrence whose first step went out (the current event's; for
        # a campaign without a trigger, every occurrence of step 1 sent to the customer)
        started = [occurrence] if trigger is not None else sorted(sent_occurrences.get(ref, ()))
        for step, began in ((s, o) for s in later_steps for o in started):
            if (ref, began) not in first_sent:
                continue
            if step_states[step.index].get((ref, began)) is not None:
                continue  # already recorded: nothing new to say
            if trigger is None:
                due_day = from_iso(first_sent[(ref, began)]).date() + timedelta(
                    days=step.days - first_step.days
                )
            else:
                due_day = event_day + timedelta(days=offset + step.days)
            if today < due_day or (catch_up is not None and today > due_day + timedelta(catch_up)):
                continue
            if not email:
                items.append(item(step.index, began, LEFT_OUT, "no e-mail address"))
            elif suppressed:
                items.append(item(step.index, began, LEFT_OUT, "opted out"))
            elif not consent:
                items.append(item(step.index, began, LEFT_OUT, "no consent"))
            else:
                items.append(item(step.index, began, DUE))

        # the first step
        due_day = event_day + timedelta(days=offset + first_step.days)
        if today < due_day or (catch_up is not None and today > due_day + timedelta(catch_up)):
            continue
        if trigger is not None and refunded.get(ref, {}).get(trigger.event):
            # nobody is thanked for (or asked about) an order they got their money back for
            items.append(item(first_step.index, occurrence, LEFT_OUT, "order refunded in full"))
            continue
        state = step_states[first_step.index].get((ref, occurrence))
        if state is not None:
            if state == "planned":
                continue
            what = "held out" if state == "held_out" else f"already {state}"
            items.append(item(first_step.index, occurrence, LEFT_OUT, f"{what} (this occurrence)"))
            continue
        past = history.get(ref)
        if past is not None and past["last"]:
            if campaign.repeat is None:
                what = "held out earlier" if past["held_out"] else "already sent"
                items.append(
                    item(
                        first_step.index,
                        occurrence,
                        LEFT_OUT,
                        f"{what} (repeat: never; last {past['last']})",
                    )
                )
                continue
            if as_of - from_iso(past["last"]) < campaign.repeat:
                items.append(
                    item(
                        first_step.index,
                        occurrence,
                        LEFT_OUT,
                        f"repeat not due (last {past['last']})",
                    )
                )
                continue
        if not email:
            items.append(item(first_step.index, occurrence, LEFT_OUT, "no e-mail address"))
        elif suppressed:
            items.append(item(first_step.index, occurrence, LEFT_OUT, "opted out"))
        elif not consent:
            items.append(item(first_step.index, occurrence, LEFT_OUT, "no consent"))
        elif campaign.holdout and holdout_score(campaign.name, customer_id) < campaign.holdout:
            items.append(item(first_step.index, occurrence, HELD_OUT, "holdout"))
        else:
            items.append(item(first_step.index, occurrence, DUE))
    return items


def campaign_items(
    store: Store, config: CampaignConfig, campaign: Campaign, as_of: datetime, frame: Any
) -> list[PlanItem]:
    """One campaign's due, held-out and left-out items for its audience ``frame``
    (:func:`retain_cli.campaigns.audience.audience_members`), before the run's limits,
    whether the campaign is enabled or not: whom ``retain preview`` shows."""
    return _campaign_items(store, config, campaign, frame, as_of)
