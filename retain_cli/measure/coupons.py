"""What a campaign's coupon codes did: codes sent, redeemed by the customer each was sent
to, and the discount they gave (``retain report``).

A code counts as redeemed when a countable order (not cancelled, not refunded in full) of
the customer it was given to used it at or after the message was claimed, at any time (the
code's expiry is the shop platform's): a coupon is measured by its own redemptions, not
within the report's window. An order of someone else with the code (a forwarded code) is
counted apart, with its discount, and never as a redemption. Held-out customers get no code,
so the campaign's effect itself is the recipients against the holdout, as for every
campaign; the revenue there is already net of the discounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from retain_cli.money import minor_units

if TYPE_CHECKING:
    from retain_cli.store import Store


@dataclass(frozen=True)
class CouponUse:
    """One campaign step's codes: sent, redeemed by their recipient, discount (major units),
    and orders of other customers that used them, with their discount."""

    pool: str
    sent: int
    redeemed: int
    discount: float
    others: int = 0
    others_discount: float = 0.0

    @property
    def rate(self) -> float | None:
        return self.redeemed / self.sent if self.sent else None


def coupon_uses(
    store: Store, campaigns: list[str], currency: str
) -> dict[tuple[str, int], CouponUse]:
    """(campaign, step) -> its codes' use, for the steps whose sent messages carried codes."""
    scale = 10 ** minor_units(currency)
    return {
        (row["campaign"], row["step"]): CouponUse(
            pool=row["pool"],
            sent=row["sent"],
            redeemed=row["redeemed"],
            discount=row["discount_minor"] / scale,
            others=row["others"],
            others_discount=row["others_discount_minor"] / scale,
        )
        for row in store.coupon_use(campaigns)
    }
