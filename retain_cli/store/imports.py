"""SQL for the imports domain (a mixin of :class:`retain_cli.store.Store`).

Import history, customers and their platform ids as written by imports, orders and their line
items, and suppressions (opt-outs, which no import can undo).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Any

from retain_cli.store.base import StoreBase
from retain_cli.timeutil import utc_now_iso

#: customer columns an import may write (the only names ever put into SQL text)
CUSTOMER_COLUMNS = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "company",
    "address1",
    "address2",
    "city",
    "province",
    "country",
    "zip",
    "birthday",
    "tags",
    "note",
    "accepts_marketing",
    "source_created_at",
)

#: order columns written by an import, in the order of the tuples given to upsert_orders;
#: order_key is not among them: it is built in SQL as key_prefix || order_id. A customer_ref
#: of 0 is written as NULL: a sale without a customer (m010_orders_without_customer)
ORDER_COLUMNS = (
    "order_id",
    "customer_ref",
    "ordered_at",
    "currency",
    "subtotal_minor",
    "shipping_minor",
    "tax_minor",
    "discount_minor",
    "total_minor",
    "refunded_minor",
    "financial_status",
    "cancelled_at",
    "discount_code",
)

_CHUNK = 500

#: rows per INSERT statement in bulk writes: one statement of 64 rows costs far less per row
#: than 64 executions of a one-row statement (1,000,000 orders: 1.4 s instead of 3.3 s)
_ROWS_PER_STATEMENT = 64

_PARAMETER = re.compile(r"\?(\d+)")


def _insert_rows(
    conn: sqlite3.Connection, head: str, row: str, flat: list[Any], width: int, tail: str = ""
) -> int:
    """Run ``head VALUES row, row, ... tail`` over ``flat`` (``width`` values per row, row
    after row), many rows per statement. ``row`` is one row's tuple with parameters numbered
    ``?1`` to ``?width``; ``tail`` an upsert clause, say. Returns how many rows were written
    (SQLite's count of changes)."""

    def statement(rows: int) -> str:
        shifted = (_PARAMETER.sub(partial(_shift, width * j), row) for j in range(rows))
        return f"{head} VALUES {', '.join(shifted)} {tail}"

    size = _ROWS_PER_STATEMENT * width
    whole = len(flat) - len(flat) % size
    written = 0
    if whole:
        cur = conn.executemany(
            statement(_ROWS_PER_STATEMENT), (flat[i : i + size] for i in range(0, whole, size))
        )
        written += cur.rowcount
    if whole < len(flat):
        written += conn.execute(statement((len(flat) - whole) // width), flat[whole:]).rowcount
    return written


def _shift(offset: int, match: re.Match[str]) -> str:
    return f"?{int(match.group(1)) + offset}"


def _interleave(columns: Sequence[Sequence[Any]]) -> list[Any]:
    """Columns of equal length as one flat list, row after row."""
    width = len(columns)
    flat: list[Any] = [None] * (width * len(columns[0]))
    for i, column in enumerate(columns):
        flat[i::width] = column
    return flat


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ImportStore(StoreBase):
    """Queries and writes for imports."""

    #: no other connection can know this database: a new one, built under a temporary name
    #: and given its name once the import has committed (see retain_cli.imports.database)
    private = False
    #: the name a private database is given when it is published (for messages)
    published_as: Path | None = None

    @property
    def shown_path(self) -> Path:
        """The database's path as the user knows it."""
        return self.published_as or self.path

    def busy_seconds(self) -> float:
        """How long a statement waits for another connection's write lock."""
        (milliseconds,) = self.conn.execute("PRAGMA busy_timeout").fetchone()
        return int(milliseconds) / 1000

    def checkpoint(self) -> None:
        """Move everything in the WAL into the database file (before it is published)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def import_transaction(
        self, *, dry_run: bool = False, bulk: bool = False
    ) -> Iterator[sqlite3.Connection]:
        """One transaction for a whole import: committed at the end, or rolled back on any
        error, Ctrl-C, or when ``dry_run`` (which so reports exact counts and writes nothing).

        Foreign-key checks are off meanwhile (the importer only writes references it has just
        resolved in the same transaction) and the page cache is larger; both are restored.

        ``bulk`` (a big file) into a :attr:`private` database (a new one, which no other
        connection can know): it is switched from WAL to a rollback journal for the import
        and back to WAL after it, so that each new page is written once (into the file)
        instead of twice (into the WAL, then again by the checkpoint). The rollback journal
        keeps the import all-or-nothing: a process killed mid-import leaves a hot journal
        that SQLite plays back on the next open. A database others may open stays in WAL:
        in a rollback journal, a command opening it meanwhile (``retain status``) would fail
        at once, unable to switch it back to WAL, instead of reading or waiting.

        A bulk import into a database that holds nothing yet (no customer, order, opt-out or
        send) commits without waiting for the disk (``synchronous=OFF``, about half a second
        on a million orders): a killed process still leaves the journal that undoes it, and
        a power cut could only spoil a file with nothing in it to lose but this import.
        """
        conn = self.conn
        (old_cache,) = conn.execute("PRAGMA cache_size").fetchone()
        (old_fk,) = conn.execute("PRAGMA foreign_keys").fetchone()
        (old_sync,) = conn.execute("PRAGMA synchronous").fetchone()
        conn.execute("PRAGMA cache_size=-49152")  # 48 MB while the import runs
        conn.execute("PRAGMA foreign_keys=OFF")
        rollback_journal = bulk and not dry_run and self.private and self._use_rollback_journal()
        if rollback_journal and self._holds_nothing():
            conn.execute("PRAGMA synchronous=OFF")  # (only settable outside a transaction)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("ROLLBACK" if dry_run else "COMMIT")
        finally:
            if rollback_journal:
                self._back_to_wal()
            conn.execute(f"PRAGMA foreign_keys={'ON' if old_fk else 'OFF'}")
            conn.execute(f"PRAGMA cache_size={int(old_cache)}")
            conn.execute(f"PRAGMA synchronous={int(old_sync)}")

    def _holds_nothing(self) -> bool:
        """No customer, order, opt-out or send yet (a new database)."""
        (empty,) = self.conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM customers) AND NOT EXISTS (SELECT 1 FROM orders) "
            "AND NOT EXISTS (SELECT 1 FROM suppressions) AND NOT EXISTS (SELECT 1 FROM sends)"
        ).fetchone()
        return bool(empty)

    def _use_rollback_journal(self) -> bool:
        """Switch a WAL database to a rollback journal; False (still in WAL) when another
        connection has it open (the switch needs the database to itself: no waiting)."""
        conn = self.conn
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
        if str(mode).lower() != "wal":
            return False
        (timeout,) = conn.execute("PRAGMA busy_timeout").fetchone()
        conn.execute("PRAGMA busy_timeout=0")
        try:
            (mode,) = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
        except sqlite3.OperationalError:
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(timeout)}")
        return str(mode).lower() == "delete"

    def _back_to_wal(self) -> None:
        """After a bulk import. Should another connection hold the database just now, it is
        left in rollback mode: the next :meth:`StoreBase.open` switches it back."""
        with suppress(sqlite3.OperationalError):
            self.conn.execute("PRAGMA journal_mode=WAL").fetchone()

    @contextmanager
    def orders_bulk_load(self, enabled: bool) -> Iterator[None]:
        """For a load much larger than the table: drop the secondary indexes of ``orders``
        and build them again at the end (sorting once is far cheaper than a million random
        index inserts). Inside the import transaction, so an interruption undoes it."""
        if not enabled:
            yield
            return
        indexes = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders' "
            "AND sql IS NOT NULL AND sql NOT LIKE '%UNIQUE%'"
        ).fetchall()
        for name, _sql in indexes:
            self.conn.execute(f'DROP INDEX "{name}"')
        yield
        for _name, sql in indexes:
            self.conn.execute(sql)

    # -- import history ---------------------------------------------------------------------

    def start_import(self, kind: str, source: str, file_name: str, file_hash: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO imports (kind, source, file_name, file_hash, started_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (kind, source, file_name, file_hash, utc_now_iso()),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_import(
        self,
        import_ref: int,
        *,
        rows: int,
        inserted: int,
        updated: int,
        unchanged: int,
        rejected: int,
        warnings: int = 0,
    ) -> None:
        self.conn.execute(
            "UPDATE imports SET rows = ?, inserted = ?, updated = ?, unchanged = ?, "
            "rejected = ?, warnings = ?, finished_at = ? WHERE id = ?",
            (rows, inserted, updated, unchanged, rejected, warnings, utc_now_iso(), import_ref),
        )

    def imported_hashes(self) -> set[str]:
        """The sha256 of every file an import went through to the end."""
        rows = self.conn.execute(
            "SELECT DISTINCT file_hash FROM imports WHERE finished_at IS NOT NULL"
        )
        return {digest for (digest,) in rows}

    # -- suppressions -----------------------------------------------------------------------

    def suppress(self, email: str, reason: str, source: str) -> bool:
        """Add an address to the opt-out list; True if it was not there yet (idempotent)."""
        cur = self.conn.execute(
            "INSERT INTO suppressions (email, reason, source, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(email) DO NOTHING",
            (email.strip().lower(), reason, source, utc_now_iso()),
        )
        return cur.rowcount == 1

    def is_suppressed(self, email: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM suppressions WHERE email = ?", (email.strip().lower(),)
        ).fetchone()
        return row is not None

    def effective_consent(self, email: str) -> bool:
        """True when the customer with this address may get marketing mail
        (``customer_consent``: accepts marketing and the address is not suppressed)."""
        row = self.conn.execute(
            "SELECT consent FROM customer_consent WHERE email = ?",
            (email.strip().lower(),),
        ).fetchone()
        return bool(row and row[0])

    # -- customers --------------------------------------------------------------------------

    def customer_refs_by_email(self) -> dict[str, int]:
        """Address -> customer; the old addresses of merged customers find the customer they
        were merged into (``customer_aliases``)."""
        refs = dict(self.conn.execute("SELECT email, customer_ref FROM customer_aliases"))
        refs.update(self.conn.execute("SELECT email, id FROM customers WHERE email IS NOT NULL"))
        return refs

    def customer_refs_by_source(self, source: str) -> dict[str, int]:
        return dict(
            self.conn.execute(
                "SELECT source_id, customer_ref FROM customer_sources WHERE source = ?", (source,)
            )
        )

    def customer_ids_in_use(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT customer_id, id FROM customers"))

    def customers_for_import(self) -> dict[int, dict[str, Any]]:
        """Every customer's importable columns, by internal id."""
        cur = self.conn.execute(f"SELECT id, {', '.join(CUSTOMER_COLUMNS)} FROM customers")
        return {row[0]: dict(zip(CUSTOMER_COLUMNS, row[1:], strict=True)) for row in cur}

    def insert_customer(self, values: Mapping[str, Any], source: str) -> int:
        columns = [c for c in CUSTOMER_COLUMNS if c in values]
        now = utc_now_iso()
        cur = self.conn.execute(
            f"INSERT INTO customers ({', '.join(columns)}, source, created_at, updated_at) "
            f"VALUES ({', '.join('?' for _ in columns)}, ?, ?, ?)",
            (*(values[c] for c in columns), source, now, now),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def insert_customers(
        self,
        rows: Sequence[tuple[str, str | None, str | None, str | None, int | None]],
        source: str,
    ) -> dict[str, int]:
        """Bulk-create customers from ``(customer_id, email, first_name, last_name,
        accepts_marketing)``; returns customer_id -> internal id for the new rows."""
        if not rows:
            return {}
        (before,) = self.conn.execute("SELECT coalesce(max(id), 0) FROM customers").fetchone()
        rows = sorted(rows, key=lambda row: row[0])  # index inserts in order: much cheaper
        now = utc_now_iso()
        written = _insert_rows(
            self.conn,
            "INSERT INTO customers (customer_id, email, first_name, last_name, "
            "accepts_marketing, source, created_at, updated_at)",
            f"(?1, ?2, ?3, ?4, ?5, '{_literal(source)}', '{now}', '{now}')",
            _interleave(list(zip(*rows, strict=True))),
            5,
        )
        ids = self._new_ids("customers", before, written)
        return dict(zip((row[0] for row in rows), ids, strict=True))

    def _new_ids(self, table: str, before: int, written: int) -> range:
        """The ids of the ``written`` rows just inserted into ``table`` (a known table name),
        whose largest id was ``before``: a new row's id is one more than the largest so far
        (no AUTOINCREMENT, see https://sqlite.org/autoinc.html), so they follow the insert
        order; checked, not assumed."""
        (after,) = self.conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
        if after != before + written:
            raise RuntimeError(f"{table} were not numbered in insert order")
        return range(before + 1, after + 1)

    def update_customer(self, ref: int, changes: Mapping[str, Any]) -> None:
        columns = [c for c in CUSTOMER_COLUMNS if c in changes]
        if not columns:
            return
        self.conn.execute(
            f"UPDATE customers SET {', '.join(f'{c} = ?' for c in columns)}, updated_at = ? "
            "WHERE id = ?",
            (*(changes[c] for c in columns), utc_now_iso(), ref),
        )

    def add_customer_sources(self, rows: Iterable[tuple[str, str, int]]) -> None:
        """Record ``(source, source_id, customer_ref)``; a known pair is left as it is."""
        self.conn.executemany(
            "INSERT INTO customer_sources (source, source_id, customer_ref) VALUES (?, ?, ?) "
            "ON CONFLICT(source, source_id) DO NOTHING",
            rows,
        )

    def set_customer_consent(self, rows: Iterable[tuple[int, int]]) -> int:
        """``(accepts_marketing, customer_ref)`` pairs; returns how many changed."""
        now = utc_now_iso()
        cur = self.conn.executemany(
            "UPDATE customers SET accepts_marketing = ?1, updated_at = ?3 "
            "WHERE id = ?2 AND accepts_marketing IS NOT ?1",
            ((value, ref, now) for value, ref in rows),
        )
        return cur.rowcount

    # -- orders -----------------------------------------------------------------------------

    def count_orders(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM orders").fetchone()[0])

    def has_orders(self, key_prefix: str) -> bool:
        """Whether any order_key starts with ``key_prefix`` (e.g. ``'shopify:'``)."""
        end = key_prefix[:-1] + chr(ord(key_prefix[-1]) + 1)
        row = self.conn.execute(
            "SELECT 1 FROM orders WHERE order_key >= ? AND order_key < ? LIMIT 1",
            (key_prefix, end),
        ).fetchone()
        return row is not None

    def upsert_orders(
        self, rows: Iterable[Sequence[Any]], import_ref: int, source: str, key_prefix: str
    ) -> int:
        """Insert or update orders (tuples in :data:`ORDER_COLUMNS` order) by ``order_key``
        (``key_prefix`` + order_id). A row equal to the stored one is left alone.

        Refunds only grow and a cancellation stays: an existing order keeps the larger of
        the stored and the incoming ``refunded_minor`` and its stored ``cancelled_at``, so
        re-importing an older export cannot undo a later refund or cancellation; nor its
        ``financial_status`` ("refunded" back to "paid"), kept from the stored row when the
        incoming one is older in this sense.

        Returns how many rows were inserted or changed (the caller tells the two apart by
        counting orders before and after).
        """
        params = _order_params(ORDER_COLUMNS)
        updated = [*ORDER_COLUMNS[1:], "source"]
        older = (
            "(excluded.refunded_minor < orders.refunded_minor "
            "OR (excluded.cancelled_at IS NULL AND orders.cancelled_at IS NOT NULL))"
        )
        kept = {
            "refunded_minor": "max(orders.refunded_minor, excluded.refunded_minor)",
            "cancelled_at": "coalesce(orders.cancelled_at, excluded.cancelled_at)",
            "financial_status": (
                f"CASE WHEN {older} THEN orders.financial_status ELSE excluded.financial_status END"
            ),
        }
        value = {c: kept.get(c, f"excluded.{c}") for c in updated}
        assignments = ", ".join(f"{c} = {value[c]}" for c in updated)
        # the layout alone is no change (Square's transactions and item details of one sale)
        changed = " OR ".join(f"orders.{c} IS NOT {value[c]}" for c in updated if c != "source")
        return _insert_rows(
            self.conn,
            f"INSERT INTO orders (order_key, {', '.join(ORDER_COLUMNS)}, source, import_ref)",
            f"('{_literal(key_prefix)}' || ?1, {params}, '{_literal(source)}', {int(import_ref)})",
            [value for row in rows for value in row],
            len(ORDER_COLUMNS),
            f"ON CONFLICT(order_key) DO UPDATE SET {assignments}, "
            f"import_ref = excluded.import_ref WHERE {changed}",
        )

    def insert_orders(
        self,
        columns: Mapping[str, Sequence[Any]],
        import_ref: int,
        source: str,
        key_prefix: str,
        constants: Mapping[str, str] | None = None,
    ) -> range:
        """Insert new orders (no key may exist yet), given column-wise: ``columns`` maps names
        from :data:`ORDER_COLUMNS`, order_id first, to equally long lists; ``constants`` maps
        others to the one text every order has (a file's currency: written into the
        statement, not bound for each row); the other columns keep their defaults. Returns
        the new orders' ids, in order."""
        names = list(columns)
        fixed = dict(constants or {})
        unknown = (set(names) | set(fixed)) - set(ORDER_COLUMNS)
        if unknown or names[0] != "order_id" or set(names) & set(fixed):
            raise ValueError(f"bad order columns: {names}, {list(fixed)}")
        params = _order_params(names)
        params += "".join(f", '{_literal(value)}'" for value in fixed.values())
        (before,) = self.conn.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()
        written = _insert_rows(
            self.conn,
            f"INSERT INTO orders (order_key, {', '.join([*names, *fixed])}, source, import_ref)",
            f"('{_literal(key_prefix)}' || ?1, {params}, '{_literal(source)}', {int(import_ref)})",
            _interleave([columns[name] for name in names]),
            len(names),
        )
        return self._new_ids("orders", before, written)

    def order_refs(self, keys: Sequence[str]) -> dict[str, int]:
        """order_key -> internal id, for the keys that exist."""
        found: dict[str, int] = {}
        for chunk in _chunks(keys):
            found.update(
                self.conn.execute(
                    f"SELECT order_key, id FROM orders WHERE order_key IN "
                    f"({', '.join('?' for _ in chunk)})",
                    tuple(chunk),
                )
            )
        return found

    def record_refunds(
        self, refunds: Sequence[tuple[str, str, str | None, int]], import_ref: int
    ) -> tuple[set[str], int]:
        """Record refunds ``(order_key, refund_key, refunded_at, amount_minor)``, each once
        (a known key is left as it is), and raise each refunded order's ``refunded_minor`` to
        the sum of its recorded refunds. Returns the order keys that do not exist (nothing
        recorded for them) and how many orders of earlier imports changed."""
        known = self.order_refs(sorted({row[0] for row in refunds}))
        rows = [(known[key], *rest) for key, *rest in refunds if key in known]
        self.conn.executemany(
            "INSERT INTO order_refunds (order_ref, refund_key, refunded_at, amount_minor, "
            "import_ref) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(*row, import_ref) for row in rows],
        )
        changed = 0
        for chunk in _chunks(sorted({row[0] for row in rows})):
            cur = self.conn.execute(
                f"""
                UPDATE orders SET refunded_minor = r.total
                FROM (SELECT order_ref, sum(amount_minor) AS total FROM order_refunds
                      WHERE order_ref IN ({", ".join("?" for _ in chunk)})
                      GROUP BY order_ref) r
                WHERE orders.id = r.order_ref AND orders.refunded_minor < r.total
                RETURNING orders.import_ref
                """,
                tuple(chunk),
            )
            changed += sum(1 for (ref,) in cur.fetchall() if ref != import_ref)
        return {key for key, *_ in refunds if key not in known}, changed

    def order_items(self, refs: Sequence[int]) -> dict[int, list[tuple[Any, ...]]]:
        """Line items ``(sku, name, quantity, price_minor)`` of orders, by order ref."""
        items: dict[int, list[tuple[Any, ...]]] = {}
        for chunk in _chunks(refs):
            cur = self.conn.execute(
                "SELECT order_ref, sku, name, quantity, price_minor FROM order_items "
                f"WHERE order_ref IN ({', '.join('?' for _ in chunk)}) ORDER BY order_ref, line_no",
                tuple(chunk),
            )
            for ref, *item in cur:
                items.setdefault(ref, []).append(tuple(item))
        return items

    def replace_order_items(self, items: Mapping[int, Sequence[tuple[Any, ...]]]) -> None:
        """Set the line items of each order (ref -> ``(sku, name, quantity, price_minor)``)."""
        refs = list(items)
        for chunk in _chunks(refs):
            self.conn.execute(
                f"DELETE FROM order_items WHERE order_ref IN ({', '.join('?' for _ in chunk)})",
                tuple(chunk),
            )
        self.insert_order_items(items)

    def insert_order_items(self, items: Mapping[int, Sequence[tuple[Any, ...]]]) -> None:
        """Line items of orders that have none yet (ref -> ``(sku, name, quantity,
        price_minor)``), numbered from 1."""
        flat: list[Any] = []
        for ref, lines in items.items():
            for line_no, item in enumerate(lines, start=1):
                flat += (ref, line_no, *item)
        _insert_rows(
            self.conn,
            "INSERT INTO order_items (order_ref, line_no, sku, name, quantity, price_minor)",
            "(?1, ?2, ?3, ?4, ?5, ?6)",
            flat,
            6,
        )


def _order_params(names: Sequence[str]) -> str:
    """The numbered parameters of one order row; customer_ref 0 becomes NULL (no customer)."""
    return ", ".join(
        f"nullif(?{i}, 0)" if name == "customer_ref" else f"?{i}"
        for i, name in enumerate(names, start=1)
    )


def _literal(text: str) -> str:
    """A known identifier-like constant (a layout name) made safe to embed in SQL text."""
    return text.replace("'", "''")
