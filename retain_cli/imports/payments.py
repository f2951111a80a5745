"""Point-of-sale exports (Square's transactions and item details): what their rows mean
before they become orders.

* The amount is net of tax (Net Sales): an order's total is Net Sales + Tax, the same in
  both exports, so importing both for the same days changes no total (tips are left out).
* Item details carry each line's share of the order's amounts: they are summed per order,
  and a line's Gross Sales divided by its quantity is the unit price.
* A refund is a row of its own (Event Type "Refund", negative amounts) naming the payment it
  refunds: it raises that order's refunded amount, in this file or an earlier one, instead
  of being an order. Each refund is recorded once (``order_refunds``), so importing a file
  again adds nothing and refunds of one payment in different files add up.
* Discounts are written negative; they are stored as positive amounts, like Shopify's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retain_cli.imports.frame import Frame
    from retain_cli.imports.layouts import Layout
    from retain_cli.store import Store


class PointOfSale:
    """The rows of one point-of-sale export, made ready for the orders writer."""

    def __init__(self, frame: Frame, layout: Layout) -> None:
        self.frame = frame
        self.layout = layout
        #: rows that are refunds, not orders
        self.refund_rows: set[int] = set()
        #: refunds rows applied (to an order of this file or an earlier import)
        self.applied = 0

    @staticmethod
    def applies(layout: Layout) -> bool:
        return bool(layout.refund_events or layout.amount_plus_tax or layout.item_amounts)

    def prepare(self) -> set[int]:
        """Totals with tax, positive discounts, unit prices, and the refund rows set apart
        (:meth:`Frame.normalise` rejected payments with a negative amount). Returns the
        refund rows."""
        frame, layout = self.frame, self.layout
        amounts = self._values("amount")
        if layout.amount_plus_tax and frame.has("tax"):
            taxes = frame.get("tax")
            for row, (amount, tax) in enumerate(zip(amounts, taxes, strict=True)):
                if amount is not None and tax is not None:
                    amounts[row] = amount + tax
        if frame.has("discount"):
            discounts = self._values("discount")
            for row, value in enumerate(discounts):
                if value is not None and value < 0:
                    discounts[row] = -value
        if layout.item_amounts and frame.has("item_price"):
            prices, quantities = self._values("item_price"), frame.get("item_quantity")
            for row, (price, quantity) in enumerate(zip(prices, quantities, strict=True)):
                if price is not None and quantity:
                    prices[row] = round(abs(price) / quantity)
        events = frame.get("event")
        kinds = layout.refund_events
        self.refund_rows = {
            row
            for row, event in enumerate(events)
            if event is not None and event.lower() in kinds and not frame.blank[row]
        }
        return self.refund_rows

    def sum_items(self, orders: Sequence[Any]) -> None:
        """Item details: each order's amounts are the sums of its lines' (on its first row,
        where the writer reads the order). ``orders``: the writer's grouped orders."""
        frame = self.frame
        names = [n for n in ("amount", "tax", "discount") if frame.has(n)]
        columns = {name: frame.get(name) for name in names}
        for order in orders:
            for name, values in columns.items():
                parts = [values[row] for row in order.rows]
                if name == "amount" and None in parts:
                    continue  # the first row's missing amount rejects the order
                values[order.row] = sum(part for part in parts if part is not None)

    def write_refunds(self, store: Store, import_ref: int) -> int:
        """Record this file's refunds against their orders (see the module docstring);
        a refund of a payment no import holds is rejected. Returns how many orders of
        earlier imports changed."""
        frame = self.frame
        rows = sorted(row for row in self.refund_rows if row not in frame.errors)
        if not rows:
            return 0
        ids, dates, amounts = frame.get("order_id"), frame.get("date"), frame.get("amount")
        refunds: dict[tuple[str, str], list[int]] = {}  # (payment, when) -> rows
        for row in rows:
            if ids[row] is None:
                frame.reject(row, "order_id", "a refund that names no payment")
            elif dates[row] is None:
                frame.reject(row, "date", "no date")
            elif amounts[row] is None:
                frame.reject(row, "amount", "no amount")
            else:
                refunds.setdefault((ids[row], dates[row]), []).append(row)
        # item details list a refund line by line (one refund: one payment and moment); a
        # transactions export gives each refund a row
        batches = [
            (payment, when, part)
            for (payment, when), group in refunds.items()
            for part in ([group] if self.layout.item_amounts else [[row] for row in group])
        ]
        prefix = f"{self.layout.platform}:"
        records: list[tuple[str, str, str | None, int]] = []
        rows_of: dict[str, list[int]] = {}
        seen: dict[tuple[str, str, int], int] = {}
        for payment, when, part in batches:
            amount = abs(sum(amounts[row] for row in part))
            number = seen[(payment, when, amount)] = seen.get((payment, when, amount), 0) + 1
            records.append((prefix + payment, f"{when}|{amount}|{number}", when, amount))
            rows_of.setdefault(prefix + payment, []).extend(part)
        missing, changed = store.record_refunds(records, import_ref)
        for key in missing:
            for row in rows_of[key]:
                frame.reject(
                    row,
                    "order_id",
                    f"a refund of payment {key.removeprefix(prefix)}, which no import holds; "
                    "import the export with the payment, then this file again",
                )
        self.applied = sum(len(rows_of[key]) for key in rows_of if key not in missing)
        return changed

    def _values(self, name: str) -> list[Any]:
        """The field's parsed values, as the list the frame keeps (changed in place)."""
        values = self.frame.get(name)
        self.frame.values[name] = values
        return values
