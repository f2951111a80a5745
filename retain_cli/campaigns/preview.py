"""``retain preview``: the messages a campaign would send, rendered and built exactly as
sending does, for the customers it would pick now (or one customer).

Whom a step picks comes from the planner itself (:func:`retain_cli.campaigns.planner.
campaign_items`: the audience, the trigger, the steps, what was sent already, the holdout),
plus what an earlier run recorded and has not sent yet. When it picks nobody today, the
preview still shows the message, for a stand-in, and says why (:attr:`Preview.stand_in`):

1. for a later step, a customer step 1 is due for today (they get this step later);
2. a customer the trigger applies to, but not today (who has ordered, for ``first_order``;
   who is in the segment, for ``entered_segment``; never for an order refunded in full);
3. any consenting member of the audience, marked as a sample only.

``retain campaigns check`` renders its templates for the same customer
(:func:`pick_customers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from retain_cli.campaigns.context import load_contexts
from retain_cli.campaigns.coupons import CouponDesk, preview_coupon
from retain_cli.campaigns.message import BuiltMessage, build_message
from retain_cli.campaigns.model import Campaign, CampaignConfig, Step
from retain_cli.campaigns.offers import ProductOffers, with_replenishment
from retain_cli.campaigns.survey import SECRET_NAME, with_survey
from retain_cli.campaigns.templating import Renderer
from retain_cli.errors import NotFound
from retain_cli.store.ledger import LedgerRow
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    import pandas as pd

    from retain_cli.campaigns.planner import PlanItem
    from retain_cli.store import Store


@dataclass(frozen=True, slots=True)
class Preview:
    email: str
    consent: bool
    step: int
    message: BuiltMessage
    not_sent: str | None = None  # --customer: why send would not write to them now
    stand_in: str | None = None  # why they are shown though the step picks nobody now


@dataclass(slots=True)
class Selection:
    """A campaign's audience and its plan items, computed once for all its steps."""

    campaign: Campaign
    members: pd.DataFrame
    items: list[PlanItem]
    pending: list[dict[str, Any]]


def select(
    store: Store,
    config: CampaignConfig,
    campaign: Campaign,
    as_of: datetime,
    *,
    features: pd.DataFrame | None = None,
) -> Selection:
    """The campaign's audience and what the planner would do with each member now."""
    from retain_cli.campaigns.audience import audience_members
    from retain_cli.campaigns.planner import campaign_items

    members = audience_members(store, config, campaign, as_of, features=features)
    items = campaign_items(store, config, campaign, as_of, members)
    return Selection(campaign, members, items, store.ledger_pending_rows([campaign.name]))


def pick_customers(
    store: Store,
    selection: Selection,
    step: Step,
    as_of: datetime,
    limit: int,
    *,
    anyone: bool = False,
) -> tuple[list[int], str | None]:
    """Up to ``limit`` customers ``step`` goes to now, or stand-ins and why they stand in.

    ``anyone``: when no consenting member is left, a member without consent will do (for
    ``campaigns check``, which renders templates, not messages).
    """
    from retain_cli.campaigns.planner import DEFERRED, DUE

    campaign = selection.campaign
    due = (DUE, DEFERRED)
    picked = [int(row["customer_ref"]) for row in selection.pending if row["step"] == step.index]
    picked += [i.customer_ref for i in selection.items if i.step == step.index and i.status in due]
    if picked:
        return list(dict.fromkeys(picked))[:limit], None
    what = f"step {step.index}" if len(campaign.steps) > 1 else "this campaign"
    if step.index > 1:
        first = [i.customer_ref for i in selection.items if i.step == 1 and i.status in due]
        if first:
            days = step.days - campaign.steps[0].days
            return list(dict.fromkeys(first))[:limit], (
                f"nobody is due for {what} now; step 1 is due for them today, "
                f"step {step.index} follows {days} days later"
            )
    members = selection.members
    pool = members[members["consent"]] if len(members) else members
    if anyone and not len(pool):
        pool = members
    refs = [int(r) for r in pool.index]
    trigger = campaign.trigger
    if trigger is None:
        note = f"nobody is due for {what} now (already sent, held out or not due again yet)"
        return refs[:limit], note
    applies = _trigger_applies(store, campaign, refs, as_of)
    if applies:
        return applies[:limit], (
            f"nobody is due for {what} now; the trigger ({trigger.describe()}) applies to "
            "them, but not today"
        )
    return refs[:limit], (
        f"nobody is due for {what} now and the trigger ({trigger.describe()}) applies to no "
        "one in the audience: a sample only"
    )


def _trigger_applies(
    store: Store, campaign: Campaign, refs: list[int], as_of: datetime
) -> list[int]:
    """``refs`` (in order) the campaign's trigger event exists for at ``as_of``."""
    trigger = campaign.trigger
    if trigger is None or not refs:
        return refs
    if trigger.event == "entered_segment":
        from retain_cli.analytics.segments import segment_members

        assert trigger.segment is not None
        inside = set(segment_members(store, trigger.segment, as_of))
        return [r for r in refs if r in inside]
    events = store.customer_events(refs, to_iso(as_of))
    applies = [r for r in refs if events.get(r, {}).get(trigger.event)]
    if trigger.event in ("first_order", "last_order"):
        refunded = store.refunded_trigger_orders(applies, to_iso(as_of))
        applies = [r for r in applies if not refunded.get(r, {}).get(trigger.event)]
    return applies


def _why_not(selection: Selection, ref: int, step: Step) -> str | None:
    """Why ``retain send`` would not write ``step`` to customer ``ref`` now (None: it would)."""
    from retain_cli.campaigns.planner import DEFERRED, DUE, HELD_OUT

    campaign = selection.campaign
    if ref not in selection.members.index:
        return f"not in the audience of {campaign.name!r}"
    if any(int(r["customer_ref"]) == ref and r["step"] == step.index for r in selection.pending):
        return None
    for item in selection.items:
        if item.customer_ref == ref and item.step == step.index:
            if item.status in (DUE, DEFERRED):
                return None
            return "held out (the campaign's holdout)" if item.status == HELD_OUT else item.reason
    if campaign.trigger is None:
        return "not due now"
    return f"not due now ({campaign.trigger.describe()})"


def _variant(selection: Selection, ref: int, step: Step) -> str | None:
    """The A/B variant ``step`` goes to customer ``ref`` as: the one a queued message or the
    plan has, else the customer's draw (the one their series begins with)."""
    from retain_cli.campaigns.due import assign_variant

    campaign = selection.campaign
    if not campaign.variants:
        return None
    for row in selection.pending:
        if int(row["customer_ref"]) == ref and row["step"] == step.index:
            return _known(campaign, row["variant"])
    for item in selection.items:
        if item.customer_ref == ref and item.step == step.index and item.variant:
            return _known(campaign, item.variant)
    customer = selection.members["customer_id"].get(ref) if ref in selection.members.index else None
    return None if customer is None else assign_variant(campaign, str(customer))


def _known(campaign: Campaign, name: str | None) -> str | None:
    return name if name is not None and campaign.variant(name) is not None else None


def preview_messages(
    store: Store,
    config: CampaignConfig,
    campaign_name: str,
    *,
    as_of: datetime,
    email: str | None = None,
    limit: int = 3,
    step: int | None = None,
) -> list[Preview]:
    """Rendered messages for the customers each step would go to now (or ``email``).

    Uses the same :class:`Renderer` and :func:`build_message` as sending; the send key is
    ``<campaign>:<step>:<customer_id>:preview``.
    """
    campaign = config.campaign(campaign_name)
    steps = [campaign.step(step)] if step is not None else list(campaign.steps)
    ref: int | None = None
    if email is not None:
        ref = store.campaign_customer_ref(email)
        if ref is None:
            raise NotFound(f"no customer with e-mail {email.strip().lower()!r}")
    selection = select(store, config, campaign, as_of)
    members = selection.members
    # (customer, step, why send would not write to them, why they stand in)
    chosen: list[tuple[int, Step, str | None, str | None]] = []
    for current in steps:
        if ref is not None:
            chosen.append((ref, current, _why_not(selection, ref, current), None))
            continue
        refs, stand_in = pick_customers(store, selection, current, as_of, max(limit, 0))
        chosen += [(r, current, None, stand_in) for r in refs]
    segments = {
        int(str(r)): str(s) for r, s in members["segment"].items() if s and r in members.index
    }
    offers = ProductOffers(store, config, as_of)
    contexts = load_contexts(
        store, config, sorted({r for r, *_ in chosen}), as_of, segments=segments, offers=offers
    )
    renderer = Renderer(config)
    desk = CouponDesk(store)  # shows the codes a send would give now; gives none
    carried = {
        (row.customer_ref, row.step): row
        for row in store.ledger_pending([campaign.name])
        if row.coupon_code is not None
    }
    out: list[Preview] = []
    # one customer's steps together, customers in the order they were picked
    order = list(dict.fromkeys(r for r, *_ in chosen))
    chosen.sort(key=lambda c: (order.index(c[0]), c[1].index))
    for customer_ref, current, not_sent, stand_in in chosen:
        context = contexts.get(customer_ref)
        if context is None:
            continue
        customer = context["customer"]
        key = f"{campaign.name}:{current.index}:{customer['customer_id']}:preview"
        if campaign.survey is not None:
            context = with_survey(context, config, campaign, key, store.secret(SECRET_NAME))
        context = with_replenishment(context, offers, campaign, customer_ref)
        sends = campaign.message_step(current.index, _variant(selection, customer_ref, current))
        if campaign.coupon_pool is not None:
            row = carried.get((customer_ref, current.index)) or _stand_in_row(
                -len(out) - 1, key, campaign, current, customer_ref
            )
            context = preview_coupon(context, campaign, desk, row)
        rendered = renderer.render(campaign, sends, context)
        message = build_message(
            config,
            campaign,
            sends,
            rendered,
            to_email=customer["email"],
            to_name=customer["name"],
            send_key=key,
        )
        consent = (
            bool(members.loc[customer_ref, "consent"]) if customer_ref in members.index else False
        )
        out.append(Preview(customer["email"], consent, current.index, message, not_sent, stand_in))
    return out


def _stand_in_row(
    number: int, key: str, campaign: Campaign, step: Step, customer_ref: int
) -> LedgerRow:
    """A ledger row for a previewed message, so that it is shown with the coupon code the
    next one in its pool (none is given)."""
    return LedgerRow(number, key, campaign.name, step.index, customer_ref, "preview", "", "", 0)
