"""The campaign file's A/B test, read for :mod:`.config`: ``variants:`` (each with a name, a
share of the recipients and its own subject and/or template) and ``variant_salt:``.

A campaign with one message names the variant's ``subject``, ``template`` or
``html_template`` directly; a campaign with steps names them per step, under the variant's
``steps`` (``steps: {1: {subject: "..."}}``); what a variant does not name is the
campaign's own. A customer keeps one variant for the whole series. A variant that names
nothing sends the campaign's own message: the control. Shares are positive and add up to
100% (or 1); none given splits evenly. Errors name the file, the campaign and the key
through ``where``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from retain_cli.campaigns.model import Step, Variant, read_fraction
from retain_cli.campaigns.yamlcheck import Where, as_text, check_keys, kind_of

#: reads a template path (value, key) relative to the campaign file, or raises
TemplatePath = Callable[[Any, str], Path]
#: the HTML sibling of a text template (``x.txt.j2`` -> ``x.html.j2``)
Sibling = Callable[[Path], Path]

VARIANT_KEYS = ("name", "share", "subject", "template", "html_template", "steps")
MESSAGE_KEYS = ("subject", "template", "html_template")
MAX_VARIANTS = 10
#: how far from 100% the shares may add up (33.3% three times is fine)
SHARE_SLACK = 0.001
#: words the report uses for its own columns, so no variant may be called so
RESERVED = ("holdout", "recipients", "all")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def parse_share(value: Any) -> float:
    """``50%`` or ``0.5`` -> 0.5 (more than 0, at most 1). Raises ValueError."""
    share = read_fraction(value, "share", "50%", "0.5")
    if not 0 < share <= 1:  # also NaN
        raise ValueError(f"{value!r} must be more than 0% and at most 100%")
    return share


def share_text(share: float) -> str:
    """0.5 -> ``50%``, 1/3 -> ``33.3%``."""
    return f"{share * 100:.1f}%".replace(".0%", "%")


def parse_variants(
    data: Mapping[str, Any],
    steps: tuple[Step, ...] | list[Step],
    where: Where,
    template: TemplatePath,
    sibling: Sibling,
) -> tuple[tuple[Variant, ...], str]:
    """The campaign's ``variants`` and ``variant_salt`` (``()`` and "" without variants)."""
    value = data.get("variants")
    salt = _salt(data.get("variant_salt"), where, value is not None)
    if value is None:
        return (), salt
    if not isinstance(value, list) or len(value) < 2:
        raise where.error(
            "variants",
            "must be a list of at least two variants, each {name, share, subject and/or "
            f"template}}, not {kind_of(value) if not isinstance(value, list) else 'one'}",
        )
    if len(value) > MAX_VARIANTS:
        raise where.error("variants", f"has {len(value)} variants; at most {MAX_VARIANTS}")
    if all(step.is_task for step in steps):
        raise where.error("variants", "a campaign of tasks (channel: task) has no message to vary")
    several = "steps" in data and data.get("steps") is not None
    names: set[str] = set()
    raw_shares: list[float | None] = []
    parsed: list[tuple[str, tuple[Step, ...], bool]] = []
    for i, raw in enumerate(value, start=1):
        prefix = f"variants[{i}]."
        if not isinstance(raw, Mapping):
            raise where.error(f"variants[{i}]", f"must be a mapping, not {kind_of(raw)}")
        check_keys(raw, VARIANT_KEYS, where, prefix)
        name = as_text(raw.get("name"), where, f"{prefix}name")
        assert name is not None
        if not NAME_RE.match(name):
            raise where.error(
                f"{prefix}name",
                f"{name!r}: use up to 40 letters, digits, '-', '_' or '.' (e.g. A, B, "
                "short-subject)",
            )
        if name.lower() in RESERVED:
            raise where.error(f"{prefix}name", f"{name!r} is a word of the report; pick another")
        if name.lower() in names:
            raise where.error(f"{prefix}name", f"{name!r} is used by another variant")
        names.add(name.lower())
        share = None
        if raw.get("share") is not None:
            try:
                share = parse_share(raw["share"])
            except ValueError as exc:
                raise where.error(f"{prefix}share", str(exc)) from None
        raw_shares.append(share)
        overrides = _overrides(raw, steps, where, prefix, several)
        made = tuple(_variant_step(s, overrides.get(s.index, {}), name, where, prefix,
                                   template, sibling, several) for s in steps)  # fmt: skip
        parsed.append((name, made, not overrides))
    shares = _shares(raw_shares, [p[0] for p in parsed], where)
    variants = tuple(
        Variant(name=name, share=share, steps=made, own=own)
        for (name, made, own), share in zip(parsed, shares, strict=True)
    )
    return variants, salt


def _salt(value: Any, where: Where, has_variants: bool) -> str:
    if value is None:
        return ""
    if not has_variants:
        raise where.error("variant_salt", "only applies to a campaign with variants")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    text = as_text(value, where, "variant_salt")
    assert text is not None
    if len(text) > 100 or "\n" in text:
        raise where.error("variant_salt", "must be one line of at most 100 characters")
    return text


def _shares(given: list[float | None], names: list[str], where: Where) -> list[float]:
    """Every share given, or none (an even split); they must add up to 100%."""
    if all(share is None for share in given):
        return [1 / len(given)] * len(given)
    missing = [name for name, share in zip(names, given, strict=True) if share is None]
    if missing:
        raise where.error(
            "variants",
            f"variant {missing[0]!r} has no share; give every variant a share (adding up to "
            "100%), or none for an even split",
        )
    shares = [float(share or 0) for share in given]
    total = sum(shares)
    if abs(total - 1) > SHARE_SLACK + 1e-9:
        each = ", ".join(f"{n} {share_text(s)}" for n, s in zip(names, shares, strict=True))
        raise where.error(
            "variants",
            f"the shares add up to {total * 100:.4g}% ({each}); they must add up to 100% "
            "(or 1): the variants split the recipients, the holdout is drawn before them",
        )
    return [share / total for share in shares]


def _overrides(
    raw: Mapping[str, Any],
    steps: tuple[Step, ...] | list[Step],
    where: Where,
    prefix: str,
    several: bool,
) -> dict[int, Mapping[str, Any]]:
    """Step index -> the keys this variant changes in it."""
    own = {key: raw[key] for key in MESSAGE_KEYS if raw.get(key) is not None}
    if not several:
        if raw.get("steps") is not None:
            raise where.error(
                f"{prefix}steps", "only applies to a campaign with steps; name subject or template"
            )
        return {1: own} if own else {}
    if own:
        key = next(iter(own))
        raise where.error(
            f"{prefix}{key}",
            f"goes inside the variant's steps when the campaign has steps, e.g. "
            f"steps: {{1: {{{key}: ...}}}}",
        )
    given = raw.get("steps")
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise where.error(
            f"{prefix}steps",
            f"must map step numbers to what changes, e.g. {{1: {{subject: ...}}}}, not "
            f"{kind_of(given)}",
        )
    out: dict[int, Mapping[str, Any]] = {}
    count = len(steps)
    for key, changes in given.items():
        index = key if isinstance(key, int) and not isinstance(key, bool) else None
        if isinstance(key, str) and key.strip().isdigit():
            index = int(key)
        if index is None or not 1 <= index <= count:
            raise where.error(
                f"{prefix}steps.{key}", f"is not a step of this campaign; steps are 1..{count}"
            )
        here = f"{prefix}steps[{index}]."
        if not isinstance(changes, Mapping) or not changes:
            raise where.error(
                f"{prefix}steps[{index}]", "must name a subject, template or html_template"
            )
        check_keys(changes, MESSAGE_KEYS, where, here)
        if steps[index - 1].is_task:
            raise where.error(
                f"{prefix}steps[{index}]",
                f"step {index} is a task for you (channel: task); variants change messages",
            )
        out[index] = changes
    return out


def _variant_step(
    step: Step,
    changes: Mapping[str, Any],
    name: str,
    where: Where,
    prefix: str,
    template: TemplatePath,
    sibling: Sibling,
    several: bool,
) -> Step:
    """``step`` as the variant sends it."""
    here = f"{prefix}steps[{step.index}]." if several else prefix
    subject = step.subject
    if changes.get("subject") is not None:
        text = as_text(changes["subject"], where, f"{here}subject")
        assert text is not None
        if "\n" in text or "\r" in text:
            raise where.error(f"{here}subject", "must be on one line")
        subject = text
    text_template, html = step.template, step.html_template
    if changes.get("template") is not None:
        text_template = template(changes["template"], f"{here}template")
        near = sibling(text_template)
        html = near if near.is_file() and near != text_template else None
    if changes.get("html_template") is not None:
        html = template(changes["html_template"], f"{here}html_template")
    return dataclasses.replace(
        step, subject=subject, template=text_template, html_template=html, variant=name
    )
