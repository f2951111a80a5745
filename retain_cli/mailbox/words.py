"""What an unsubscribe request looks like in each language retain knows, and how the start
of a reply (its subject or first line) is compared with it.

A text is a request when, lower-cased, without ``Re:``/``AW:`` prefixes, e-mail addresses,
punctuation and polite filler ("please", "bitte", "me" ...), what is left is exactly one of
the phrases below: "Unsubscribe", "STOP", "Bitte abmelden!", "unsubscribe ada@example.com".
A sentence that merely contains a word ("can I stop by on Saturday?") is not.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

PHRASES: dict[str, tuple[str, ...]] = {
    "en": (
        "unsubscribe",
        "stop",
        "remove",
        "opt out",
        "optout",
        "cancel subscription",
        "no more emails",
        "no more email",
        "stop emails",
        "stop sending emails",
        "stop mailing",
        "take off list",
        "remove from list",
        "remove from mailing list",
    ),
    "de": (
        "abmelden",
        "abbestellen",
        "austragen",
        "abmeldung",
        "stopp",
        "stop",
        "keine emails mehr",
        "keine e-mails mehr",
        "keine mails mehr",
        "keine werbung mehr",
        "aus verteiler entfernen",
        "aus liste entfernen",
    ),
    "fr": ("desabonner", "desinscrire", "desabonnement", "desinscription", "stop", "arret"),
    "es": ("baja", "dar de baja", "darme de baja", "cancelar suscripcion", "stop"),
    "it": ("disiscrivimi", "disiscrivere", "cancellami", "annulla iscrizione", "stop"),
    "nl": ("afmelden", "uitschrijven", "stop", "geen mails meer"),
}
LANGUAGES: tuple[str, ...] = tuple(PHRASES)

# words that do not change what a request asks for
_FILLER_WORDS = """
    please pls plz me my us thanks thank you now right away asap i want to would like
    e mail email address this the from your newsletter mailing list subscription
    bitte mich danke sofort ich will moechte mochte von ihrem eurem diesem dem den der die
    newsletter e-mail adresse
    svp s il vous plait merci moi je veux de la du des
    por favor gracias me quiero del de la
    per favore grazie mi voglio dalla
    graag alstublieft aub dank mij wil van de het
"""
FILLER = frozenset(_FILLER_WORDS.split())

_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|antw|antwort|sv|vs|wg|fw|fwd|tr|rif|r)\s*(?:\[\d+\])?\s*:\s*)+", re.I
)
_ADDRESS = re.compile(r"\S+@\S+")
_NOT_WORD = re.compile(r"[^\w\s-]+|(?<!\w)-|-(?!\w)")


def without_prefixes(subject: str) -> str:
    """``Re: AW: Fwd: Hello`` -> ``Hello``."""
    return _PREFIX.sub("", subject)


def _plain(text: str) -> str:
    """Lower case, accents dropped (désabonner -> desabonner), umlauts as written."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def _core(text: str) -> str:
    """The words that matter: lower case, no addresses, punctuation or filler."""
    words = _NOT_WORD.sub(" ", _ADDRESS.sub(" ", _plain(text))).split()
    return " ".join(w for w in words if w not in FILLER)


@lru_cache(maxsize=8)
def _phrases(languages: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_core(p) for lang in languages for p in PHRASES[lang])


@lru_cache(maxsize=8)
def _hint(languages: tuple[str, ...]) -> frozenset[str]:
    """Every word of the phrases (for ASCII text: accents are dropped before comparing)."""
    return frozenset(w for p in _phrases(languages) for w in p.split())


_WORD = re.compile(r"[\w-]+")


def asks_to_unsubscribe(text: str, languages: tuple[str, ...] | None = None) -> str | None:
    """The phrase ``text`` is (see the module's doc), or None."""
    if not text or len(text) > 200:
        return None
    if text.isascii() and _hint(languages or LANGUAGES).isdisjoint(_WORD.findall(text.lower())):
        return None  # the usual case: no word of any phrase in it
    left = _core(without_prefixes(text))
    if not left:
        return None
    phrases = _phrases(languages or LANGUAGES)
    if left in phrases:
        return left
    return None
