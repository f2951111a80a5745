"""Data-subject rights and keeping no more than needed: export one person's data, erase it,
purge customers long gone, and keep the database file private.

Erasure (:func:`erase_customer`) removes everything that names the person and keeps what the
shop's figures need: the orders stay, under the pseudonym ``erased-<id>``, so revenue,
retention and every other metric read the same before and after; the send ledger keeps its
rows without the address. The opt-out becomes a salted hash, so an export imported later
that still holds the address is opted out at once (peers either lose the opt-out with the
contact or keep the address in clear). SQLite's ``secure_delete`` zeroes what is removed;
afterwards the write-ahead log is emptied into the file, and the file itself is searched
for the address and the name: if an old copy is still there (free space left by an earlier
change), the file is rewritten (``VACUUM``).
"""

from __future__ import annotations

import mmap
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import RetainError, UsageError
from retain_cli.timeutil import to_iso, utc_now, utc_now_iso
from retain_cli.trust.audit import record, subject_of

if TYPE_CHECKING:
    from retain_cli.store import Store

ERASE_COMMAND = "retain customers erase"
PURGE_BATCH = 500


# --- the database file's permissions ----------------------------------------------------------


def permission_problem(path: Path) -> str | None:
    """What is wrong with who may read the database file (and its -wal and -shm files),
    with the fix; None when only its owner can."""
    loose = []
    for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(part.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            loose.append((part, mode))
    if not loose:
        return None
    shown = ", ".join(f"{p.name} (mode {m:04o})" for p, m in loose)
    names = " ".join(str(p) for p, _ in loose)
    return (
        f"other users of this machine can read {shown}: it holds your customers' names and "
        f"addresses; make it private with: chmod 600 {names}"
    )


# --- export ------------------------------------------------------------------------------


def export_customer(store: Store, key: str, *, destination: str) -> dict[str, Any]:
    """Everything retain holds about the customer ``key`` names, as one JSON-ready record:
    the customer row, platform ids, old addresses, orders with their items, messages
    (the send ledger), opt-outs (and those lifted by hand), mail read from the mailbox,
    consent history (from the audit log), and the rows of any other table about them
    (survey answers, tasks, the approval queue).
    The export is written to the audit log (``destination`` says where it went)."""
    from retain_cli.analytics.customers import find_customer

    ref = find_customer(store, key)
    customer = store.customer_row(ref)
    addresses = store.customer_addresses([ref]).get(ref, [])
    items: dict[int, list[dict[str, Any]]] = {}
    for item in store.customer_order_items(ref):
        item = dict(item)
        items.setdefault(item.pop("order_ref"), []).append(item)
    orders = []
    for order in store.rows_about("orders", ref):
        order["items"] = items.get(order["id"], [])
        orders.append(order)
    subject = subject_of(ref)
    history = store.audit_entries(actions=("consent",), subject=subject)
    known = {"orders", "sends", "customer_sources", "customer_aliases", "inbox_messages"}
    other = {
        table: [_readable(row) for row in store.rows_about(table, ref)]
        for table in store.customer_ref_tables()
        if table not in known
    }
    data: dict[str, Any] = {
        "exported_at": utc_now_iso(),
        "customer": customer,
        "platform_ids": store.rows_about("customer_sources", ref),
        "old_addresses": store.rows_about("customer_aliases", ref),
        "orders": orders,
        "messages": store.rows_about("sends", ref),
        "opt_outs": store.suppressions_of(addresses),
        "opt_outs_lifted": store.lifted_opt_outs_of(addresses),
        "mailbox": store.inbox_rows_about(ref, addresses),
        "consent_history": list(reversed(history)),
        "audit_log": store.audit_entries(subject=subject),
        "other": {table: rows for table, rows in other.items() if rows},
    }
    counts = f"{len(orders)} orders, {len(data['messages'])} messages"
    record(store, "export", "retain customers export", subject, f"{counts}; {destination}")
    return data


def _readable(row: dict[str, Any]) -> dict[str, Any]:
    """A row for JSON: stored bytes (a message waiting for approval) as text."""
    return {
        k: bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview) else v
        for k, v in row.items()
    }


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new or existing file readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)


# --- erasure -----------------------------------------------------------------------------


@dataclass
class Erasure:
    """What an erasure did (``retain customers erase``)."""

    refs: list[int]
    pseudonyms: list[str]
    counts: dict[str, int]
    log_emptied: bool = True  # the write-ahead log was copied into the file and emptied
    rewritten: bool = False  # an old copy was found in the file, so it was rewritten
    leftover: bool = False  # still found after the rewrite (should not happen)

    def summary(self) -> str:
        c = self.counts
        kept = (
            f"kept {c['orders_kept']:,} order(s) and {c['sends_kept']:,} message record(s) "
            "without the address, so the shop's figures do not change"
        )
        removed = [
            (c["platform_ids"], "platform id(s)"),
            (c["old_addresses"], "old address(es)"),
            (c["inbox_messages"], "mailbox message(s)"),
            (c["other_rows"], "other row(s)"),
        ]
        gone = ", ".join(f"{n:,} {what}" for n, what in removed if n)
        text = f"{kept}; removed the name, address and every other detail"
        if gone:
            text += f", {gone}"
        return text + "; the opt-out is kept as a salted hash, so no later import mails them"


def _needles(store: Store, refs: Sequence[int]) -> list[bytes]:
    """What must not be found in the file afterwards: each address, and each name (first and
    last name side by side, as SQLite stores neighbouring columns) and phone number that no
    other customer shares."""
    needles: set[bytes] = set()
    for found in store.customer_addresses(refs).values():
        needles.update(e.encode() for e in found)
    for ref in refs:
        row = store.customer_row(ref)
        first, last, phone = row["first_name"], row["last_name"], row["phone"]
        if first and last:
            shared = store.other_customers_with("first_name", first, refs) and (
                store.other_customers_with("last_name", last, refs)
            )
            if not shared:
                needles.add(f"{first}{last}".encode())
        elif last and len(last) >= 4 and not store.other_customers_with("last_name", last, refs):
            needles.add(last.encode())
        if phone and len(phone) >= 6 and not store.other_customers_with("phone", phone, refs):
            needles.add(phone.encode())
    return sorted(needles)


def file_contains(
    path: Path, needles: Sequence[bytes], within: Mapping[bytes, Sequence[bytes]] | None = None
) -> bool:
    """Whether the file (or its -wal) holds any of ``needles`` anywhere (live rows, free
    pages, unused space in a page), except where a needle is part of one of its ``within``
    texts (another customer's address that holds it: ``joann@`` for ``ann@``). ``grep``
    looks first, where the machine has it (several times faster); Python's search decides."""
    parts = [p for p in (path, Path(f"{path}-wal")) if _size(p)]
    if not needles or not parts or _grep_finds(parts, needles) is False:
        return False
    within = within or {}
    for part in parts:
        with part.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m:
            for needle in needles:
                if _found_alone(m, needle, within.get(needle, ())):
                    return True
    return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _found_alone(m: mmap.mmap, needle: bytes, within: Sequence[bytes]) -> bool:
    """Whether ``needle`` occurs in ``m`` other than as part of one of the ``within`` texts."""
    shifts = [(text, k) for text in within for k in _offsets(text, needle)]
    at = m.find(needle)
    while at != -1:
        if not any(at >= k and m[at - k : at - k + len(text)] == text for text, k in shifts):
            return True
        at = m.find(needle, at + 1)
    return False


def _offsets(text: bytes, needle: bytes) -> list[int]:
    out, at = [], text.find(needle)
    while at != -1:
        out.append(at)
        at = text.find(needle, at + 1)
    return out


def _grep_finds(paths: Sequence[Path], needles: Sequence[bytes]) -> bool | None:
    """A first look with ``grep -F``: False when no needle is in the files, True when one
    may be, None when grep cannot tell (not installed, a needle it cannot take). The needles
    go to grep on its standard input, never on its command line (which other users of the
    machine can read)."""
    grep = shutil.which("grep")
    if grep is None or any(not n or b"\n" in n for n in needles):
        return None
    try:
        done = subprocess.run(
            [grep, "-F", "-a", "-q", "-f", "-", "--", *map(str, paths)],
            input=b"\n".join(needles) + b"\n",
            env={**os.environ, "LC_ALL": "C"},
            capture_output=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {0: True, 1: False}.get(done.returncode)


def erase_customers(
    store: Store, refs: Sequence[int], *, needles: Sequence[bytes] | None = None
) -> Erasure:
    """Erase these customers (see the module's doc); the file is checked for ``needles``
    (default: their addresses and names) afterwards and rewritten if one is found."""
    if needles is None:
        needles = _needles(store, refs)
    counts = store.erase_customers(refs, utc_now_iso())
    result = Erasure(list(refs), [f"erased-{r}" for r in refs], counts)
    result.log_emptied = store.checkpoint_truncate()
    if not file_contains(store.path, needles):
        return result
    # another customer's address may hold this one (joann@ holds ann@): not a copy
    within = {n: [a.encode() for a in store.addresses_containing(n.decode())] for n in needles}
    if file_contains(store.path, needles, within):
        store.vacuum()
        result.rewritten = True
        result.log_emptied = store.checkpoint_truncate()
        result.leftover = file_contains(store.path, needles, within)
    return result


def erase_customer(store: Store, key: str) -> Erasure:
    """``retain customers erase``: find the customer ``key`` names and erase them."""
    from retain_cli.analytics.customers import find_customer

    ref = find_customer(store, key)
    if store.is_erased(ref):
        raise UsageError(f"customer #{ref} was erased already (they are erased-{ref} now)")
    result = erase_customers(store, [ref])
    record(store, "erase", ERASE_COMMAND, subject_of(ref), result.summary())
    if not result.log_emptied:
        store.checkpoint_truncate()
    return result


def erase_preview(store: Store, key: str) -> dict[str, Any]:
    """What an erasure would remove and keep, for the confirmation question."""
    from retain_cli.analytics.customers import find_customer

    ref = find_customer(store, key)
    if store.is_erased(ref):
        raise UsageError(f"customer #{ref} was erased already (they are erased-{ref} now)")
    row = store.customer_row(ref)
    name = " ".join(p for p in (row["first_name"], row["last_name"]) if p)
    return {
        "ref": ref,
        "customer_id": row["customer_id"],
        "email": row["email"],
        "name": name or None,
        "orders": len(store.rows_about("orders", ref)),
        "messages": len(store.rows_about("sends", ref)),
    }


# --- purge -------------------------------------------------------------------------------

_AGE = re.compile(r"^\s*(\d+)\s*([ymwd])\s*$")


def parse_age(text: str, now: datetime) -> datetime:
    """``3y``, ``18m``, ``26w``, ``400d`` -> the moment that long before ``now``."""
    match = _AGE.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise UsageError(
            f"--older-than {text!r} is not an age; write 3y (years), 18m (months), 26w or 400d"
        )
    n, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return now - timedelta(days=n)
    if unit == "w":
        return now - timedelta(weeks=n)
    months = n * 12 if unit == "y" else n
    year, month = divmod(now.year * 12 + now.month - 1 - months, 12)
    day = min(now.day, _month_days(year, month + 1))
    return now.replace(year=year, month=month + 1, day=day)


def _month_days(year: int, month: int) -> int:
    following = date(year + (month == 12), month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


@dataclass
class Purge:
    """``retain purge``: who had no sign of life since ``cutoff``, and what was done."""

    cutoff: datetime
    candidates: list[dict[str, Any]]
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    rewritten: bool = False

    @property
    def customers(self) -> int:
        return len(self.candidates)


def purge(store: Store, older_than: str, *, dry_run: bool, now: datetime | None = None) -> Purge:
    """Erase every customer with no sign of life (sign-up, order, consent change, message)
    for ``older_than`` (``3y``); with ``dry_run``, only say who they are."""
    cutoff = parse_age(older_than, now or utc_now())
    candidates = store.purge_candidates(to_iso(cutoff))
    result = Purge(cutoff, candidates, dry_run)
    if dry_run or not candidates:
        return result
    refs = [int(c["ref"]) for c in candidates]
    totals: dict[str, int] = {}
    for start in range(0, len(refs), PURGE_BATCH):
        chunk = refs[start : start + PURGE_BATCH]
        counts = store.erase_customers(chunk, utc_now_iso())
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        for ref in chunk:
            record(
                store,
                "purge",
                "retain purge",
                subject_of(ref),
                f"erased: no sign of life since {cutoff.date().isoformat()} (--older-than "
                f"{older_than.strip()})",
            )
    result.counts = totals
    # many rows went at once: rewrite the file so that no free page keeps an old copy
    store.checkpoint_truncate()
    try:
        store.vacuum()
    except Exception as exc:  # busy: the rows are erased, the free pages are zeroed
        raise RetainError(
            f"{len(refs):,} customers were erased, but the file could not be rewritten "
            f"({exc}); run 'retain purge' again when no other retain command is running"
        ) from None
    result.rewritten = True
    store.checkpoint_truncate()
    return result
