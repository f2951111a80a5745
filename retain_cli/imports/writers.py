"""Writing an import: one writer per kind, all inside the import's transaction.

:class:`Writer` is their common shape; :class:`SuppressionsWriter` and
:class:`CustomersWriter` live here with :func:`apply_consent` (a withdrawn consent suppresses
the address); the orders writer is in :mod:`retain_cli.imports.orders`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retain_cli.imports.values import split_name

if TYPE_CHECKING:
    from retain_cli.imports.frame import Frame
    from retain_cli.imports.layouts import Layout
    from retain_cli.imports.options import Progress
    from retain_cli.store import Store


class Writer:
    """Writes the frame's rows of one kind (:meth:`run`) and counts what it did."""

    def __init__(
        self,
        store: Store,
        frame: Frame,
        layout: Layout,
        import_ref: int,
        progress: Progress | None,
        total: int,
    ) -> None:
        self.store = store
        self.frame = frame
        self.layout = layout
        self.import_ref = import_ref
        self.progress = progress
        self.total = total
        self.inserted = self.updated = self.unchanged = self.skipped = 0
        self.customers_created = 0
        #: orders: those written without a customer (walk-in sales)
        self.walk_ins = 0
        #: orders: refund rows applied to their orders (Square)
        self.refunds = 0
        self.suppressions: list[tuple[str, str]] = []

    def run(self) -> None:
        raise NotImplementedError

    def refresh_analytics(self) -> None:
        """Bring the packed copies that analytics read up to date (inside the import's
        transaction, so they commit with it)."""

    def tick(self, done: int) -> None:
        if self.progress:
            self.progress(min(done, self.total), self.total)


class SuppressionsWriter(Writer):
    def __init__(self, *args: Any, origin: str) -> None:
        super().__init__(*args)
        self.origin = origin  # recorded as suppressions.source

    def run(self) -> None:
        frame = self.frame
        emails, reasons = frame.get("email"), frame.get("reason")
        default = f"opt-out list {frame.source.path.name}"
        for row in range(frame.n):
            if frame.blank[row]:
                self.skipped += 1
                continue
            if row in frame.errors:
                continue
            email = emails[row]
            if email is None:
                frame.reject(row, "email", "no email address")
                continue
            if self.store.suppress(email, reasons[row] or default, self.origin):
                self.inserted += 1
            else:
                self.unchanged += 1
            if row % 1000 == 0:
                self.tick(row)


def apply_consent(
    store: Store, email: str | None, old: int | None, new: int | None, layout: Layout
) -> tuple[int | None, bool]:
    """The accepts_marketing value to store and whether an opt-out was newly recorded.

    An explicit opt-out (Square "Unsubscribed"), or a customer who had consent and now has
    not, puts the address in ``suppressions``, which no later import can undo.
    """
    if new is None:
        return old, False
    stored = 1 if new == 1 else 0
    suppressed = False
    if email and (new == -1 or (old == 1 and new == 0)):
        reason = (
            f"unsubscribed in {layout.label} export"
            if new == -1
            else f"marketing consent withdrawn in {layout.label} export"
        )
        suppressed = store.suppress(email, reason, layout.name)
    return stored, suppressed


class CustomersWriter(Writer):
    def run(self) -> None:
        store, frame, layout = self.store, self.frame, self.layout
        existing = store.customers_for_import()
        by_email = {c["email"]: ref for ref, c in existing.items() if c["email"]}
        by_id = {c["customer_id"]: ref for ref, c in existing.items()}
        by_source = store.customer_refs_by_source(layout.platform)
        aliases = store.customer_alias_refs()
        fields = {name: frame.get(name) for name in layout.fields}
        seen: dict[int, int] = {}
        links: list[tuple[str, str, int]] = []
        for row in range(frame.n):
            if row % 1000 == 0:
                self.tick(row)
            if frame.blank[row]:
                self.skipped += 1
                continue
            if row in frame.errors:
                continue
            values = {name: column[row] for name, column in fields.items()}
            platform_id, email = values["customer_id"], values["email"]
            if not platform_id and not email:
                frame.reject(row, None, "no email address and no customer id")
                continue
            first, last = values["first_name"], values["last_name"]
            if values["name"] and not (first or last):
                first, last = split_name(values["name"])
            data = {
                "first_name": first,
                "last_name": last,
                "phone": values["phone"],
                "company": values["company"],
                "address1": values["address1"],
                "address2": values["address2"],
                "city": values["city"],
                "province": values["province"],
                "country": values["country"],
                "zip": values["zip"],
                "birthday": values["birthday"],
                "tags": values["tags"],
                "note": values["note"],
                "source_created_at": values["created_at"],
            }
            consent = values["accepts_marketing"]
            ref = None
            if platform_id:
                ref = by_source.get(platform_id)
            if ref is None and email:
                ref = by_email.get(email)
            if ref is None and platform_id:
                ref = by_id.get(platform_id)
            if ref is None and email in aliases:
                # an old address of a merged customer: the merged customer keeps its own
                # values; only an opt-out from the old account still counts, for both
                self._alias_row(email, aliases[email], consent, existing)
                continue
            if ref is not None and ref in seen:
                frame.reject(
                    row,
                    "email" if email else "customer_id",
                    "the same customer appears "
                    "more than once in the file; only the first row was used",
                )
                continue
            if ref is None:
                new = {k: v for k, v in data.items() if v is not None}
                stored, _ = apply_consent(store, email, None, consent, layout)
                new.update(customer_id=platform_id or email, email=email, accepts_marketing=stored)
                ref = store.insert_customer(new, layout.name)
                existing[ref] = {**dict.fromkeys(data), **new}
                if email:
                    by_email[email] = ref
                by_id[new["customer_id"]] = ref
                self.inserted += 1
                self.customers_created += 1
            else:
                current = existing[ref]
                changes = {k: v for k, v in data.items() if v is not None and current[k] != v}
                if email and current["email"] != email:
                    owner = by_email.get(email)
                    if owner is not None and owner != ref:
                        frame.reject(
                            row,
                            "email",
                            f"address {email} already belongs to customer "
                            f"{existing[owner]['customer_id']}, not to {platform_id}",
                        )
                        continue
                    changes["email"] = email
                    by_email.pop(current["email"], None)
                    by_email[email] = ref
                if (
                    platform_id
                    and current["customer_id"] != platform_id
                    and current["customer_id"] in (current["email"], email)
                    and platform_id not in by_id
                ):
                    changes["customer_id"] = platform_id
                    by_id.pop(current["customer_id"], None)
                    by_id[platform_id] = ref
                stored, suppressed = apply_consent(
                    store, email or current["email"], current["accepts_marketing"], consent, layout
                )
                if stored != current["accepts_marketing"]:
                    changes["accepts_marketing"] = stored
                linked = bool(platform_id) and platform_id not in by_source
                if changes:
                    store.update_customer(ref, changes)
                    current.update(changes)
                if changes or suppressed or linked:
                    self.updated += 1
                else:
                    self.unchanged += 1
            seen[ref] = row
            if platform_id and platform_id not in by_source:
                by_source[platform_id] = ref
                links.append((layout.platform, platform_id, ref))
        store.add_customer_sources(links)

    def _alias_row(
        self, email: str, ref: int, consent: int | None, existing: dict[int, dict[str, Any]]
    ) -> None:
        current = existing.get(ref, {}).get("email")
        opted_out = False
        if consent == -1:
            reason = f"unsubscribed in {self.layout.label} export (as {email}, merged)"
            opted_out = self.store.suppress(email, reason, self.layout.name)
            if current:
                opted_out = self.store.suppress(current, reason, self.layout.name) or opted_out
        if opted_out:
            self.updated += 1
        else:
            self.unchanged += 1
