"""The program holdout: a fixed share of customers kept out of every marketing campaign, so
that ``retain report program`` can say what the whole program did ("was it worth it").

- ``retain config set program_holdout 5%`` starts it: a random salt is kept, and every
  customer is drawn at once, held out when a hash of the salt and their customer id falls
  below the share. The draw is recorded (``program_holdout_members``) with the moment each
  customer joined it.
- Customers who arrive later are drawn by the next ``retain send`` (the same hash, recorded
  with that run's time); ``retain plan`` and ``retain preview`` compute the same answer for
  them without recording it. A customer is drawn once and stays where the draw put them:
  nothing an import or a new customer does moves anybody in or out.
- The share cannot be changed while the holdout runs (that would move customers across and
  the comparison would mean nothing): ``retain config unset program_holdout`` ends it (its
  record stays for the report), and setting a share again starts a new one with a new draw.
- A campaign with ``kind: transactional`` (an order confirmation, a receipt) still goes to
  the held-out customers; every other campaign is marketing and leaves them out, with the
  reason :data:`PROGRAM_REASON`. Consent and opt-outs apply to both kinds as before.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from retain_cli.campaigns.model import parse_percentage
from retain_cli.errors import UsageError
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    from retain_cli.store import Store

PROGRAM_REASON = "program holdout"
MARKETING, TRANSACTIONAL = "marketing", "transactional"


@dataclass(frozen=True)
class ProgramHoldout:
    """One program holdout the shop ran (``ended_at`` None: in force)."""

    id: int
    share: float
    salt: str
    started_at: str
    ended_at: str | None = None

    @property
    def share_text(self) -> str:
        return share_text(self.share)


@dataclass(frozen=True)
class ProgramChange:
    """What ``retain config set/unset program_holdout`` did."""

    holdout: ProgramHoldout | None
    changed: bool  # False: the same share was set again (nothing moved) / nothing to end
    drawn: int = 0  # customers drawn now
    held_out: int = 0  # of them held out


def share_text(share: float) -> str:
    """0.05 -> ``5%``, 0.025 -> ``2.5%``."""
    return f"{share * 100:g}%"


def program_score(salt: str, customer_id: str) -> float:
    """A number in [0, 1) fixed by the salt and the customer: held out below the share."""
    digest = hashlib.sha256(f"program\0{salt}\0{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _holdout(row: dict[str, object] | None) -> ProgramHoldout | None:
    if row is None:
        return None
    return ProgramHoldout(
        id=int(row["id"]),  # type: ignore[call-overload]
        share=float(row["share"]),  # type: ignore[arg-type]
        salt=str(row["salt"]),
        started_at=str(row["started_at"]),
        ended_at=None if row["ended_at"] is None else str(row["ended_at"]),
    )


def active_program(store: Store) -> ProgramHoldout | None:
    """The program holdout in force, if any."""
    return _holdout(store.program_active())


def latest_program(store: Store) -> ProgramHoldout | None:
    """The program holdout in force, else the last one that ran."""
    return _holdout(store.program_latest())


def program_share(store: Store) -> float | None:
    """The share the program holdout in force holds out (None: none is in force)."""
    holdout = active_program(store)
    return None if holdout is None else holdout.share


def program_held(store: Store, refs: Collection[int] | None = None) -> set[int]:
    """The customers (of ``refs``, else all) the program holdout keeps out of marketing now:
    those the recorded draw held out, and those not drawn yet whose hash will hold them out."""
    holdout = active_program(store)
    if holdout is None:
        return set()
    held = store.program_held_refs(holdout.id, refs)
    for ref, customer_id in store.program_undrawn(holdout.id, refs):
        if program_score(holdout.salt, customer_id) < holdout.share:
            held.add(int(ref))
    return held


def program_standing(store: Store, ref: int) -> str | None:
    """``retain explain``: how the program holdout in force keeps this customer out of
    marketing, with the day they joined it (None: it does not). The same answer as
    :func:`program_held`, which the plan uses."""
    holdout = active_program(store)
    if holdout is None:
        return None
    about = f"the program holdout, {holdout.share_text}; transactional campaigns still reach them"
    drawn = store.program_member(holdout.id, ref)
    if drawn is not None:
        held, joined = drawn
        return (
            f"held out of every marketing campaign since {joined[:10]} ({about})" if held else None
        )
    undrawn = store.program_undrawn(holdout.id, [ref])
    if any(program_score(holdout.salt, cid) < holdout.share for _, cid in undrawn):
        return (
            f"held out of every marketing campaign ({about}); the holdout runs since "
            f"{holdout.started_at[:10]} and the next 'retain send' records their draw"
        )
    return None


def _draw(store: Store, holdout: ProgramHoldout, now: str) -> tuple[int, int]:
    """Draw and record every customer not drawn yet (inside the caller's transaction)."""
    draws = [
        (int(ref), program_score(holdout.salt, customer_id) < holdout.share)
        for ref, customer_id in store.program_undrawn(holdout.id)
    ]
    store.program_record(holdout.id, draws, now)
    return len(draws), sum(1 for _, held in draws if held)


def draw_new_customers(store: Store, now: datetime) -> tuple[int, int]:
    """``retain send``: draw the customers who arrived since the last draw; (drawn, held out).
    Nothing when no program holdout is in force."""
    with store.transaction():
        holdout = active_program(store)
        if holdout is None:
            return 0, 0
        return _draw(store, holdout, to_iso(now))


def parse_kind(value: object) -> str:
    """A campaign's ``kind``: marketing (the default) or transactional. Raises ValueError."""
    if value is None:
        return MARKETING
    if value not in (MARKETING, TRANSACTIONAL):
        raise ValueError(
            f"must be marketing or transactional, not {value!r} (transactional: messages the "
            "customer needs, such as a receipt, which still reach the program holdout)"
        )
    return str(value)


def parse_share(value: str) -> float:
    """``5%`` or ``0.05`` -> 0.05 (above 0, at most 50%). Raises UsageError."""
    text = value.strip()
    try:
        number: str | float = text if text.endswith("%") else float(text)
        share = parse_percentage(number)
    except ValueError as exc:
        raise UsageError(f"program_holdout: {exc}") from None
    if share <= 0:
        raise UsageError(
            "program_holdout: 0% holds nobody out; to end the program holdout, run "
            "'retain config unset program_holdout'"
        )
    return share


def set_program_holdout(store: Store, value: str, now: datetime) -> ProgramChange:
    """Start the program holdout at ``value`` (``5%``) and draw every customer now.

    The same share again changes nothing; another share while one is in force is refused
    (it would move customers in or out of the holdout)."""
    share = parse_share(value)
    with store.transaction():
        holdout = active_program(store)
        if holdout is not None:
            if abs(holdout.share - share) < 1e-9:
                return ProgramChange(holdout, changed=False)
            drawn, held = store.program_counts(holdout.id)
            raise UsageError(
                f"program_holdout is {holdout.share_text} since {holdout.started_at[:10]} "
                f"({held:,} of {drawn:,} customers held out); changing the share would move "
                "customers in or out of the holdout, and 'retain report program' would compare "
                "groups that are no longer random. Keep it, or end it with 'retain config unset "
                f"program_holdout' and then set {share_text(share)}: a new group is drawn, and "
                "the report compares from that day"
            )
        salt = secrets.token_hex(16)
        stamp = to_iso(now)
        created = ProgramHoldout(store.program_start(share, salt, stamp), share, salt, stamp)
        drawn, held = _draw(store, created, stamp)
    return ProgramChange(created, changed=True, drawn=drawn, held_out=held)


def end_program_holdout(store: Store, now: datetime) -> ProgramChange:
    """End the program holdout in force: its customers get marketing again from now; the
    record of who was held out stays for ``retain report program``."""
    with store.transaction():
        ended = _holdout(store.program_end(to_iso(now)))
        if ended is None:
            return ProgramChange(None, changed=False)
        drawn, held = store.program_counts(ended.id)
    return ProgramChange(ended, changed=True, drawn=drawn, held_out=held)
