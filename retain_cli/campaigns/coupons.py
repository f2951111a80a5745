"""Unique coupon codes in messages: a campaign's ``coupon_pool``, the code each message
carries (``{{ coupon.code }}``), and what to tell the owner when a pool runs low.

The code a message carries is chosen when the message is built and written to the ledger in
the same statement as the message's claim (:meth:`retain_cli.store.Store.ledger_advance`),
before any of it reaches the server; the unique index on ``sends.coupon_ref`` makes sure no
code is ever given to two messages. So:

- a run killed after building a message but before claiming it gave its code to nobody (the
  next run may give the message another code: none left the machine);
- a message that was claimed keeps its code for good: retried after a temporary failure,
  resumed after ``retain sends resolve --as retry``, or re-addressed, it is built again with
  the same code (:attr:`retain_cli.store.ledger.LedgerRow.coupon_code`);
- a message whose pool has no code left is not sent (it waits, planned, for a later run and
  the run exits 3): never with an empty code.

Only one ``retain send`` runs at a time (the send lock), so the codes a :class:`CouponDesk`
sets aside for the messages it builds are nobody else's; a message put in the approval queue
carries its code from the moment it is queued (:meth:`CouponDesk.attach`).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retain_cli.errors import SendError
from retain_cli.imports.coupons import pool_name

if TYPE_CHECKING:
    from retain_cli.campaigns.model import Campaign, CampaignConfig
    from retain_cli.store import Store
    from retain_cli.store.ledger import LedgerRow

#: a pool with less than this share of its codes left is running low
LOW_SHARE = 0.10
#: codes read from the database at a time
CHUNK = 256
#: what ``retain campaigns check`` renders for a sample customer
SAMPLE_CODE = "SAMPLE-CODE-1234"


def parse_coupon_pool(
    value: Any, offer_code: str | None, error: Callable[[str, str], Exception]
) -> str | None:
    """``coupon_pool: WINBACK``: the pool whose codes the campaign's messages carry."""
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise error("coupon_pool", "write the pool's name, e.g. WINBACK (see 'retain coupons')")
    try:
        name = pool_name(str(value))
    except ValueError as exc:
        raise error("coupon_pool", str(exc)) from None
    if offer_code is not None:
        raise error(
            "coupon_pool",
            "a campaign offers one code to everyone (offer_code) or a code of its own to "
            "each customer (coupon_pool), not both; remove one of them",
        )
    return name


class NoCode(SendError):
    """The message's pool has no code left: it waits, planned, for a later run."""

    def __init__(self, pool: str) -> None:
        super().__init__(
            f"waits for a coupon code: pool {pool} has none left; import more with "
            f"'retain coupons import FILE --pool {pool}' (it goes with the next run)"
        )
        self.pool = pool


@dataclass(frozen=True, slots=True)
class Coupon:
    ref: int | None  # coupon_codes.id (None: a sample)
    code: str
    pool: str

    def context(self) -> dict[str, str]:
        """The ``coupon`` variable of a template."""
        return {"code": self.code, "pool": self.pool}


class CouponDesk:
    """Sets codes aside for the messages one builder builds, in the order they were imported:
    the code a message already carries, else the next one left in its pool. Nothing is
    written here: a code is given when the message carrying it is claimed (or queued for
    approval, :meth:`attach`). A plan, a preview or a dry run uses one to show the codes that
    would be given."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._set_aside: dict[int, Coupon] = {}  # ledger row id -> its code
        self._next: dict[str, deque[tuple[int, str]]] = {}
        self._after: dict[str, int] = {}  # the last code id read, per pool
        self._empty: set[str] = set()

    def coupon_for(self, row: LedgerRow, pool: str) -> Coupon:
        """The code ``row``'s message carries. Raises :class:`NoCode` when none is left."""
        if row.coupon_ref is not None and row.coupon_code is not None:
            return Coupon(row.coupon_ref, row.coupon_code, pool)
        found = self._set_aside.get(row.id)
        if found is not None:
            return found
        waiting = self._next.setdefault(pool, deque())
        if not waiting and pool not in self._empty:
            codes = self.store.coupon_free(pool, self._after.get(pool, 0), CHUNK)
            if codes:
                waiting.extend(codes)
                self._after[pool] = codes[-1][0]
            else:
                self._empty.add(pool)  # none left now: not asked again in this run
        if not waiting:
            raise NoCode(pool)
        ref, code = waiting.popleft()
        coupon = Coupon(ref, code, pool)
        self._set_aside[row.id] = coupon
        return coupon

    def attach(self, rows: Sequence[LedgerRow]) -> None:
        """Give the codes set aside for these rows' messages now (they were queued for
        approval: the message the owner approves is the one sent)."""
        pairs = [
            (row.id, coupon.ref)
            for row in rows
            if row.coupon_ref is None
            and (coupon := self._set_aside.get(row.id)) is not None
            and coupon.ref is not None
        ]
        self.store.coupons_attach(pairs)


def with_coupon(
    context: dict[str, Any],
    campaign: Campaign,
    row: LedgerRow | None,
    desk: CouponDesk | None,
) -> tuple[dict[str, Any], Coupon | None]:
    """``context`` with the ``coupon`` variable for a campaign with a pool (a sample code
    without a desk or a row), and the coupon. Raises :class:`NoCode`."""
    pool = campaign.coupon_pool
    if pool is None:
        return context, None
    if desk is None or row is None:
        coupon = Coupon(None, SAMPLE_CODE, pool)
    else:
        coupon = desk.coupon_for(row, pool)
    return {**context, "coupon": coupon.context()}, coupon


def preview_coupon(
    context: dict[str, Any], campaign: Campaign, desk: CouponDesk, row: LedgerRow
) -> dict[str, Any]:
    """``context`` with the code ``row``'s message would carry if it were sent now (none is
    given), or a placeholder that says the pool is empty."""
    try:
        return with_coupon(context, campaign, row, desk)[0]
    except NoCode as exc:
        return {
            **context,
            "coupon": {"code": f"(no code left in pool {exc.pool})", "pool": exc.pool},
        }


# --- what the owner is told -------------------------------------------------------------------


def pools_of(config: CampaignConfig, campaigns: Sequence[str]) -> dict[str, list[str]]:
    """pool -> the campaigns (of ``campaigns``) whose messages carry its codes."""
    out: dict[str, list[str]] = {}
    for campaign in config.campaigns:
        if campaign.coupon_pool is not None and campaign.name in campaigns:
            out.setdefault(campaign.coupon_pool, []).append(campaign.name)
    return out


def pool_warnings(
    store: Store,
    config: CampaignConfig,
    campaigns: Sequence[str],
    *,
    due: Mapping[str, int] | None = None,
    waited: Mapping[str, int] | None = None,
) -> list[str]:
    """What the owner must know about the pools these campaigns use: none imported, fewer
    codes left than messages ``due`` now (per pool; a plan), messages that ``waited`` for a
    code (per pool; a send), or less than 10% of the pool left."""
    pools = pools_of(config, campaigns)
    if not pools:
        return []
    left = store.coupon_left(sorted(pools))
    due = due or {}
    waited = waited or {}
    out = []
    for pool, names in sorted(pools.items()):
        fix = f"import more with 'retain coupons import FILE --pool {pool}'"
        have, total = left.get(pool, (0, 0))
        need = due.get(pool, 0)
        users = ", ".join(names)
        if waited.get(pool):
            count = _messages(waited[pool])
            out.append(
                f"pool {pool} ran out: {count} of {users} that need a code were not sent and "
                f"wait for the next run; {fix}"
            )
        elif total == 0:
            out.append(
                f"pool {pool} ({users}) has no codes: messages that need one are not sent; "
                f"import the shop's codes with 'retain coupons import FILE --pool {pool}'"
            )
        elif have < need:
            out.append(
                f"pool {pool} has {have:,} code{'s' if have != 1 else ''} left for "
                f"{_messages(need)} due ({users}): {need - have:,} will wait, not sent; {fix}"
            )
        elif have < LOW_SHARE * total:
            out.append(
                f"pool {pool} is running low: {have:,} of {total:,} codes left "
                f"({have / total:.0%}); {fix}"
            )
    return out


def _messages(count: int) -> str:
    return f"{count:,} message{'s' if count != 1 else ''}"


def due_per_pool(config: CampaignConfig, store: Store, items: Sequence[Any]) -> Counter[str]:
    """Plan items due now (``status`` due) that need a code and carry none yet, per pool."""
    from retain_cli.campaigns.planner import DUE

    pools = {c.name: c.coupon_pool for c in config.campaigns if c.coupon_pool}
    keys = [i.send_key for i in items if i.status == DUE and i.campaign in pools]
    carrying = store.coupon_carried(keys) if keys else set()
    return Counter(
        pools[i.campaign]
        for i in items
        if i.status == DUE and i.campaign in pools and i.send_key not in carrying
    )
