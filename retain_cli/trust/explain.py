"""``retain explain CUSTOMER``: everything retain decides about one customer, and why.

The profile; consent and opt-out with where each came from and when; the figures behind each
segment (:mod:`.figures`); the prediction with its inputs; and for every campaign what
``retain plan`` would do with them now. That last part is not computed again here: it is
:func:`retain_cli.campaigns.planner.make_plan` itself, restricted to this customer (the
same audience, trigger, consent, holdout, repeat and limit rules, the same code). Only when
the plan has nothing for them does this module say why not, with the planner's own pieces
(:class:`retain_cli.campaigns.due.CampaignDays`): outside the audience (the segment they are
in, or the first clause of the filter that failed), or not due yet (and when), or too late.
What the owner's hand holds back on top of the plan is added to each decision as ``blocked``
(what ``retain send`` does after planning): a pause (``retain pause``) and the approval
queue (``approval: required``: waiting, rejected, or approved); a ``human_only`` tag or
unanswered negative feedback is the plan's own reason, and the consent section names it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from retain_cli.campaigns.due import CampaignDays, PlanItem
    from retain_cli.campaigns.model import Campaign, CampaignConfig
    from retain_cli.campaigns.planner import Plan
    from retain_cli.store import Store
    from retain_cli.timeutil import Clock

NOT_DUE = "not_due"
NOT_IN_AUDIENCE = "not_in_audience"
DISABLED = "disabled"


@dataclass
class Section:
    """A titled list of (label, text) lines."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)

    def add(self, label: str, text: Any) -> None:
        if text is not None and text != "":
            self.rows.append((label, str(text)))


@dataclass
class Decision:
    """What a campaign does with the customer: the plan's status (due, deferred, held_out,
    skipped, left_out), or not_due / not_in_audience / disabled, and why."""

    campaign: str
    status: str
    reason: str
    step: int | None = None
    key: str | None = None
    due_on: str | None = None
    note: str | None = None  # what else may hold a due message back (the daily limit)
    # what the owner's hand holds back on top of the plan: ("pause" | "approval", why)
    blocks: list[tuple[str, str]] = field(default_factory=list)

    @property
    def blocked(self) -> str:
        return "; ".join(f"blocked: {why}" for _, why in self.blocks)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "blocks"}
        out["blocked_by"] = [kind for kind, _ in self.blocks]
        out["blocked"] = [why for _, why in self.blocks]
        return out


@dataclass
class Explanation:
    ref: int
    customer_id: str
    as_of: datetime
    timezone: str
    sections: list[Section]
    decisions: list[Decision]
    items: list[PlanItem]  # the plan's own items for this customer
    notes: list[str]
    data: dict[str, Any]  # the same, typed, for --format json

    def as_json(self) -> dict[str, Any]:
        return {
            **self.data,
            "as_of": self.as_of.isoformat(),
            "timezone": self.timezone,
            "campaigns": [d.as_dict() for d in self.decisions],
            "notes": self.notes,
        }


def explain_customer(
    store: Store,
    key: str,
    *,
    config_file: Path | None,
    as_of: datetime | None = None,
    clock: Clock | None = None,
    transport: str | None = None,
    segments_file: Path | None = None,
    campaigns: tuple[CampaignConfig | None, list[str]] | None = None,
) -> Explanation:
    """Explain the customer ``key`` names (e-mail, id or platform id; NotFound names the
    closest customers) at ``as_of`` (default: the clock's now, as ``retain plan``).
    ``campaigns``: :func:`read_campaigns` of ``config_file``, when the caller has read it."""
    import numpy as np

    from retain_cli.analytics.customers import customer_profile
    from retain_cli.analytics.features import core_features
    from retain_cli.campaigns.audience import customer_frame
    from retain_cli.timeutil import current_clock
    from retain_cli.trust.figures import lifecycle_of, prediction_of, rfm_of

    profile = customer_profile(store, key)
    ref = profile.ref
    # the plan's frames need pandas (about 0.3 s to import): it loads while the shop's
    # figures are read and computed (a kept fit predicts without scipy)
    _preload(["pandas"])
    clock = clock or current_clock()
    as_of = as_of or clock.now()
    config, notes = campaigns if campaigns is not None else read_campaigns(config_file)
    notes = list(notes)
    timezone = config.timezone if config is not None else "UTC"
    sections: list[Section] = []
    data: dict[str, Any] = {"customer": profile.as_json()}

    about = Section("Customer")
    for label, value in profile.summary().items():
        if label not in ("accepts_marketing", "suppressed", "can_email"):
            about.add(label, value)
    sections.append(about)
    sections.append(_consent(store, profile, data))

    core = core_features(store, as_of)
    where = int(np.searchsorted(core.customer, ref))
    has_orders = where < len(core.customer) and int(core.customer[where]) == ref
    theirs: dict[str, str] = {}
    figures = Section("Segments")
    if has_orders:
        rfm = rfm_of(core, where)
        theirs["rfm"] = rfm.segment
        figures.add(
            "rfm", f"{rfm.segment}: R {rfm.scores[0]}, F {rfm.scores[1]}, M {rfm.scores[2]}"
        )
        for name in ("R", "F", "M", "FM"):
            figures.add(f"  {name}", rfm.values[name])
        for name in ("R", "F", "M"):
            figures.add(f"  {name} scores", rfm.ranges[name])
        for change in rfm.change:
            figures.add("  would change", change)
        life = lifecycle_of(core, where)
        theirs["lifecycle"] = life.segment
        figures.add("lifecycle", f"{life.segment}: {life.reason}")
        figures.add("  G", life.gap)
        for change in life.change:
            figures.add("  would change", change)
        data["rfm"] = vars(rfm)
        data["lifecycle"] = vars(life)
    else:
        theirs["rfm"] = theirs["lifecycle"] = "prospect"
        figures.add("rfm, lifecycle", f"prospect: no countable order by {as_of.date()}")
    frame = customer_frame(store, as_of, [ref])
    custom = _custom_segments(frame, segments_file, figures)
    theirs["custom"] = next((c["segment"] for c in custom if c["member"]), "(none)")
    data["custom_segments"] = custom
    sections.append(figures)

    guess = Section("Prediction (as 'retain predict', 90 days ahead)")
    predicted = prediction_of(store, core, ref) if has_orders else None
    if predicted is None:
        guess.add("prediction", "none: no countable order yet")
    else:
        guess.add("method", predicted.method)
        guess.add("inputs", ", ".join(f"{k} {v:g}" for k, v in predicted.inputs.items()))
        guess.add("p_alive", f"{predicted.p_alive:.2f} (churn risk {predicted.churn_risk})")
        guess.add("expected orders", f"{predicted.expected_orders:.2f}")
        guess.add("predicted value", f"{predicted.predicted_clv:,.2f}")
        for change in predicted.change:
            guess.add("would change", change)
        for notice in predicted.notices:
            guess.add("note", notice)
        data["prediction"] = vars(predicted)
    sections.append(guess)

    decisions: list[Decision] = []
    items: list[PlanItem] = []
    if config is not None:
        try:
            plan = _plan(store, config, ref, as_of, clock, transport, frame)
        except ConfigError as exc:
            notes.append(f"campaigns are not explained: {exc}")
        else:
            items = [i for i in plan.items if i.customer_ref == ref]
            decisions = _decisions(config, plan, items, ref, frame, theirs)
            notes.extend(_owner_hand(store, config, decisions, ref))
            if plan.quiet:
                notes.append(plan.quiet)
    sections.append(_messages(store, ref))
    return Explanation(
        ref, profile.customer_id, as_of, timezone, sections, decisions, items, notes, data
    )


def _preload(modules: list[str]) -> None:
    import importlib
    import threading

    def load() -> None:
        for module in modules:
            importlib.import_module(module)

    threading.Thread(target=load, name="preload").start()


def read_campaigns(path: Path | None) -> tuple[CampaignConfig | None, list[str]]:
    """The campaign file (``--config``, else the default), or None with a note saying why
    campaigns are not explained."""
    from retain_cli.campaigns.config import config_path, load_config

    file = config_path(path)
    if not file.exists():
        return None, [f"no campaign file at {file}: campaigns are not explained (--config FILE)"]
    try:
        return load_config(file), []
    except ConfigError as exc:
        return None, [f"the campaign file cannot be used, so campaigns are not explained: {exc}"]


def _consent(store: Store, profile: Any, data: dict[str, Any]) -> Section:
    from retain_cli.campaigns.program import program_standing
    from retain_cli.trust.audit import subject_of

    section = Section("Consent")
    answer = {True: "yes", False: "no", None: "unknown"}[profile.accepts_marketing]
    changes = store.audit_entries(actions=("consent",), subject=subject_of(profile.ref))
    changed = [c for c in changes if c["detail"].startswith("accepts marketing")]
    if changed:
        last = changed[0]
        source = f"{last['detail']}, {last['actor']}, {last['at']}"
    else:
        source = f"as first imported ({profile.source}, {profile.created_at[:10]})"
    section.add("accepts marketing", f"{answer}: {source}")
    if profile.suppression is not None:
        s = profile.suppression
        section.add("opted out", f"yes: {s['reason']} (source {s['source']}, {s['created_at']})")
    else:
        section.add("opted out", "no")
    if profile.email and store.erased_hash_known(profile.email):
        section.add("erased before", "this address was erased earlier; it is not mailed")
    if not profile.email:
        why = "no e-mail address"
    elif profile.suppression is not None:
        why = "opted out"
    elif profile.accepts_marketing is not True:
        why = "no marketing consent"
    else:
        why = "consented, has an address, not opted out"
    section.add("may be mailed", f"{'yes' if profile.can_email else 'no'}: {why}")
    hold = store.campaign_holds([profile.ref]).get(profile.ref)
    section.add("automated campaigns", f"kept out: {hold}" if hold else None)
    program = program_standing(store, profile.ref)
    section.add("program holdout", program)
    data["consent"] = {
        "accepts_marketing": profile.accepts_marketing,
        "source": source,
        "suppression": profile.suppression,
        "may_be_mailed": profile.can_email,
        "kept_out_of_campaigns": hold,
        "program_holdout": program,
        "history": list(reversed(changes)),
    }
    return section


def _custom_segments(
    frame: pd.DataFrame, segments_file: Path | None, section: Section
) -> list[dict[str, Any]]:
    from retain_cli.analytics.custom_segments import load_custom_segments, segments_path
    from retain_cli.trust.figures import first_failure

    if not segments_path(segments_file).exists():
        return []
    out = []
    taken = None
    for segment in load_custom_segments(segments_file):
        failed = first_failure(segment.rule, frame)
        member = failed is None and taken is None
        if failed is None and taken is None:
            taken = segment.name
            text = f"member: {segment.where} matched"
        elif failed is None:
            text = f"matches {segment.where}, but is in {taken} (the first match counts)"
        else:
            text = f"not a member: {failed}"
        section.add(f"custom {segment.name}", text)
        out.append({"segment": segment.name, "member": member, "why": text})
    return out


def _plan(
    store: Store,
    config: CampaignConfig,
    ref: int,
    as_of: datetime,
    clock: Clock,
    transport: str | None,
    frame: pd.DataFrame,
) -> Plan:
    from retain_cli.campaigns.planner import make_plan

    return make_plan(
        store, config, as_of=as_of, transport=transport, clock=clock, refs=[ref], features=frame
    )


def _decisions(
    config: CampaignConfig,
    plan: Plan,
    items: list[PlanItem],
    ref: int,
    frame: pd.DataFrame,
    theirs: dict[str, str],
) -> list[Decision]:
    from retain_cli.campaigns.due import DUE

    out: list[Decision] = []
    for campaign in config.campaigns:
        if not campaign.enabled:
            out.append(Decision(campaign.name, DISABLED, "enabled: false in the campaign file"))
            continue
        own = [i for i in items if i.campaign == campaign.name]
        for item in sorted(own, key=lambda i: i.step):
            note = None
            if item.status == DUE and plan.day_budget is not None:
                note = f"the daily limit allows {plan.day_budget} more today, in turn"
            out.append(
                Decision(
                    campaign.name, item.status, item.reason, item.step, item.send_key, note=note
                )
            )
        if own:
            continue
        days = plan.days[campaign.name]  # the planner's own view of the audience
        if ref not in days.members:
            out.append(Decision(campaign.name, NOT_IN_AUDIENCE, _outside(campaign, frame, theirs)))
            continue
        out.append(_not_due(days, campaign, ref))
    return out


def _owner_hand(
    store: Store, config: CampaignConfig, decisions: list[Decision], ref: int
) -> list[str]:
    """Add to each decision what ``retain send`` holds back after the plan: a pause of every
    campaign or of this one, and the approval queue of an ``approval: required`` campaign
    (a message not queued yet, waiting, rejected; an approved one goes as approved). Returns
    the notes for the whole explanation (every campaign paused)."""
    from retain_cli.campaigns.due import DEFERRED, DUE
    from retain_cli.campaigns.owner import ALL, pause_text

    pauses = {str(p["scope"]): p for p in store.pauses()}
    every = pauses.get(ALL)
    queue = {str(row["send_key"]): row for row in store.rows_about("approval_queue", ref)}
    approval = {c.name for c in config.campaigns if c.approval}
    tasks = {(c.name, s.index) for c in config.campaigns for s in c.steps if s.is_task}
    for d in decisions:
        if d.status == DISABLED:
            continue
        coming = d.status in (DUE, DEFERRED) or (d.status == NOT_DUE and d.due_on is not None)
        queued = queue.get(d.key) if d.key else None
        if queued is not None and queued["state"] == "pending":
            coming = True
            d.blocks.append(
                (
                    "approval",
                    f"waits for your approval in the approval queue since {queued['queued_at']} "
                    f"('retain queue approve {queued['id']}')",
                )
            )
        elif queued is not None and queued["state"] == "rejected":
            note = f": {queued['note']}" if queued["note"] else ""
            d.blocks.append(
                ("approval", f"rejected in the approval queue on {queued['decided_at']}{note}")
            )
        elif queued is not None and queued["state"] == "approved":
            approved = (
                f"approved in the approval queue on {queued['decided_at']}: it goes as approved"
            )
            d.note = f"{d.note}; {approved}" if d.note else approved
        elif coming and d.campaign in approval and (d.campaign, d.step or 1) not in tasks:
            d.blocks.append(
                (
                    "approval",
                    "approval: required, so 'retain send' puts it in the approval queue and it "
                    "goes once you approve it ('retain queue approve')",
                )
            )
        pause = every or pauses.get(d.campaign)
        if pause is not None and coming:
            d.blocks.append(("pause", pause_text(pause)))
    return [f"nothing is sent: {pause_text(every)}"] if every is not None else []


def _outside(campaign: Campaign, frame: pd.DataFrame, theirs: dict[str, str]) -> str:
    from retain_cli.analytics.filters import compile_filter
    from retain_cli.analytics.segments import find_segment
    from retain_cli.trust.figures import first_failure

    audience = campaign.audience
    if audience.kind == "segment" and audience.segment:
        scheme, segment = find_segment(audience.segment)
        rule = compile_filter(audience.where, where="audience.where") if audience.where else None
        failed = first_failure(rule, frame) if rule is not None else None
        if theirs.get(scheme) != segment:
            return f"not in segment {segment} ({scheme}: they are {theirs.get(scheme)})"
        if failed:
            return f"in segment {segment}, but audience.where: {failed}"
    if audience.where:
        failed = first_failure(compile_filter(audience.where, where="audience.where"), frame)
        if failed:
            return f"audience.where: {failed}"
    return f"not in the audience ({audience.describe()})"


def _not_due(days: CampaignDays, campaign: Campaign, ref: int) -> Decision:
    """Why the plan has nothing for a member of the audience: no trigger event, not due
    yet (and when), too late, or a later step still to come."""
    from retain_cli.campaigns.due import birthday_on_or_before

    name = campaign.name
    trigger = campaign.trigger
    found = days.event(ref)
    if found is None:
        assert trigger is not None  # without a trigger the audience is the event
        missing = {
            "birthday": "no birthday on file",
            "first_order": "no countable order yet",
            "last_order": "no countable order yet",
            "signup": "no sign-up date (customers of the first import count as already there)",
            "entered_segment": f"has not entered segment {trigger.segment} in the snapshots "
            "kept (the first snapshot is a baseline)",
            "tier_upgraded": "no order has reached a higher tier (retain loyalty CUSTOMER)",
            "tier_at_risk": "their tier is not at risk at the next recalculation",
            "points_expiring": "no points that expire",
            "replenishment": "no product they bought has a repurchase interval (their own, "
            "once bought twice, or the product's gap_days)",
            "promoter": "no survey answer that makes them a promoter",
        }.get(trigger.event, f"no {trigger.event.replace('_', ' ')} event")
        return Decision(name, NOT_DUE, f"waits for its trigger ({trigger.describe()}): {missing}")
    event_day, occurrence, _ = found
    offset = trigger.days if trigger is not None else 0
    first = campaign.steps[0]
    due = event_day + timedelta(days=offset + first.days)
    if days.today < due:
        return Decision(name, NOT_DUE, f"due on {due} ({_describe(campaign)})", 1, due_on=str(due))
    if days.stale(due):
        again = _next_due(days, campaign, ref, due)
        text = f"too late for the last one: due {due}, fresh for {days.fresh} days"
        if again is not None:
            return Decision(name, NOT_DUE, f"{text}; next due on {again}", 1, due_on=str(again))
        event = trigger.event if trigger is not None else ""
        later = {
            "last_order": "their next order starts it again",
            "entered_segment": "entering the segment again starts it again",
            "replenishment": "their next purchase of the product starts it again",
        }.get(event, f"a {event.replace('_', ' ')} happens once")
        return Decision(name, NOT_DUE, f"{text}; {later}")
    sent = days.first_sent.get((ref, occurrence))
    if sent is not None:
        for step in campaign.steps[1:]:
            if (ref, occurrence) in days.states.get(step.index, {}):
                continue
            from retain_cli.timeutil import from_iso, local_day

            start = local_day(from_iso(sent), days.tz)
            step_due = (
                event_day + timedelta(days=offset + step.days)
                if trigger is not None
                else start + timedelta(days=step.days - first.days)
            )
            if days.today < step_due:
                text = f"step {step.index} due on {step_due} (step 1 went out {start})"
                return Decision(name, NOT_DUE, text, step.index, due_on=str(step_due))
    if trigger is not None and trigger.event == "birthday":
        birthday = birthday_on_or_before(days.events.get(ref, {}).get("birthday"), days.today)
        if birthday is not None:
            return Decision(
                name, NOT_DUE, f"nothing due: this year's greeting ({birthday}) is done"
            )
    return Decision(name, NOT_DUE, "nothing due now: this occurrence is done")


def _next_due(days: CampaignDays, campaign: Campaign, ref: int, due: date) -> date | None:
    """For a birthday: the next one's due day."""
    from retain_cli.campaigns.due import birthday_on_or_before

    trigger = campaign.trigger
    if trigger is None or trigger.event != "birthday":
        return None
    text = days.events.get(ref, {}).get("birthday")
    ahead = days.today + timedelta(days=366)
    birthday = birthday_on_or_before(text, ahead)
    if birthday is None:
        return None
    if birthday + timedelta(days=trigger.days) <= due:
        return None
    return birthday + timedelta(days=trigger.days + campaign.steps[0].days)


def _describe(campaign: Campaign) -> str:
    return campaign.trigger.describe() if campaign.trigger is not None else "audience"


def _messages(store: Store, ref: int) -> Section:
    section = Section("Messages (the send ledger, newest first)")
    rows = sorted(
        store.rows_about("sends", ref),
        key=lambda r: (r["sent_at"] or r["planned_at"] or "", r["id"]),
        reverse=True,
    )
    if not rows:
        section.add("none", "nothing sent, planned or held out yet")
    for row in rows[:5]:
        when = (row["sent_at"] or row["planned_at"] or "")[:16].replace("T", " ")
        section.add(f"{row['campaign']} {row['step']}", f"{row['state']} {when}")
    if len(rows) > 5:
        section.add("", f"{len(rows) - 5} more: see retain customers export")
    return section
