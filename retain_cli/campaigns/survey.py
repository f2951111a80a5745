"""What a survey campaign's template sees (``survey``), and each recipient's signed token.

The token is the first 16 hex digits of HMAC-SHA256 over the message's send key, keyed with a
secret kept in the database (made on first use): it names one message to one customer, and
nobody can make a token for another without the database. ``retain import responses`` finds
the message again by recomputing the tokens of the survey messages sent.

In a template::

    {{ survey.question }}            How likely are you to recommend Rosie's Bakery ...?
    {{ survey.reply_hint }}          Just reply with a number from 0 to 10 ...
    {% for link in survey.links %}{{ link.score }}: {{ link.url }}{% endfor %}   (survey.form)
    {{ survey.link }}                the form link without a score (when it has no {score})
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retain_cli.campaigns.model import Campaign, CampaignConfig

SECRET_NAME = "survey_token"
SAMPLE_SECRET = b"sample: campaigns check"
TOKEN_DIGITS = 16


def survey_token(secret: bytes, send_key: str) -> str:
    return hmac.new(secret, send_key.encode(), hashlib.sha256).hexdigest()[:TOKEN_DIGITS]


def question(kind: str, shop_name: str) -> str:
    if kind == "nps":
        return f"How likely are you to recommend {shop_name} to a friend?"
    return f"How satisfied were you with your last order from {shop_name}?"


def survey_context(
    campaign: Campaign, send_key: str, secret: bytes, shop_name: str
) -> dict[str, Any] | None:
    """The ``survey`` variable for one message (None for a campaign that is no survey)."""
    survey = campaign.survey
    if survey is None:
        return None
    token = survey_token(secret, send_key)
    low, high = survey.scale[0], survey.scale[-1]
    words = (
        "0 means not at all, 10 extremely likely"
        if survey.kind == "nps"
        else ("1 means very unhappy, 5 very happy")
    )
    form = (survey.form or "").replace("{token}", token)
    links = (
        [{"score": s, "url": form.replace("{score}", str(s))} for s in survey.scale]
        if "{score}" in form
        else []
    )
    return {
        "kind": survey.kind,
        "question": question(survey.kind, shop_name),
        "scale": list(survey.scale),
        "low": low,
        "high": high,
        "token": token,
        "reply_hint": f"Just reply with a number from {low} to {high} ({words}), and a few "
        "words if you like.",
        "links": links,
        "link": form if form and not links else None,
    }


def with_survey(
    context: dict[str, Any],
    config: CampaignConfig,
    campaign: Campaign,
    send_key: str,
    secret: bytes,
) -> dict[str, Any]:
    """``context`` with the ``survey`` variable added for a survey campaign."""
    if campaign.survey is None:
        return context
    shop = context.get("shop")
    name = str(shop.get("name")) if isinstance(shop, Mapping) else config.sender.from_name
    return {**context, "survey": survey_context(campaign, send_key, secret, name)}


_SCORE = re.compile(
    r"^\s*(\d{1,2})(?![\d.,]\d)\s*(?:(?:/|out of|von|sur|de|su)\s*(?:10|5)\b)?"
    r"\s*(?:points?|punkte?|stars?|sterne?)?\s*(?:[-–—:,.!)/]+\s*|\s+|$)(.*)$",
    re.I | re.S,
)


def leading_score(text: str, kind: str) -> tuple[int, str] | None:
    """A reply that starts with the score: ``9``, ``9 - great bread``, ``10/10, lovely``,
    ``4 stars``: (score, the rest as the comment), or None when it does not start with a
    number on the survey's scale."""
    match = _SCORE.match(text)
    if match is None:
        return None
    value = int(match.group(1))
    scale = range(0, 11) if kind == "nps" else range(1, 6)
    if value not in scale:
        return None
    return value, " ".join(match.group(2).split())
