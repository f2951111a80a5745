"""Recurring themes in survey comments: the words (and two-word phrases) that come back in
several comments, once stop words are left out.

A comment's words are lower-cased letters (``Brötchen`` stays whole); stop words come from the
``stop-words`` package for the comment's language (and English, which comments mix in); an
English plural ending in ``s`` counts with its singular when both occur. A theme is a word or
phrase in at least :data:`MIN_COMMENTS` comments; for each: how many comments, the share of
them by unhappy customers (detractors, or CSAT 1-2) and their average score, so "delivery"
coming back among detractors stands out. A two-word phrase replaces its words when it is as
frequent as they are.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

MIN_COMMENTS = 2
TOP = 8
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
STOP_LANGUAGES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "nl": "dutch",
}
EXTRA_STOP = {"also", "really", "just", "very", "much", "get", "got", "one", "bit", "lot"}


@lru_cache(maxsize=8)
def stop_words(language: str | None) -> frozenset[str]:
    from stop_words import get_stop_words

    words: set[str] = set(EXTRA_STOP)
    for code in {"en", language or "en"}:
        name = STOP_LANGUAGES.get(code)
        if name:
            words.update(w.lower() for w in get_stop_words(name))
    return frozenset(words)


def terms(text: str, language: str | None) -> set[str]:
    """The words and two-word phrases of one comment that can be themes."""
    stops = stop_words(language)
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    kept = [w if w not in stops and len(w) > 2 else None for w in words]
    found = {w for w in kept if w}
    found |= {f"{a} {b}" for a, b in itertools.pairwise(kept) if a and b}
    return found


def themes(
    comments: Sequence[tuple[str, str | None, bool, int]], *, top: int = TOP
) -> list[dict[str, Any]]:
    """(comment, language, unhappy, score) -> the recurring themes, most frequent first:
    theme, comments, unhappy (how many of them), average score."""
    per_comment = [terms(text, language) for text, language, _, _ in comments]
    counts: Counter[str] = Counter()
    for found in per_comment:
        counts.update(found)
    singular = {w: w[:-1] for w in counts if w.endswith("s") and " " not in w and w[:-1] in counts}
    for plural, single in singular.items():
        for found in per_comment:
            if plural in found:
                found.discard(plural)
                found.add(single)
    counts = Counter()
    for found in per_comment:
        counts.update(found)
    for phrase in [t for t in counts if " " in t]:
        first, second = phrase.split(" ", 1)
        if counts[phrase] >= MIN_COMMENTS and counts[phrase] >= max(
            counts.get(first, 0), counts.get(second, 0)
        ):
            counts.pop(first, None)
            counts.pop(second, None)
    chosen = [
        (theme, n)
        for theme, n in sorted(counts.items(), key=lambda kv: (-kv[1], " " not in kv[0], kv[0]))
        if n >= MIN_COMMENTS
    ][:top]
    out = []
    for theme, n in chosen:
        rows = [c for c, found in zip(comments, per_comment, strict=True) if theme in found]
        out.append(
            {
                "theme": theme,
                "comments": n,
                "unhappy": sum(1 for _, _, unhappy, _ in rows if unhappy),
                "average_score": round(sum(s for *_, s in rows) / len(rows), 1) if rows else None,
            }
        )
    return out
