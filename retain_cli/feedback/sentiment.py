"""The sentiment of a survey comment: VADER (Hutto and Gilbert, 2014; the ``vaderSentiment``
package) for English, nothing for other languages.

VADER is a lexicon of English words rated by people, with rules for negation, intensity and
punctuation; it reads English only, so a comment is scored only when it is English: when
py3langid (a maintained langid.py, its model shipped in the package) says so among the
languages the shop uses, or, for a comment too short to tell (``great``), when English is its
first guess and VADER knows one of its words. Other comments keep their detected language
and no sentiment: retain says it left them unscored rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retain_cli.store import Store

LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
SURE = 0.5  # py3langid's normalised probability from which its answer is taken as it is
SCORED_LANGUAGES = ("en",)


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=4)
def _identifier(languages: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(languages))
    return identifier


def language(text: str, languages: tuple[str, ...] = LANGUAGES) -> str | None:
    """The comment's language (``en``, ``de`` ...), or None when it cannot be told."""
    if not any(ch.isalpha() for ch in text):
        return None
    identifier = _identifier(tuple(sorted(set(languages) | {"en"})))
    label, probability = identifier.classify(text)
    if probability >= SURE:
        return str(label)
    if label == "en" and _known_words(text):
        return "en"
    return None


def _known_words(text: str) -> bool:
    lexicon = _analyzer().lexicon
    return any(word.strip(".,!?;:'\"()").lower() in lexicon for word in text.split())


def sentiment(text: str, languages: tuple[str, ...] = LANGUAGES) -> tuple[str | None, float | None]:
    """(language, VADER compound score in -1..1) of a comment; the score is None unless the
    comment is English."""
    found = language(text, languages)
    if found not in SCORED_LANGUAGES:
        return found, None
    return found, round(float(_analyzer().polarity_scores(text)["compound"]), 4)


def score_pending(store: Store, languages: Iterable[str] = LANGUAGES) -> int:
    """Score every comment not looked at yet; returns how many were looked at."""
    pending = store.survey_unscored()
    if not pending:
        return 0
    wanted = tuple(languages)
    rows = [(rid, *sentiment(comment, wanted)) for rid, comment in pending]
    store.survey_set_sentiment(rows)
    return len(rows)


def label(value: float | None) -> str:
    """VADER's usual reading of a compound score."""
    if value is None:
        return "unscored"
    if value >= 0.05:
        return "positive"
    if value <= -0.05:
        return "negative"
    return "neutral"
