"""Segment names: which scheme a name belongs to, so that a name means one thing everywhere.

The built-in schemes share two names: ``at_risk`` and ``lost`` are an RFM segment and a
lifecycle segment, with different members. Such a name is written with its scheme
(``rfm:at_risk``, ``lifecycle:at_risk``); a bare one is an error that names both choices.
Every other built-in name belongs to one scheme and may be written bare (``champions`` is
``rfm:champions``); ``prospect`` (no countable order yet) has the same members in both.
A custom segment may not take a built-in name.

Pure and light (no numpy): the campaign file reads names through here when it is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from retain_cli.errors import UsageError

SCHEMES = ("rfm", "lifecycle", "custom")
PROSPECT = "prospect"
RFM_SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)
LIFECYCLE_SEGMENTS: tuple[str, ...] = ("new", "active", "at_risk", "lapsing", "lost")
#: the two built-in schemes' names, each with a prospect at the end
BUILTIN: dict[str, tuple[str, ...]] = {
    "rfm": (*RFM_SEGMENTS, PROSPECT),
    "lifecycle": (*LIFECYCLE_SEGMENTS, PROSPECT),
}
#: what each built-in scheme measures, for messages that make a user choose
SCHEME_MEANING = {
    "rfm": "by RFM score, as 'retain segments' shows it",
    "lifecycle": "by days since the last order against the shop's typical gap",
}


def normalise(name: str) -> str:
    """``At Risk`` -> ``at_risk``, ``can't lose`` -> ``cant_lose``, ``RFM:Lost`` -> ``rfm:lost``."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower().replace("'", "").replace("’", ""))


def builtin_schemes(bare: str) -> list[str]:
    """The built-in schemes that have a segment named ``bare`` (normalised, unqualified)."""
    if bare == PROSPECT:
        return ["lifecycle"]  # the same customers in both schemes
    return [scheme for scheme, names in BUILTIN.items() if bare in names]


def ambiguity(name: str, bare: str, schemes: list[str]) -> UsageError:
    """The error for a bare name that more than one scheme has."""
    choices = " or ".join(f"{s}:{bare} ({SCHEME_MEANING[s]})" for s in schemes)
    return UsageError(
        f"segment {name!r} is in both the {' and the '.join(schemes)} scheme, with different "
        f"customers; write {choices}"
    )


def resolve(name: str) -> tuple[str, str]:
    """``RFM:At Risk`` -> (rfm, at_risk); a bare name -> (its one built-in scheme, name), or
    ("", name) when no built-in scheme has it (a custom segment, or a typo). Raises
    :class:`UsageError` for an unknown scheme or a bare name both built-in schemes have."""
    scheme, _, bare = normalise(name).rpartition(":")
    if scheme:
        if scheme not in SCHEMES:
            raise UsageError(
                f"unknown scheme {scheme!r} in {name!r}; schemes are {', '.join(SCHEMES)}"
            )
        return scheme, bare
    schemes = builtin_schemes(bare)
    if len(schemes) > 1:
        raise ambiguity(name, bare, schemes)
    return (schemes[0] if schemes else ""), bare


def qualify_builtin(name: str) -> str | None:
    """The qualified name (``rfm:champions``) of a built-in segment; None for a name no
    built-in scheme has (a custom segment, or a typo found later). Raises like
    :func:`resolve`."""
    scheme, bare = resolve(name)
    return f"{scheme}:{bare}" if scheme in BUILTIN and bare in BUILTIN[scheme] else None


def qualified(name: str, fail: Callable[[str], Exception]) -> str:
    """What a campaign file's segment name is stored as: a built-in one with its scheme
    (``champions`` -> ``rfm:champions``), so that every command says which scheme a campaign
    uses; custom names as written. A bare name both schemes have raises ``fail(message)``."""
    try:
        return qualify_builtin(name) or name
    except UsageError as exc:
        raise fail(str(exc)) from None


def reserved_problem(name: str) -> str | None:
    """Why a custom segment may not be called ``name`` (a built-in name), or None."""
    schemes = [s for s, names in BUILTIN.items() if name in names]
    if not schemes:
        return None
    taken = " and ".join(f"{s}:{name}" for s in schemes)
    return f"{name!r} is a built-in segment ({taken}); choose another name"


def unknown(name: str, custom: list[str]) -> UsageError:
    """The error for a name no scheme has: the close ones first, then every name."""
    import difflib

    bare = normalise(name).rpartition(":")[2]
    qualified = [f"{s}:{n}" for s, names in BUILTIN.items() for n in names if n != PROSPECT]
    qualified += [f"custom:{n}" for n in custom]
    by_bare: dict[str, list[str]] = {}
    for full in qualified:
        by_bare.setdefault(full.partition(":")[2], []).append(full)
    close = difflib.get_close_matches(bare, list(by_bare), n=3, cutoff=0.7)
    hint = ""
    if close:
        hint = "did you mean " + " or ".join(q for b in close for q in by_bare[b]) + "? "
    return UsageError(f"unknown segment {name!r}; {hint}segments are {names_text(custom)}")


def names_text(custom: list[str]) -> str:
    """Every name a user may write, by scheme, for an error message."""
    parts = [f"{scheme}: {', '.join(names)}" for scheme, names in BUILTIN.items()]
    if custom:
        parts.append(f"custom: {', '.join(custom)}")
    shared = sorted(set(RFM_SEGMENTS) & set(LIFECYCLE_SEGMENTS))
    return (
        "; ".join(parts) + f" (write {' and '.join(shared)} with their scheme, "
        f"such as rfm:{shared[0]})"
    )
