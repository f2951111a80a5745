"""When each member of a campaign's audience is due, counted in the shop's days.

Every day here is a calendar day in the shop's time zone (``shop.timezone``): the day of an
order, a sign-up or a segment entry, a birthday, "today" at ``as_of``, and the repeat
interval. :class:`CampaignDays` is one campaign's view of its audience at ``as_of``: the new
messages due (:meth:`CampaignDays.items`) and, for messages an earlier run queued, whether
they should still go (:meth:`CampaignDays.recheck`): the customer still in the audience, the
trigger still the same event, not past the campaign's freshness (``fresh_for``), and no
``stop_when`` condition met since the series began.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.campaigns.model import FRESH_DAYS, LOYALTY_EVENTS, STOP_ENTERED, STOP_ORDERED
from retain_cli.campaigns.program import PROGRAM_REASON, TRANSACTIONAL, program_held
from retain_cli.errors import ConfigError, RetainError
from retain_cli.timeutil import from_iso, local_day, to_iso, zone

if TYPE_CHECKING:
    from retain_cli.campaigns.model import Campaign, CampaignConfig, Step
    from retain_cli.products.replenish import Due
    from retain_cli.store import Store

DUE = "due"
HELD_OUT = "held_out"
DEFERRED = "deferred"
SKIPPED = "skipped"
LEFT_OUT = "left_out"
#: up to this many audience members, the ledger is read for them only, not the campaign
FEW_MEMBERS = 500


@dataclass(slots=True)
class PlanItem:
    campaign: str
    step: int
    customer_ref: int
    customer_id: str
    email: str | None
    occurrence: str
    status: str  # due | held_out | deferred | skipped | left_out
    reason: str = ""
    recorded: bool = False  # already planned in the ledger by an earlier run
    variant: str | None = None  # the A/B variant it sends (None: the campaign's own message)

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
            "variant": self.variant or "",
            "reason": self.reason,
            "key": self.send_key,
        }


def holdout_score(campaign: str, customer_id: str) -> float:
    """A number in [0, 1) fixed by campaign and customer: held out when below the fraction."""
    digest = hashlib.sha256(f"{campaign}\0{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def variant_score(campaign: str, salt: str, customer_id: str) -> float:
    """A number in [0, 1) fixed by campaign, salt and customer, drawn apart from the
    holdout's (another hash input), so the variants split the recipients evenly."""
    digest = hashlib.sha256(f"variant\0{campaign}\0{salt}\0{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_variant(campaign: Campaign, customer_id: str) -> str | None:
    """The variant a customer gets: the one whose slice of [0, 1) (shares in file order)
    holds their score; None for a campaign without variants."""
    if not campaign.variants:
        return None
    score = variant_score(campaign.name, campaign.variant_salt, customer_id)
    edge = 0.0
    for variant in campaign.variants:
        edge += variant.share
        if score < edge:
            return variant.name
    return campaign.variants[-1].name  # rounding at the top end


def birthday_on_or_before(text: str | None, today: date) -> date | None:
    """The birthday's date nearest before or on ``today`` (this year or last); 29 February
    is the 28th in other years."""
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


def repeat_due(repeat: timedelta, last: datetime, as_of: datetime, tz: Any) -> tuple[bool, str]:
    """Whether a repeating campaign may go again at ``as_of`` after ``last``, and from when.
    An interval of a day or more is counted in the shop's days (``3d`` sent on the 1st: again
    on the 4th, whatever the hour a nightly run starts); a shorter one to the second."""
    if repeat >= timedelta(days=1):
        days = math.ceil(repeat / timedelta(days=1) - 1e-9)
        again = local_day(last, tz) + timedelta(days=days)
        return local_day(as_of, tz) >= again, again.isoformat()
    return as_of >= last + repeat, to_iso(last + repeat)


class CampaignDays:
    """One campaign's view of its audience (``frame``: audience_members) at ``as_of``."""

    def __init__(
        self,
        store: Store,
        config: CampaignConfig,
        campaign: Campaign,
        frame: Any,
        as_of: datetime,
        *,
        record_snapshots: bool = False,
        program: Collection[int] | None = None,
    ) -> None:
        """``program``: the customers the program holdout keeps out of marketing (read from
        the store when not given)."""
        self.campaign = campaign
        self.tz = zone(config.timezone)
        self.as_of = as_of
        self.today = local_day(as_of, self.tz)
        trigger = campaign.trigger
        self.fresh = campaign.fresh_days
        if self.fresh is None and trigger is not None:
            self.fresh = FRESH_DAYS[trigger.event]
        self.members: dict[int, tuple[str, str | None, bool, bool]] = {}
        if frame is not None and len(frame):
            columns = list(frame.columns)
            pos = [columns.index(n) for n in ("customer_id", "email", "consent", "suppressed")]
            for ref, values in zip(frame.index, frame.itertuples(index=False), strict=True):
                email = values[pos[1]]
                self.members[int(ref)] = (
                    str(values[pos[0]]),
                    str(email) if isinstance(email, str) and email else None,
                    bool(values[pos[2]]),
                    bool(values[pos[3]]),
                )
        refs = list(self.members)
        later = campaign.steps[1:]
        stops = {c for s in later for c in s.stop_when}
        local_as_of = as_of.astimezone(self.tz)
        self.events: dict[int, dict[str, str | None]] = {}
        self.entered: dict[int, date] = {}
        if refs and trigger is not None and trigger.event == "entered_segment":
            assert trigger.segment is not None
            self.entered = _entered_days(
                store, trigger.segment, local_as_of, refs, keep=record_snapshots
            )
        if refs and (
            (trigger is not None and trigger.event not in ("entered_segment", *LOYALTY_EVENTS))
            or STOP_ORDERED in stops
        ):
            self.events = store.customer_events(refs, to_iso(as_of))
        self.replenish: dict[int, list[Due]] = {}
        if refs and trigger is not None and trigger.event == "replenishment":
            self.replenish = _due_products(store, config, as_of, refs)
        self.promoted: dict[int, str] = {}
        if refs and trigger is not None and trigger.event == "promoter":
            self.promoted = store.survey_promoter_days(refs)
        self.loyalty: dict[int, tuple[date, str]] = {}
        if refs and trigger is not None and trigger.event in LOYALTY_EVENTS:
            from retain_cli.campaigns.loyalty import loyalty_events

            assert config.loyalty is not None  # the campaign file checks it
            self.loyalty = loyalty_events(store, config.loyalty, trigger.event, refs, as_of)
        self.refunded: dict[int, dict[str, bool]] = {}
        if refs and trigger is not None and trigger.event in ("first_order", "last_order"):
            self.refunded = store.refunded_trigger_orders(refs, to_iso(as_of))
        self.stop_segments: dict[str, dict[int, date]] = {}
        for condition in sorted(stops):
            if not (condition.startswith(STOP_ENTERED) and refs):
                continue
            segment = condition[len(STOP_ENTERED) :]
            try:
                self.stop_segments[segment] = _entered_days(
                    store, segment, local_as_of, refs, keep=record_snapshots
                )
            except RetainError as exc:
                step = next(s.index for s in later if condition in s.stop_when)
                raise ConfigError(
                    f"{config.path}: campaign {campaign.name!r}: key "
                    f"'steps[{step}].stop_when': {exc}"
                ) from None
        # the ledger is only ever looked up for members: for a few (one customer explained),
        # only their rows are read
        few = refs if len(refs) <= FEW_MEMBERS else None
        self.history = store.ledger_history(campaign.name, few)
        self.states = {
            s.index: store.ledger_step_states(campaign.name, s.index, few) for s in later
        }
        self.states[campaign.steps[0].index] = store.ledger_step_states(
            campaign.name, campaign.steps[0].index, few
        )
        self.first_sent = (
            store.ledger_step_sent_at(campaign.name, campaign.steps[0].index, few) if later else {}
        )
        # the variant each series began with: its later steps keep it
        self.first_variants = (
            store.ledger_step_variants(campaign.name, campaign.steps[0].index, few)
            if later and campaign.variants
            else {}
        )
        self.sent_occurrences: dict[int, list[str]] = {}
        for sent_ref, occurrence in self.first_sent:
            self.sent_occurrences.setdefault(sent_ref, []).append(occurrence)
        self.holds, self.asked = owner_holds(store, config, campaign, refs)
        if campaign.kind == TRANSACTIONAL or not refs:
            program = ()
        elif program is None:
            program = program_held(store, refs)
        self.program: Collection[int] = program

    # --- days ------------------------------------------------------------------------------

    def _day(self, text: str | None) -> tuple[date, str | None] | None:
        """A stored timestamp (or day) as the shop's day, and the UTC day it was counted as
        before days were local (so a message sent under the old key is not sent again)."""
        if not text:
            return None
        try:
            if len(text) <= 10:
                return date.fromisoformat(text[:10]), None
            day = local_day(from_iso(text), self.tz)
        except ValueError:
            return None
        legacy = text[:10]
        return day, (legacy if legacy != day.isoformat() else None)

    def event(self, ref: int) -> tuple[date, str, str | None] | None:
        """(event day, occurrence, the occurrence as a UTC day if different) for a member,
        or None when the trigger's event does not exist for them."""
        trigger = self.campaign.trigger
        if trigger is None:
            occurrence = "1" if self.campaign.repeat is None else self.today.isoformat()
            return self.today, occurrence, None
        if trigger.event == "entered_segment":
            day = self.entered.get(ref)
            return None if day is None else (day, day.isoformat(), None)
        if trigger.event in LOYALTY_EVENTS:
            loyal = self.loyalty.get(ref)
            return None if loyal is None else (loyal[0], loyal[1], None)
        if trigger.event == "replenishment":
            chosen = self._replenishment(ref)
            return None if chosen is None else (chosen.due, chosen.occurrence, None)
        events = self.events.get(ref, {})
        if trigger.event == "promoter":
            events = {"promoter": self.promoted.get(ref)}
        if trigger.event == "birthday":
            birthday = birthday_on_or_before(events.get("birthday"), self.today)
            return None if birthday is None else (birthday, birthday.isoformat(), None)
        found = self._day(events.get(trigger.event))
        if found is None:
            return None
        return found[0], found[0].isoformat(), found[1]

    def _replenishment(self, ref: int) -> Due | None:
        """The product a customer is reminded of now: the earliest due (and not stale) one
        not reminded of yet, else the earliest due one, else the next to come due."""
        items = self.replenish.get(ref, [])
        if not items:
            return None
        assert self.campaign.trigger is not None
        offset = timedelta(days=self.campaign.trigger.days + self.campaign.steps[0].days)
        ready = [
            d for d in items if d.due + offset <= self.today and not self.stale(d.due + offset)
        ]
        states = self.states.get(self.campaign.steps[0].index, {})
        fresh: list[Due | None] = [d for d in ready if (ref, d.occurrence) not in states]
        later = [d for d in items if d.due + offset > self.today]
        return (fresh or ready or later or [None])[0]

    def _refunded(self, ref: int) -> bool:
        trigger = self.campaign.trigger
        return trigger is not None and self.refunded.get(ref, {}).get(trigger.event, False)

    def stale(self, due: date) -> bool:
        return self.fresh is not None and self.today > due + timedelta(days=self.fresh)

    def _state(self, step: int, ref: int, occurrence: str, legacy: str | None) -> str | None:
        states = self.states.get(step, {})
        found = states.get((ref, occurrence))
        if found is None and legacy:
            found = states.get((ref, legacy))
        return found

    def _sent(self, ref: int, occurrence: str, legacy: str | None) -> str | None:
        found = self.first_sent.get((ref, occurrence))
        if found is None and legacy:
            found = self.first_sent.get((ref, legacy))
        return found

    def stopped(self, ref: int, step: Step, began: str) -> str | None:
        """Why a later step is not sent: a ``stop_when`` condition met since step 1 went out
        (at ``began``, a UTC timestamp)."""
        for condition in step.stop_when:
            if condition == STOP_ORDERED:
                last = self.events.get(ref, {}).get("last_order")
                if last and last > began:
                    day = local_day(from_iso(last), self.tz)
                    return f"stopped (ordered on {day}, after step 1 went out)"
            elif condition.startswith(STOP_ENTERED):
                segment = condition[len(STOP_ENTERED) :]
                entered = self.stop_segments.get(segment, {}).get(ref)
                if entered is not None and entered >= local_day(from_iso(began), self.tz):
                    return f"stopped (entered segment {segment} on {entered}, after step 1)"
        return None

    def held(self, ref: int, step: Step) -> str | None:
        """Why the owner keeps this customer out of an automated message (a ``human_only``
        tag, negative feedback not answered yet); a ``channel: task`` step is for the owner,
        so it is not held."""
        return None if step.is_task else self.holds.get(ref)

    def programmed(self, ref: int) -> str | None:
        """A marketing campaign: the program holdout keeps this customer out."""
        return PROGRAM_REASON if ref in self.program else None

    def fatigued(self, ref: int) -> str | None:
        """A survey campaign: asked by a survey within the campaign's fatigue days."""
        survey = self.campaign.survey
        last = self.asked.get(ref)
        if survey is None or not last:
            return None
        day = local_day(from_iso(last), self.tz)
        if self.today < day + timedelta(days=survey.fatigue_days):
            return f"survey fatigue (asked on {day}; no survey within {survey.fatigue_days}d)"
        return None

    def _consent_reason(self, email: str | None, consent: bool, suppressed: bool) -> str | None:
        if not email:
            return "no e-mail address"
        if suppressed:
            return "opted out"
        if not consent:
            return "no consent"
        return None

    # --- new messages ----------------------------------------------------------------------

    def items(self) -> list[PlanItem]:
        """Due, held-out and left-out items (nothing already recorded in the ledger)."""
        campaign = self.campaign
        trigger = campaign.trigger
        first, later = campaign.steps[0], campaign.steps[1:]
        offset = trigger.days if trigger is not None else 0
        out: list[PlanItem] = []
        for ref, (customer_id, email, consent, suppressed) in self.members.items():
            found = self.event(ref)
            if found is None:
                continue
            event_day, occurrence, legacy = found
            item = _Maker(campaign.name, ref, customer_id, email)
            why_not = self._consent_reason(email, consent, suppressed)
            # later steps of an occurrence whose first step went out (the current event's;
            # for a campaign without a trigger, every occurrence of step 1 sent to them)
            started = [occurrence] if trigger is not None else self.sent_occurrences.get(ref, [])
            for step in later:
                for began in sorted(started):
                    sent_at = self._sent(ref, began, legacy if trigger is not None else None)
                    if sent_at is None or self._state(step.index, ref, began, legacy):
                        continue
                    if trigger is None:
                        start = local_day(from_iso(sent_at), self.tz)
                        due = start + timedelta(days=step.days - first.days)
                    else:
                        due = event_day + timedelta(days=offset + step.days)
                    if self.today < due or self.stale(due):
                        continue
                    reason = (
                        self.stopped(ref, step, sent_at)
                        or why_not
                        or self.held(ref, step)
                        or self.programmed(ref)
                    )
                    status, kept = (LEFT_OUT if reason else DUE), self._kept(ref, began)
                    out.append(item(step.index, began, status, reason or "", kept))

            due = event_day + timedelta(days=offset + first.days)
            if self.today < due or self.stale(due):
                continue
            if self._refunded(ref):
                # nobody is thanked for (or asked about) an order they got their money back for
                out.append(item(first.index, occurrence, LEFT_OUT, "order refunded in full"))
                continue
            state = self._state(first.index, ref, occurrence, legacy)
            if state is not None:
                if state != "planned":
                    what = "held out" if state == "held_out" else f"already {state}"
                    out.append(item(first.index, occurrence, LEFT_OUT, f"{what} (this occurrence)"))
                continue
            past = self.history.get(ref)
            if past is not None and past["last"]:
                if campaign.repeat is None:
                    what = "held out earlier" if past["held_out"] else "already sent"
                    reason = f"{what} (repeat: never; last {past['last']})"
                    out.append(item(first.index, occurrence, LEFT_OUT, reason))
                    continue
                ok, again = repeat_due(campaign.repeat, from_iso(past["last"]), self.as_of, self.tz)
                if not ok:
                    reason = f"repeat not due (last {past['last']}), again from {again}"
                    out.append(item(first.index, occurrence, LEFT_OUT, reason))
                    continue
            why_not = why_not or self.held(ref, first) or self.fatigued(ref) or self.programmed(ref)
            if why_not:
                out.append(item(first.index, occurrence, LEFT_OUT, why_not))
            elif campaign.holdout and holdout_score(campaign.name, customer_id) < campaign.holdout:
                out.append(item(first.index, occurrence, HELD_OUT, "holdout"))
            else:
                out.append(
                    item(first.index, occurrence, DUE, "", assign_variant(campaign, customer_id))
                )
        return out

    def _kept(self, ref: int, began: str) -> str | None:
        """The variant a later step goes as: the one its series began with (None: the
        campaign's own message, also when that variant has left the campaign file)."""
        name = self.first_variants.get((ref, began))
        return name if name is not None and self.campaign.variant(name) is not None else None

    # --- queued messages -------------------------------------------------------------------

    def recheck(self, row: Mapping[str, Any]) -> str | None:
        """Why a message an earlier run queued (a ledger row still planned) should not go
        now, or None when it still should."""
        campaign = self.campaign
        ref = int(row["customer_ref"])
        member = self.members.get(ref)
        if member is None:
            return f"no longer in the audience ({campaign.audience.describe()})"
        _, email, consent, suppressed = member
        if not email:
            return "no e-mail address any more"
        if suppressed:
            return "opted out after it was planned"
        if not consent:
            return "no marketing consent any more"
        steps = {s.index: s for s in campaign.steps}
        step = steps.get(int(row["step"]))
        if step is None:
            return f"the campaign has no step {row['step']} any more"
        if (held := self.held(ref, step) or self.programmed(ref)) is not None:
            return held
        variant = row.get("variant")
        if variant is not None and campaign.variant(str(variant)) is None:
            return f"variant {variant} is no longer in the campaign file"
        first = campaign.steps[0]
        occurrence = str(row["occurrence"])
        trigger = campaign.trigger
        if trigger is not None and trigger.event == "replenishment":
            items = {d.occurrence: d for d in self.replenish.get(ref, [])}
            if occurrence not in items:
                product = occurrence.partition(" ")[2]
                again = [d for d in items.values() if d.product == product]
                if again:
                    return f"bought {again[0].name} again on {again[0].last_bought}"
                return "no longer due (the product's interval is gone)"
            due = items[occurrence].due + timedelta(days=trigger.days + step.days)
        elif trigger is not None:
            found = self.event(ref)
            if found is None:
                if trigger.event == "entered_segment":
                    return f"no longer in segment {trigger.segment}"
                return f"the trigger no longer applies (no {trigger.event} any more)"
            event_day, current, legacy = found
            if occurrence not in (current, legacy) and trigger.event != "birthday":
                if trigger.event == "last_order":
                    return f"a newer order since (last order now {event_day})"
                return f"the trigger moved on ({trigger.event} now {event_day})"
            if step.index == first.index and self._refunded(ref):
                return "order refunded in full"
            try:
                day = date.fromisoformat(occurrence[:10])
            except ValueError:
                day = event_day
            if trigger.event in LOYALTY_EVENTS:
                day = event_day  # the occurrence names the recalculation or expiry day
            due = day + timedelta(days=trigger.days + step.days)
        else:
            sent_at = self.first_sent.get((ref, occurrence))
            if step.index != first.index and sent_at is not None:
                due = local_day(from_iso(sent_at), self.tz) + timedelta(days=step.days - first.days)
            else:
                due = local_day(from_iso(str(row["planned_at"])), self.tz)
        if self.stale(due):
            days = "day" if self.fresh == 1 else "days"
            return f"too late (due {due}; fresh for {self.fresh} {days})"
        if step.index != first.index:
            began = self.first_sent.get((ref, occurrence))
            if began is not None:
                return self.stopped(ref, step, began)
        return None


class _Maker:
    """PlanItems for one customer of one campaign."""

    __slots__ = ("campaign", "customer_id", "email", "ref")

    def __init__(self, campaign: str, ref: int, customer_id: str, email: str | None) -> None:
        self.campaign, self.ref, self.customer_id, self.email = campaign, ref, customer_id, email

    def __call__(
        self, step: int, occurrence: str, status: str, reason: str = "", variant: str | None = None
    ) -> PlanItem:
        return PlanItem(
            self.campaign,
            step,
            self.ref,
            self.customer_id,
            self.email,
            occurrence,
            status,
            reason,
            variant=variant,
        )


def owner_holds(
    store: Store, config: CampaignConfig, campaign: Campaign, refs: Sequence[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """(customer_ref -> why they are held out of automated messages, customer_ref -> when a
    survey last asked them (survey campaigns only))."""
    if not refs:
        return {}, {}
    holds = store.campaign_holds(refs)
    asked: dict[int, str] = {}
    if campaign.survey is not None:
        surveys = [c.name for c in config.campaigns if c.survey is not None]
        asked = store.survey_last_asked(surveys)
    return holds, asked


def _entered_days(
    store: Store, segment: str, as_of: datetime, refs: Sequence[int], *, keep: bool = False
) -> dict[int, date]:
    """customer_ref -> the day they (last) entered ``segment``, from segment snapshots (the
    first snapshot is a baseline: a new install does not mail every current member).
    ``as_of`` is on the shop's wall clock, so the snapshot is the shop's day; it is kept
    only when ``keep`` (a real send), else computed and forgotten."""
    from retain_cli.analytics.segment_snapshots import entered_on

    wanted = set(refs)
    days = entered_on(store, segment, as_of, keep=keep)
    return {ref: day for ref, day in days.items() if ref in wanted}


def _due_products(
    store: Store, config: CampaignConfig, as_of: datetime, refs: Sequence[int]
) -> dict[int, list[Due]]:
    """customer_ref -> the products they bought that have a repurchase interval, with the
    day each is due again (earliest first)."""
    from retain_cli.campaigns.offers import ProductOffers

    offers = ProductOffers(store, config, as_of)
    offers.batch(refs)
    return {ref: items for ref in refs if (items := offers.due(ref))}
