"""Numbered schema migrations, applied once each when a database is opened.

A migration is a function taking a ``sqlite3.Connection``; it runs inside the transaction
that records it in ``_retain_migrations``, so an old database upgrades itself and a failed
upgrade changes nothing. New migrations go at the end of :mod:`.migrations_later` and of its
``LATER`` list, which ``MIGRATIONS`` ends with; never edit an applied one.

Conventions for every table: internal integer keys are ``id``; foreign keys to them end in
``_ref``; money is integer minor units (cents) with a ``currency`` column; timestamps are UTC
ISO 8601 text (``2025-10-07T07:50:26Z``); e-mail addresses are trimmed and lower-cased.
"""

from __future__ import annotations

import sqlite3

from retain_cli.store.migrations_later import LATER
from retain_cli.store.schema_tools import Migration, run_script


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
    *LATER,  # m010 onwards: registered in migrations_later
]
