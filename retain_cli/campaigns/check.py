"""``retain campaigns check``: every template of every campaign rendered, every segment and
filter checked, against a sample customer and a real one from the campaign's audience."""

from __future__ import annotations

from typing import Any

from retain_cli.campaigns import audience as audience_module
from retain_cli.campaigns.context import load_contexts, sample_context
from retain_cli.campaigns.coupons import with_coupon
from retain_cli.campaigns.model import STOP_ENTERED, CampaignConfig
from retain_cli.campaigns.offers import REPLENISHMENT, ProductOffers, with_replenishment
from retain_cli.campaigns.preview import pick_customers, select
from retain_cli.campaigns.survey import SAMPLE_SECRET, with_survey
from retain_cli.campaigns.templating import Renderer
from retain_cli.errors import ConfigError


def check_campaigns(config: CampaignConfig, store: Any | None, as_of: Any) -> list[dict[str, Any]]:
    """Render every template of every campaign and check its segment and filter.

    Templates are rendered against a built-in sample customer and, when ``store`` is given,
    against the first customer the campaign would write to now (else the stand-in
    ``retain preview`` shows). Returns one row per campaign:
    ``campaign``, ``status`` (``OK`` or ``problem``), ``rendered_for`` (``sample`` and the real
    customer's e-mail, if any) and ``problems`` (text, "" if none).
    """
    renderer = Renderer(config)
    sample = sample_context(config, as_of)
    rows: list[dict[str, Any]] = []
    features = None
    for campaign in config.campaigns:
        problems: list[str] = []
        segment_names = [campaign.audience.segment]
        if campaign.trigger is not None:
            segment_names.append(campaign.trigger.segment)
        segment_names += [  # stop_when: entered segment NAME
            c.removeprefix(STOP_ENTERED)
            for s in campaign.steps
            for c in s.stop_when
            if c.startswith(STOP_ENTERED)
        ]
        for segment in filter(None, segment_names):
            problem = audience_module.check_segment(segment)
            if problem:
                problems.append(problem)
        if campaign.audience.where:
            problem = audience_module.check_where(campaign.audience.where)
            if problem:
                problems.append(problem)
        contexts = [sample]
        checked_with = "sample"
        if store is not None and not problems:
            if features is None:
                features = audience_module.customer_frame(store, as_of)
            try:
                selection = select(store, config, campaign, as_of, features=features)
            except ConfigError as exc:
                problems.append(str(exc))
                selection = None
            if selection is not None and len(selection.members):
                # the first customer who would get it, else a stand-in (see preview)
                refs, _ = pick_customers(store, selection, campaign.steps[0], as_of, 1, anyone=True)
                real = load_contexts(store, config, refs, as_of)
                offers = ProductOffers(store, config, as_of)
                context = real.get(refs[0]) if refs else None
                if context is not None:
                    context = with_replenishment(context, offers, campaign, refs[0])
                # (a replenishment campaign's stand-in may have no product due: sample only)
                due = campaign.trigger is not None and campaign.trigger.event == REPLENISHMENT
                if context is not None and not (due and context["replenishment"] is None):
                    contexts.append(context)
                    checked_with += f", {context['customer']['email']}"
        variant_steps = [s for v in campaign.variants if not v.own for s in v.steps]
        for step in [*campaign.steps, *variant_steps]:
            for context in contexts:
                key = f"{campaign.name}:{step.index}:sample:1"
                context = with_survey(context, config, campaign, key, SAMPLE_SECRET)
                context, _ = with_coupon(context, campaign, None, None)
                try:
                    renderer.render(campaign, step, context)
                except ConfigError as exc:
                    message = str(exc).removeprefix(f"{config.path}: campaign {campaign.name!r}: ")
                    if message not in problems:
                        problems.append(message)
                    break
        rows.append(
            {
                "campaign": campaign.name,
                "status": "problem" if problems else "OK",
                "rendered_for": checked_with,
                "problems": "\n".join(problems),
            }
        )
    return rows
