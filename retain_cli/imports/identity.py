"""One customer, two addresses: spotting an address change in an import, and merging.

Without a platform id a customer is known by their e-mail address, so a new address makes a
new customer: welcomed again, due one-off campaigns again, their history split in two.
:func:`address_changes` finds the likely cases after an import (two customers with the same
first and last name, one of them new, no conflicting phone, and the new address's orders
beginning after the old one's ended); :func:`merge` joins them (``retain customers merge OLD
NEW``): orders, the send ledger, platform ids and segment history follow, an opt-out of
either address holds for the merged customer, and the old address stays known as an alias,
so the next import of an old export finds the merged customer instead of creating it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retain_cli.errors import NotFound, UsageError
from retain_cli.timeutil import utc_now_iso

if TYPE_CHECKING:
    from retain_cli.store import Store


@dataclass(frozen=True, slots=True)
class AddressChange:
    """A likely address change: ``old`` and ``new`` look like the same person."""

    old: str
    new: str
    name: str
    evidence: str

    @property
    def command(self) -> str:
        return f"retain customers merge {self.old} {self.new}"


@dataclass(frozen=True, slots=True)
class Merged:
    old: str
    new: str
    orders: int
    sends: int
    suppressed: bool  # the old address's opt-out now holds for the new one


def _digits(phone: Any) -> str:
    return re.sub(r"\D", "", str(phone or ""))[-9:]


def address_changes(store: Store, since_ref: int) -> list[AddressChange]:
    """Pairs of customers that look like one person whose address changed, among those
    involving a customer created after ``since_ref`` (by the import that just ran)."""
    out = []
    for pair in store.same_name_pairs(since_ref):
        # the old address is the one whose orders end first; without orders, the older one
        a, b = sorted(pair, key=lambda c: (c["last_order_at"] or "", c["ref"]))
        if a["orders"] and b["orders"]:
            if a["last_order_at"] > b["first_order_at"]:
                continue  # both in use at the same time: two people
            evidence = "same name; the new address's orders begin after the old one's end"
        else:
            a, b = sorted(pair, key=lambda c: c["ref"])
            evidence = "same name"
        if b["platform_id"]:
            continue  # the platform keeps its own id across address changes
        phones = _digits(a["phone"]), _digits(b["phone"])
        if all(phones) and phones[0] != phones[1]:
            continue
        if all(phones):
            evidence += "; same phone"
        out.append(AddressChange(a["email"], b["email"], a["name"].title(), evidence))
    return out


def merge(store: Store, old: str, new: str) -> Merged:
    """Merge the customer ``old`` into ``new`` (each an e-mail address or a customer id)."""
    old_ref = _find(store, old, "OLD")
    new_ref = _find(store, new, "NEW")
    if old_ref == new_ref:
        raise UsageError(f"{old!r} and {new!r} are the same customer; nothing to merge")
    before = store.customer_record(old_ref)
    after = store.customer_record(new_ref)
    moved = store.merge_customers(old_ref, new_ref, utc_now_iso())
    return Merged(
        old=str(before["email"] or before["customer_id"]),
        new=str(after["email"] or after["customer_id"]),
        orders=moved["orders"],
        sends=moved["sends"],
        suppressed=bool(moved["suppressed"]),
    )


def _find(store: Store, key: str, label: str) -> int:
    ref = store.find_customer_ref(key)
    if ref is None:
        raise NotFound(
            f"{label} {key!r} is not a customer; give an e-mail address or a customer id "
            "(see 'retain customers list')"
        )
    return ref
