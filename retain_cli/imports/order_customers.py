"""The customers of imported orders: each order's customer ref, creating the customers not
known yet from the orders (their names, their latest consent) in one go. The common case,
orders known by e-mail only, takes a leaner path for big files.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from retain_cli.imports.values import split_name
from retain_cli.imports.writers import apply_consent

if TYPE_CHECKING:
    import numpy as np

    from retain_cli.imports.frame import Frame
    from retain_cli.imports.layouts import Layout
    from retain_cli.store import Store


#: the customer ref of an order without a customer (stored as NULL, see ORDER_COLUMNS)
WALK_IN = 0


class OrderCustomers:
    """Resolves the customers of one orders import (inside its transaction)."""

    def __init__(self, store: Store, frame: Frame, layout: Layout) -> None:
        self.store = store
        self.frame = frame
        self.layout = layout
        #: customers created from the orders
        self.customers_created = 0

    def resolve(self, cols: Mapping[str, list[Any]]) -> Any:
        """The customer ref of every order, creating unknown customers from the orders.

        Known by platform id (customer_sources) first, then by e-mail, then by customer_id.
        A platform id seen for an e-mail whose customer has no platform id yet becomes that
        customer's customer_id. A customer known by id only is created without an e-mail
        address (kept from mail until a customers import brings one). An order with neither
        is a sale without a customer: :data:`WALK_IN`.
        """
        store, layout = self.store, self.layout
        cids, emails = cols["customer_id"], cols["email"]
        with_ids = cids.count(None) != len(cids)
        keys: list[Any] = list(zip(cids, emails, strict=True)) if with_ids else emails
        by_email = store.customer_refs_by_email()
        if not with_ids:
            codes = self.frame.codes.get("email") if len(emails) == self.frame.n else None
            distinct = codes[1] if codes is not None else emails
            unique = [e for e in dict.fromkeys(distinct) if e is not None]
            return self._resolve_by_email(cols, emails, unique, by_email, codes)
        unique = list(dict.fromkeys(keys))
        by_source = store.customer_refs_by_source(layout.platform)
        by_id: dict[str, int] | None = None
        resolved: dict[Any, int | str] = {}  # key -> ref, or the customer_id of a new one
        planned: dict[str, list[Any]] = {}  # customer_id -> [customer_id, email, first, last]
        planned_by_email: dict[str, str] = {}
        upgrades: dict[int, str] = {}
        links: dict[str, int | str] = {}
        for key in unique:
            cid, email = key if with_ids else (None, key)
            if not cid and not email:
                resolved[key] = WALK_IN  # a sale without a customer
                continue
            ref: int | None = by_source.get(cid) if cid else None
            if ref is None and email:
                ref = by_email.get(email)
            if by_id is None and (ref is None or (cid and cid not in by_source)):
                by_id = store.customer_ids_in_use()
            if ref is None and by_id is not None:
                ref = by_id.get(cid or email)
            if (
                ref is not None
                and cid
                and by_id is not None
                and by_id.get(email) == ref
                and cid not in by_id
                and ref not in upgrades
            ):
                upgrades[ref] = cid
                by_id[cid] = ref
            target: int | str
            if ref is not None:
                target = ref
            else:
                new_id = planned_by_email.get(email) if email else None
                if new_id is None:
                    new_id = cid or email
                    planned[new_id] = [new_id, email, None, None]
                    if email:
                        planned_by_email[email] = new_id
                target = new_id
            resolved[key] = target
            if cid and cid not in by_source:
                links.setdefault(cid, target)
        if planned:
            self._name_new_customers(cols, keys, resolved, planned)
        consent = self._latest_consent(cols, keys, resolved)
        new_rows = []
        for customer_id, email, first, last in planned.values():
            value = consent.pop(customer_id, None)
            if value == -1 and email:
                store.suppress(email, f"unsubscribed in {layout.label} export", layout.name)
            stored = None if value is None else int(value == 1)
            new_rows.append((customer_id, email, first, last, stored))
        created = store.insert_customers(new_rows, layout.name)
        self.customers_created = len(created)
        for ref, cid in upgrades.items():
            store.update_customer(ref, {"customer_id": cid})
        if consent:
            self._update_consent(consent)
        store.add_customer_sources(
            (layout.platform, cid, created[t] if isinstance(t, str) else t)
            for cid, t in links.items()
        )
        lookup = {k: (created[t] if isinstance(t, str) else t) for k, t in resolved.items()}
        return [lookup[k] for k in keys]

    def _resolve_by_email(
        self,
        cols: Mapping[str, list[Any]],
        emails: list[Any],
        unique: list[Any],
        by_email: dict[str, int],
        codes: tuple[np.ndarray, list[Any]] | None,
    ) -> Any:
        """The common case, kept lean for big files: customers known by e-mail only."""
        store, layout = self.store, self.layout
        planned: dict[str, list[Any]] = {}
        missing = [email for email in unique if email not in by_email] if by_email else unique
        if missing:
            by_id = store.customer_ids_in_use()
            if not by_id and not self._names_or_consent():
                # no customer known, nothing to take from the orders but their addresses
                new = sorted(missing)  # (index inserts in order)
                created = store.insert_customers(
                    [(e, e, None, None, None) for e in new], layout.name
                )
                self.customers_created = len(created)
                by_email.update(created)
                return self._refs_by_email(emails, by_email, codes)
            for email in missing:
                ref = by_id.get(email)
                if ref is not None:
                    by_email[email] = ref
                else:
                    planned[email] = [email, email, None, None]
        resolved: dict[Any, int | str] = {e: by_email.get(e, e) for e in unique}
        if planned:
            self._name_new_customers(cols, emails, resolved, planned)
        consent = self._latest_consent(cols, emails, resolved)
        new_rows = []
        for customer_id, email, first, last in planned.values():
            value = consent.pop(customer_id, None)
            if value == -1:
                store.suppress(email, f"unsubscribed in {layout.label} export", layout.name)
            new_rows.append(
                (customer_id, email, first, last, None if value is None else int(value == 1))
            )
        created = store.insert_customers(new_rows, layout.name)
        self.customers_created = len(created)
        by_email.update(created)
        if consent:
            self._update_consent(consent)
        return self._refs_by_email(emails, by_email, codes)

    def _names_or_consent(self) -> bool:
        """Whether the orders bring anything for their customers beyond the address."""
        frame = self.frame
        return any(frame.has(n) for n in ("first_name", "last_name", "name", "accepts_marketing"))

    @staticmethod
    def _refs_by_email(
        emails: list[Any], by_email: Mapping[str, int], codes: tuple[np.ndarray, list[Any]] | None
    ) -> Any:
        """The customer ref of each order."""
        if codes is not None:  # every row kept: map distinct addresses, then take by row
            import numpy as np

            indices, distinct = codes
            known: Mapping[Any, int] = by_email
            if None in distinct:
                known = {**by_email, None: WALK_IN}
            refs = np.fromiter(map(known.__getitem__, distinct), np.int64, len(distinct))
            return refs[indices]
        return array("q", [WALK_IN if email is None else by_email[email] for email in emails])

    def _name_new_customers(
        self,
        cols: Mapping[str, list[Any]],
        keys: Sequence[Any],
        resolved: Mapping[Any, int | str],
        planned: Mapping[str, list[Any]],
    ) -> None:
        firsts, lasts, names = cols["first_name"], cols["last_name"], cols["name"]
        if not any(v is not None for v in (*firsts[:1], *lasts[:1], *names[:1])) and not (
            self.frame.has("first_name") or self.frame.has("last_name") or self.frame.has("name")
        ):
            return
        for i, key in enumerate(keys):
            target = resolved.get(key, WALK_IN)
            if not isinstance(target, str):
                continue
            entry = planned[target]
            if entry[2] is not None or entry[3] is not None:
                continue
            first, last = firsts[i], lasts[i]
            full = names[i]
            if full and not (first or last) and "@" not in full:
                first, last = split_name(full)
            entry[2], entry[3] = first, last

    def _latest_consent(
        self, cols: Mapping[str, list[Any]], keys: Sequence[Any], resolved: Mapping[Any, Any]
    ) -> dict[Any, int]:
        """Per customer (ref, or customer_id if new), the consent of their latest order."""
        if not self.frame.has("accepts_marketing"):
            return {}
        latest: dict[Any, tuple[str, int]] = {}
        for key, value, stamp in zip(keys, cols["accepts_marketing"], cols["date"], strict=True):
            target = resolved.get(key, WALK_IN)
            if value is None or target == WALK_IN:
                continue
            previous = latest.get(target)
            if previous is None or previous[0] <= stamp:
                latest[target] = (stamp, value)
        return {target: value for target, (_stamp, value) in latest.items()}

    def _update_consent(self, consent: Mapping[Any, int]) -> None:
        current = self.store.customers_for_import()
        changes = []
        for ref, value in consent.items():
            customer = current[ref]
            stored, _ = apply_consent(
                self.store, customer["email"], customer["accepts_marketing"], value, self.layout
            )
            if stored is not None:
                changes.append((stored, ref))
        self.store.set_customer_consent(changes)
