"""The example campaign file's sender, found while it is still in place.

``campaigns.example.yaml`` (and so the demo) writes as Rosie's Bakery, a Berlin bakery with
addresses on ``rosies.example``. That is right for trying retain out (the outbox transport
writes ``.eml`` files), and wrong for real mail: customers would read another shop's name and
postal address, and replies would go nowhere. :func:`placeholders` lists every such value;
``retain campaigns check`` warns about them and ``retain send`` over SMTP refuses to start
(:func:`refuse_placeholders`).

An address counts as a placeholder when its domain is one reserved for examples (RFC 2606
and RFC 6761: ``example.com``, ``.example``, ``.test``, ``.invalid``, ``localhost``): no
mail is delivered there.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import urlsplit

from retain_cli.campaigns.model import CampaignConfig
from retain_cli.errors import SendError

#: the example shop (the demo's): its name and postal address, as campaigns.example.yaml has
#: them (and the address older example files had)
EXAMPLE_SHOP = "Rosie's Bakery"
EXAMPLE_ADDRESSES = ("Beispielstraße 12, 10115 Berlin", "12 Baker St, Springfield")
EXAMPLE_DOMAINS = ("example", "example.com", "example.net", "example.org", "localhost")
EXAMPLE_SUFFIXES = (".example", ".test", ".invalid")


@dataclass(frozen=True, slots=True)
class Placeholder:
    key: str  # sender.from, sender.reply_to, sender.address, sender.unsubscribe, transport.host
    value: str
    why: str  # "the example shop's name", "an example address (no mail arrives there)"

    def text(self) -> str:
        return f"key {self.key!r}: {self.value!r} is {self.why}"


def example_domain(domain: str) -> bool:
    """A domain reserved for examples, where no mail is delivered."""
    name = domain.strip().rstrip(".").lower()
    return any(name == d or name.endswith(f".{d}") for d in EXAMPLE_DOMAINS) or name.endswith(
        EXAMPLE_SUFFIXES
    )


def _domain_of(value: str) -> str:
    if value.startswith("mailto:"):
        value = value.removeprefix("mailto:").split("?", 1)[0]
    elif "://" in value:
        return urlsplit(value).hostname or ""
    return parseaddr(value)[1].rpartition("@")[2]


def placeholders(config: CampaignConfig, *, smtp: bool | None = None) -> list[Placeholder]:
    """Every sender value (and, when sending over SMTP, server value) that is the example's.

    ``smtp``: also look at the SMTP server (default: when the file's transport is smtp; an
    outbox run never uses it). The login is left to the server to judge.
    """
    sender = config.sender
    values: list[tuple[str, str | None]] = [
        ("sender.from", sender.from_addr),
        ("sender.reply_to", sender.reply_to),
        ("sender.address", sender.address),
        ("sender.unsubscribe", sender.unsubscribe),
    ]
    if (config.transport == "smtp" if smtp is None else smtp) and config.smtp is not None:
        values.append(("transport.host", config.smtp.host))
    found: list[Placeholder] = []
    for key, value in values:
        if not value:
            continue
        why = []
        if key == "sender.from" and parseaddr(value)[0].strip().lower() == EXAMPLE_SHOP.lower():
            why.append("the example shop's name")
        if key == "sender.address" and value.strip().lower() in _EXAMPLE_ADDRESSES:
            why.append("the example's postal address")
        if key == "transport.host" and example_domain(value):
            why.append("the example's server")
        elif key != "sender.address" and example_domain(_domain_of(value)):
            why.append("an example address (no mail is delivered to its domain)")
        if why:
            found.append(Placeholder(key, value, " and ".join(why)))
    return found


_EXAMPLE_ADDRESSES = {a.lower() for a in EXAMPLE_ADDRESSES}


def refuse_placeholders(config: CampaignConfig) -> None:
    """Raise :class:`SendError` when real mail would go out with the example's sender."""
    found = placeholders(config, smtp=True)
    if not found:
        return
    keys = ", ".join(p.key for p in found)
    raise SendError(
        f"{config.path}: nothing was sent: {keys} still hold the example's values "
        f"({'; '.join(p.text() for p in found)}); put your shop's own name, addresses and "
        "postal address there ('retain campaigns check' lists what is left), or try it out "
        "with --transport outbox"
    )
