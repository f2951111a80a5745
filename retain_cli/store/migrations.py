"""Numbered schema migrations, applied once each when a database is opened.

A migration is a function taking a ``sqlite3.Connection``; it runs inside the transaction
that records it in ``_retain_migrations``, so an old database upgrades itself and a failed
upgrade changes nothing. Append new migrations to ``MIGRATIONS``; never edit an applied one.

Conventions for every table: internal integer keys are ``id``; foreign keys to them end in
``_ref``; money is integer minor units (cents) with a ``currency`` column; timestamps are UTC
ISO 8601 text (``2025-10-07T07:50:26Z``); e-mail addresses are trimmed and lower-cased.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

from retain_cli.store.trust_schema import TRUST_SCHEMA

Migration = Callable[[sqlite3.Connection], None]


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute several statements inside the caller's transaction.

    (``Connection.executescript`` would COMMIT first, breaking all-or-nothing migrations.)
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        conn.execute(statement)


def m001_initial(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,            -- customers | orders | suppressions
            source TEXT NOT NULL,          -- detected or forced layout
            file_name TEXT NOT NULL,
            file_hash TEXT NOT NULL,       -- sha256 of the file's bytes
            rows INTEGER NOT NULL DEFAULT 0,
            inserted INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL,
            finished_at TEXT
        );

        CREATE TABLE customers (
            id INTEGER PRIMARY KEY,
            customer_id TEXT NOT NULL UNIQUE,   -- the source's id for the customer, else email
            email TEXT UNIQUE,                  -- trimmed, lower-cased; one customer per address
            first_name TEXT,
            last_name TEXT,
            phone TEXT,
            company TEXT,
            address1 TEXT,
            address2 TEXT,
            city TEXT,
            province TEXT,
            country TEXT,
            zip TEXT,
            birthday TEXT,                      -- YYYY-MM-DD, or --MM-DD when no year is known
            tags TEXT,
            note TEXT,
            accepts_marketing INTEGER,          -- 1 yes, 0 no, NULL unknown (latest source)
            source TEXT NOT NULL,               -- layout the customer was first seen in
            source_created_at TEXT,             -- when the platform says they signed up
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );

        -- every platform id a customer is known by (Shopify, Square, Stripe ...)
        CREATE TABLE customer_sources (
            source TEXT NOT NULL,
            source_id TEXT NOT NULL,
            customer_ref INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            PRIMARY KEY (source, source_id)
        );
        CREATE INDEX customer_sources_customer ON customer_sources(customer_ref);

        -- opt-outs: keyed by address so that no later import can switch them back on
        CREATE TABLE suppressions (
            email TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            source TEXT NOT NULL,               -- import layout, 'cli', 'bounce', 'import'
            created_at TEXT NOT NULL
        );

        CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            order_key TEXT NOT NULL UNIQUE,     -- source ':' order id, or a row-derived id
            source TEXT NOT NULL,
            order_id TEXT NOT NULL,             -- as the source shows it (#1001, ch_...)
            customer_ref INTEGER NOT NULL REFERENCES customers(id),
            ordered_at TEXT NOT NULL,
            currency TEXT,
            subtotal_minor INTEGER,
            shipping_minor INTEGER,
            tax_minor INTEGER,
            discount_minor INTEGER,
            total_minor INTEGER NOT NULL,
            refunded_minor INTEGER NOT NULL DEFAULT 0,
            financial_status TEXT,
            cancelled_at TEXT,                  -- set: the order is cancelled
            import_ref INTEGER REFERENCES imports(id)
        );
        CREATE INDEX orders_customer ON orders(customer_ref, ordered_at);
        CREATE INDEX orders_ordered_at ON orders(ordered_at);

        CREATE TABLE order_items (
            order_ref INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            line_no INTEGER NOT NULL,
            sku TEXT,
            name TEXT,
            quantity INTEGER NOT NULL DEFAULT 1,
            price_minor INTEGER,
            PRIMARY KEY (order_ref, line_no)
        ) WITHOUT ROWID;

        -- the one definition of a countable order, used by every metric: cancelled orders
        -- are left out, refunds are subtracted (never below zero)
        CREATE VIEW order_facts AS
        SELECT
            o.id AS order_ref,
            o.customer_ref,
            o.ordered_at,
            substr(o.ordered_at, 1, 10) AS order_day,
            o.currency,
            o.total_minor,
            o.refunded_minor,
            max(o.total_minor - o.refunded_minor, 0) AS net_minor
        FROM orders o
        WHERE o.cancelled_at IS NULL;
        """,
    )


def m002_segments(conn: sqlite3.Connection) -> None:
    """Segment snapshots (membership per scheme and as-of date) and the analytics cache.

    ``segment_snapshots`` (scheme, as_of, customer_ref, segment) is a view over compact
    per-segment sets, so that keeping a snapshot of 200,000 customers costs milliseconds;
    rows inserted into the view are appended to the sets.

    ``analytics_cache`` holds the countable orders as packed arrays, so that metrics, cohorts
    and segments read one blob instead of a million rows. It is rebuilt when ``orders``
    changes: inserts raise max(id); updates of the columns that matter and deletes
    bump ``analytics_state.orders_version`` through the triggers below (per-row triggers on
    INSERT are left out on purpose: they would slow every import).
    """
    run_script(
        conn,
        """
        -- membership per (scheme, as-of day, segment): the customer_refs as a JSON array, so
        -- a snapshot of 200,000 customers is written as a dozen rows, in milliseconds
        CREATE TABLE segment_snapshot_sets (
            scheme TEXT NOT NULL,               -- rfm | lifecycle | custom
            as_of TEXT NOT NULL,                -- YYYY-MM-DD
            segment TEXT NOT NULL,
            customers INTEGER NOT NULL,
            members TEXT NOT NULL,              -- JSON array of customers.id
            PRIMARY KEY (scheme, as_of, segment)
        ) WITHOUT ROWID;

        -- the same, one row per customer; inserting into it appends to the sets
        CREATE VIEW segment_snapshots AS
        SELECT s.scheme, s.as_of, CAST(j.value AS INTEGER) AS customer_ref, s.segment
        FROM segment_snapshot_sets s, json_each(s.members) j;

        CREATE TRIGGER segment_snapshots_insert INSTEAD OF INSERT ON segment_snapshots
        BEGIN
            UPDATE segment_snapshot_sets
            SET customers = customers + 1,
                members = json_insert(members, '$[#]', NEW.customer_ref)
            WHERE scheme = NEW.scheme AND as_of = NEW.as_of AND segment = NEW.segment;
            INSERT INTO segment_snapshot_sets (scheme, as_of, segment, customers, members)
            SELECT NEW.scheme, NEW.as_of, NEW.segment, 1, json_array(NEW.customer_ref)
            WHERE changes() = 0;
        END;

        -- one row per stored snapshot (so an empty snapshot is still known to exist)
        CREATE TABLE segment_snapshot_runs (
            scheme TEXT NOT NULL,
            as_of TEXT NOT NULL,
            computed_at TEXT NOT NULL,
            customers INTEGER NOT NULL,
            PRIMARY KEY (scheme, as_of)
        ) WITHOUT ROWID;

        CREATE TABLE analytics_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            orders_version INTEGER NOT NULL
        );
        INSERT INTO analytics_state (id, orders_version) VALUES (1, 0);

        CREATE TABLE analytics_cache (
            name TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            data BLOB NOT NULL
        );

        CREATE TRIGGER orders_analytics_update AFTER UPDATE OF
            customer_ref, ordered_at, currency, total_minor, refunded_minor, cancelled_at
        ON orders
        WHEN OLD.customer_ref IS NOT NEW.customer_ref OR OLD.ordered_at IS NOT NEW.ordered_at
            OR OLD.currency IS NOT NEW.currency OR OLD.total_minor IS NOT NEW.total_minor
            OR OLD.refunded_minor IS NOT NEW.refunded_minor
            OR OLD.cancelled_at IS NOT NEW.cancelled_at
        BEGIN
            UPDATE analytics_state SET orders_version = orders_version + 1 WHERE id = 1;
        END;

        CREATE TRIGGER orders_analytics_delete AFTER DELETE ON orders
        BEGIN
            UPDATE analytics_state SET orders_version = orders_version + 1 WHERE id = 1;
        END;
        """,
    )


def m003_send_ledger(conn: sqlite3.Connection) -> None:
    """The send ledger: one row per (campaign, step, customer, occurrence), and its states.

    state: planned (audience recorded, not sent yet) -> claimed (a send is in flight) -> sent |
    failed (permanent) | ambiguous (outcome unknown: never retried automatically); held_out
    (control group, never sent); skipped (no longer mailable when its turn came).
    """
    run_script(
        conn,
        """
        CREATE TABLE sends (
            id INTEGER PRIMARY KEY,
            send_key TEXT NOT NULL UNIQUE,      -- campaign:step:customer_id:occurrence
            campaign TEXT NOT NULL,
            step INTEGER NOT NULL,
            customer_ref INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            occurrence TEXT NOT NULL,           -- trigger date, repeat window, or '1'
            email TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,                         -- last error (never a secret)
            reply TEXT,                         -- the server's reply to the message
            message_id TEXT,
            planned_at TEXT NOT NULL,
            claimed_at TEXT,
            sent_at TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (campaign, step, customer_ref, occurrence)
        );
        -- no index on state: every state change would rewrite it twice (a third of the
        -- cost of a ledger write); the queries by state run once per run
        CREATE INDEX sends_sent_at ON sends(sent_at) WHERE sent_at IS NOT NULL;
        CREATE INDEX sends_customer ON sends(customer_ref, campaign);
        """,
    )


def m004_order_indexes(conn: sqlite3.Connection) -> None:
    """Lighter indexes on ``orders``: one on customer_ref alone, none on ordered_at.

    Metrics, cohorts, segments and predict read the packed copy (``analytics_cache``), not
    the index; the remaining date lookups are per customer (a handful of orders each) or a
    single pass over the table. Each of these indexes cost about a second to build on an
    import of a million orders.
    """
    run_script(
        conn,
        """
        DROP INDEX orders_ordered_at;
        DROP INDEX orders_customer;
        CREATE INDEX orders_customer ON orders(customer_ref);
        """,
    )


def m005_customer_consent(conn: sqlite3.Connection) -> None:
    """``customer_consent``: the one definition of who may get marketing mail.

    A customer may be mailed (``consent`` = 1) when they said yes (``accepts_marketing = 1``;
    0 and unknown are no), have an e-mail address, and that address is not in
    ``suppressions``. The parts are columns too (``has_email``, ``marketing``,
    ``suppressed``), so a caller can say why someone is left out; every column is 0 or 1.
    Status counts, imports, the audience and the sender read consent from here only.
    """
    run_script(
        conn,
        """
        CREATE VIEW customer_consent AS
        SELECT
            c.id AS customer_ref,
            c.email,
            coalesce(c.email <> '', 0) AS has_email,
            coalesce(c.accepts_marketing = 1, 0) AS marketing,
            s.email IS NOT NULL AS suppressed,
            coalesce(c.email <> '', 0) AND coalesce(c.accepts_marketing = 1, 0)
                AND s.email IS NULL AS consent
        FROM customers c
        LEFT JOIN suppressions s ON s.email = c.email;
        """,
    )


def m006_import_warnings(conn: sqlite3.Connection) -> None:
    """``imports.warnings``: how many rows an import took in with an unreadable optional
    value left out (listed in ``FILE.warnings.csv``), beside how many it rejected."""
    conn.execute("ALTER TABLE imports ADD COLUMN warnings INTEGER NOT NULL DEFAULT 0")


def m007_mailbox(conn: sqlite3.Connection) -> None:
    """``inbox_messages``: every message ``retain inbox`` has read, once each, with what it
    was taken for and why.

    ``message_key`` is the message's Message-ID (``mid:<...>``), else a hash of its bytes
    (``sha256:...``), so the same message read twice (or from two folders) changes nothing.
    ``classification``: unsubscribe | hard_bounce | soft_bounce | auto_reply | reply |
    malformed | unmatched_bounce; ``email`` the address it concerns (the bounced recipient, the
    unsubscriber, the replier); ``customer_ref``, ``campaign`` and ``send_key`` what it was
    linked to (a reply's thread, a VERP token); ``action`` what retain did (suppressed,
    counted, ignored, recorded, none). ``excerpt`` is the start of a reply's own text (for
    a task to show), ``handled_at`` is for whoever deals with a reply later (tasks).
    """
    run_script(
        conn,
        """
        CREATE TABLE inbox_messages (
            id INTEGER PRIMARY KEY,
            message_key TEXT NOT NULL UNIQUE,
            message_id TEXT,                    -- the Message-ID header, as written
            source TEXT NOT NULL,               -- imap://user@host/folder or maildir:PATH
            received_at TEXT,                   -- the Date header, UTC
            processed_at TEXT NOT NULL,
            from_email TEXT,
            subject TEXT,
            classification TEXT NOT NULL,
            reason TEXT NOT NULL,
            email TEXT,
            customer_ref INTEGER REFERENCES customers(id) ON DELETE SET NULL,
            campaign TEXT,
            send_key TEXT,
            action TEXT NOT NULL,
            excerpt TEXT,
            score INTEGER,
            handled_at TEXT
        );
        CREATE INDEX inbox_messages_email ON inbox_messages(email, classification);
        CREATE INDEX inbox_messages_customer ON inbox_messages(customer_ref)
            WHERE customer_ref IS NOT NULL;
        """,
    )


def m008_customer_aliases(conn: sqlite3.Connection) -> None:
    """``customer_aliases``: the old addresses of merged customers (``retain customers
    merge OLD NEW``), so that an import that still shows an old address finds the customer it
    was merged into instead of creating them again."""
    run_script(
        conn,
        """
        CREATE TABLE customer_aliases (
            email TEXT PRIMARY KEY,             -- the old address, trimmed and lower-cased
            customer_ref INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            customer_id TEXT NOT NULL,          -- the merged customer's id, as it was
            merged_at TEXT NOT NULL
        );
        CREATE INDEX customer_aliases_customer ON customer_aliases(customer_ref);
        """,
    )


def m009_fully_refunded_orders(conn: sqlite3.Connection) -> None:
    """``order_facts`` leaves fully refunded orders out, and gains ``net_sales_minor``.

    A fully refunded order (a positive total, refunded in full) is no sale: counting it as
    an order of 0 lowered the average order value and made a customer of someone who gave
    everything back. An order with a total of 0 that nothing was refunded from still counts.
    ``net_sales_minor`` is the amount without tax and shipping (where the export gives them),
    less refunds, never below zero: Shopify's "net sales" (``--revenue net``), beside
    ``net_minor``, the export's Total less refunds (``--revenue gross``). The trigger
    that marks the packed copies stale now watches tax and shipping too.
    """
    run_script(
        conn,
        """
        DROP VIEW order_facts;
        CREATE VIEW order_facts AS
        SELECT
            o.id AS order_ref,
            o.customer_ref,
            o.ordered_at,
            substr(o.ordered_at, 1, 10) AS order_day,
            o.currency,
            o.total_minor,
            o.refunded_minor,
            max(o.total_minor - o.refunded_minor, 0) AS net_minor,
            max(o.total_minor - coalesce(o.tax_minor, 0) - coalesce(o.shipping_minor, 0)
                - o.refunded_minor, 0) AS net_sales_minor
        FROM orders o
        WHERE o.cancelled_at IS NULL
          AND NOT (o.total_minor > 0 AND o.refunded_minor >= o.total_minor);

        -- net sales change with tax and shipping too: the packed copies must notice
        DROP TRIGGER orders_analytics_update;
        CREATE TRIGGER orders_analytics_update AFTER UPDATE OF
            customer_ref, ordered_at, currency, total_minor, refunded_minor, cancelled_at,
            tax_minor, shipping_minor
        ON orders
        WHEN OLD.customer_ref IS NOT NEW.customer_ref OR OLD.ordered_at IS NOT NEW.ordered_at
            OR OLD.currency IS NOT NEW.currency OR OLD.total_minor IS NOT NEW.total_minor
            OR OLD.refunded_minor IS NOT NEW.refunded_minor
            OR OLD.cancelled_at IS NOT NEW.cancelled_at
            OR OLD.tax_minor IS NOT NEW.tax_minor
            OR OLD.shipping_minor IS NOT NEW.shipping_minor
        BEGIN
            UPDATE analytics_state SET orders_version = orders_version + 1 WHERE id = 1;
        END;
        """,
    )


def _rebuild_table(conn: sqlite3.Connection, table: str, sql: str) -> None:
    """Replace ``table`` by one created with ``sql`` (its ``CREATE TABLE``), keeping
    its rows, ids, indexes and triggers, the views over it and the rows of every table whose
    foreign keys point at it (SQLite's documented way to change a column's constraints).

    Foreign keys stay enforced inside the migration's transaction, so dropping the old table
    would cascade to its children: they are set aside and put back around the swap."""
    children = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        if any(row[2] == table for row in conn.execute(f'PRAGMA foreign_key_list("{name}")'))
    ]
    owned = [table, *children]
    every_view = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid"
    ).fetchall()
    over = set(owned)  # the views over these tables, and the views over those views
    while True:
        views = [
            (name, create)
            for name, create in every_view
            if any(re.search(rf"\b{re.escape(t)}\b", create) for t in over)
        ]
        if over >= {name for name, _ in views}:
            break
        over |= {name for name, _ in views}
    around = [*owned, *(name for name, _ in views)]
    marks = ", ".join("?" for _ in around)
    extras = conn.execute(
        f"SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        f"AND type IN ('index', 'trigger') AND tbl_name IN ({marks})",
        around,
    ).fetchall()
    tables = {
        name: conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()[0]
        for name in children
    }
    for name, _create in views:
        conn.execute(f'DROP VIEW "{name}"')
    for name in children:
        conn.execute(f'CREATE TABLE "_keep_{name}" AS SELECT * FROM "{name}"')
        conn.execute(f'DROP TABLE "{name}"')
    # copied aside and back, not renamed: ALTER TABLE RENAME leaves the connection with a
    # temp schema on which a later wal_checkpoint of every database fails ("database table
    # is locked")
    conn.execute(f'CREATE TABLE "_keep_{table}" AS SELECT * FROM "{table}"')
    conn.execute(f'DROP TABLE "{table}"')
    conn.execute(sql)
    conn.execute(f'INSERT INTO "{table}" SELECT * FROM "_keep_{table}"')
    conn.execute(f'DROP TABLE "_keep_{table}"')
    for name, create in tables.items():
        conn.execute(create)
        conn.execute(f'INSERT INTO "{name}" SELECT * FROM "_keep_{name}"')
        conn.execute(f'DROP TABLE "_keep_{name}"')
    for _name, create in views:
        conn.execute(create)
    for _kind, _name, create in extras:
        conn.execute(create)


def m010_orders_without_customer(conn: sqlite3.Connection) -> None:
    """``orders.customer_ref`` may be NULL: a sale without a customer (a walk-in at the till,
    a Square payment nobody was attached to). It counts in revenue and in the shop's order
    figures, never as a customer."""
    (sql,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'orders'"
    ).fetchone()
    old = "customer_ref INTEGER NOT NULL REFERENCES customers(id)"
    if old not in sql:
        raise RuntimeError("unexpected orders table: customer_ref is not as m001 made it")
    _rebuild_table(
        conn, "orders", sql.replace(old, "customer_ref INTEGER REFERENCES customers(id)")
    )


def m011_settings(conn: sqlite3.Connection) -> None:
    """``settings``: the shop's own choices, set once (``retain config set currency EUR``).

    One row per key; the keys and their checks are in :mod:`retain_cli.settings`."""
    run_script(
        conn,
        """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    )


def m012_order_refunds(conn: sqlite3.Connection) -> None:
    """``order_refunds``: the refunds an export lists as rows of their own (Square's refund
    events), each recorded once by its key, so that importing the same file again adds
    nothing and refunds of one payment in different files add up. An order's
    ``refunded_minor`` is at least the sum of its recorded refunds."""
    run_script(
        conn,
        """
        CREATE TABLE order_refunds (
            order_ref INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
            refund_key TEXT NOT NULL,           -- when, how much, and which of equal ones
            refunded_at TEXT,
            amount_minor INTEGER NOT NULL,      -- positive, in the order's currency
            import_ref INTEGER REFERENCES imports(id),
            PRIMARY KEY (order_ref, refund_key)
        ) WITHOUT ROWID;
        """,
    )


def m013_order_discount_code(conn: sqlite3.Connection) -> None:
    """``orders.discount_code``: the code the order used (Shopify's ``Discount Code``), so a
    campaign's report can count the orders that used its ``offer_code`` and what it gave
    away. Codes are compared ignoring case; the index holds only the orders with a code."""
    conn.execute("ALTER TABLE orders ADD COLUMN discount_code TEXT")
    conn.execute(
        "CREATE INDEX orders_discount_code ON orders(discount_code COLLATE NOCASE) "
        "WHERE discount_code IS NOT NULL"
    )


def m014_goals(conn: sqlite3.Connection) -> None:
    """Baselines (a named snapshot of the KPIs) and goals (a KPI, a target and a date).

    A goal keeps its own starting point (``start_value`` at ``start_as_of``), taken from a
    saved baseline or computed when it was set, so the track it is judged on never moves."""
    run_script(
        conn,
        """
        CREATE TABLE baselines (
            name TEXT PRIMARY KEY,
            as_of TEXT NOT NULL,                -- the end of the period measured (UTC)
            period TEXT NOT NULL,               -- 30d | 90d | month | quarter | year
            currency TEXT,
            metrics TEXT NOT NULL,              -- JSON object: metric -> value (or null)
            created_at TEXT NOT NULL
        );

        CREATE TABLE goals (
            metric TEXT PRIMARY KEY,            -- one goal per metric
            change TEXT NOT NULL,               -- as written: +5pp, -10%, +200
            target REAL NOT NULL,
            by_date TEXT NOT NULL,              -- YYYY-MM-DD
            period TEXT NOT NULL,
            baseline TEXT,                      -- the baseline's name, if taken from one
            start_value REAL NOT NULL,
            start_as_of TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    )


def m015_trust(conn: sqlite3.Connection) -> None:
    """The audit log (append-only), erasures (salted hashes of erased addresses) and the
    database's own salt: see :mod:`retain_cli.store.trust_schema`."""
    import secrets

    run_script(conn, TRUST_SCHEMA)
    conn.execute(
        "INSERT OR IGNORE INTO trust_settings (id, salt) VALUES (1, ?)", (secrets.token_hex(16),)
    )


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_segments,
    m003_send_ledger,
    m004_order_indexes,
    m005_customer_consent,
    m006_import_warnings,
    m007_mailbox,
    m008_customer_aliases,
    m009_fully_refunded_orders,
    m010_orders_without_customer,
    m011_settings,
    m012_order_refunds,
    m013_order_discount_code,
    m014_goals,
    m015_trust,
]
