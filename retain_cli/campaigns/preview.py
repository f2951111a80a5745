"""``retain campaigns preview``: the messages a campaign would send, rendered and built
exactly as sending does, for a few audience members or one customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from retain_cli.campaigns.context import load_contexts
from retain_cli.campaigns.message import BuiltMessage, build_message
from retain_cli.campaigns.model import CampaignConfig
from retain_cli.campaigns.templating import Renderer
from retain_cli.errors import NotFound

if TYPE_CHECKING:
    from retain_cli.store import Store


@dataclass(frozen=True, slots=True)
class Preview:
    email: str
    consent: bool
    step: int
    message: BuiltMessage
    not_sent: str | None = None  # why send would not write to them (None: it would)


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
    """Rendered messages for the first ``limit`` consenting audience members (or ``email``).

    Uses the same :class:`Renderer` and :func:`build_message` as sending; the send key is
    ``<campaign>:<step>:<customer_id>:preview``.
    """
    from retain_cli.campaigns.audience import audience_members, trigger_applies_first

    campaign = config.campaign(campaign_name)
    steps = [campaign.step(step)] if step is not None else list(campaign.steps)
    if email is not None:
        ref = store.campaign_customer_ref(email)
        if ref is None:
            raise NotFound(f"no customer with e-mail {email.strip().lower()!r}")
        members = audience_members(store, config, campaign, as_of)
        if ref not in members.index:
            chosen = [(ref, False)]
            not_sent: str | None = f"not in the audience of {campaign.name!r}"
        else:
            chosen = [(ref, bool(members.loc[ref, "consent"]))]
            not_sent = None if chosen[0][1] else "no consent or opted out"
        segments: dict[int, str] = {}
        if ref in members.index and members.loc[ref, "segment"]:
            segments[ref] = str(members.loc[ref, "segment"])
    else:
        members = audience_members(store, config, campaign, as_of)
        members = trigger_applies_first(members[members["consent"]], campaign)
        members = members.head(max(limit, 0))
        chosen = [(int(r), True) for r in members.index]
        not_sent = None
        segments = {int(str(r)): str(s) for r, s in members["segment"].items() if s}
    contexts = load_contexts(store, config, [r for r, _ in chosen], as_of, segments=segments)
    renderer = Renderer(config)
    out: list[Preview] = []
    for ref, consent in chosen:
        context = contexts.get(ref)
        if context is None:
            continue
        customer = context["customer"]
        for current in steps:
            rendered = renderer.render(campaign, current, context)
            message = build_message(
                config,
                campaign,
                current,
                rendered,
                to_email=customer["email"],
                to_name=customer["name"],
                send_key=f"{campaign.name}:{current.index}:{customer['customer_id']}:preview",
            )
            out.append(Preview(customer["email"], consent, current.index, message, not_sent))
    return out
