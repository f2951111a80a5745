"""Schema migrations m010 onwards (the first ones are in :mod:`.migrations`, whose
``MIGRATIONS`` ends with :data:`LATER`). The same conventions hold; never edit an applied one.
A new migration goes above ``LATER`` and at its end."""

from __future__ import annotations

import sqlite3

from retain_cli.store.schema_tools import Migration, rebuild_table, run_script
from retain_cli.store.trust_schema import TRUST_SCHEMA


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
    rebuild_table(conn, "orders", sql.replace(old, "customer_ref INTEGER REFERENCES customers(id)"))


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


def m015_suppression_log(conn: sqlite3.Connection) -> None:
    """``suppression_log``: every opt-out lifted by hand (``retain suppressions remove``),
    with what it was (reason, source, since when), when it was lifted and the owner's note,
    so a suppression never disappears without a trace."""
    run_script(
        conn,
        """
        CREATE TABLE suppression_log (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            action TEXT NOT NULL,               -- removed
            reason TEXT NOT NULL,               -- the suppression's reason, as it was
            source TEXT NOT NULL,
            suppressed_at TEXT NOT NULL,
            note TEXT NOT NULL,                 -- why it was lifted (--note)
            at TEXT NOT NULL
        );
        CREATE INDEX suppression_log_email ON suppression_log(email);
        """,
    )


def m016_tasks_and_approval(conn: sqlite3.Connection) -> None:
    """``tasks`` (made by rules, once each: ``task_key`` names the case), ``approval_queue``
    (``approval: required``), ``send_pauses`` (``*`` or a campaign), ``customer_tags``
    (retain's own, e.g. ``human_only``) and ``retain_secrets`` (e.g. the survey token key)."""
    run_script(
        conn,
        """
        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            task_key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,                 -- reply, detractor, vip_at_risk ... (todo.py)
            customer_ref INTEGER REFERENCES customers(id) ON DELETE SET NULL,
            email TEXT,
            title TEXT NOT NULL,
            detail TEXT,                        -- what they wrote, what failed
            action TEXT NOT NULL,               -- the suggested action
            source TEXT,                        -- the message, response or send it came from
            created_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            snoozed_until TEXT,
            done_at TEXT,
            note TEXT
        );
        CREATE INDEX tasks_open ON tasks(due_at) WHERE done_at IS NULL;
        CREATE INDEX tasks_customer ON tasks(customer_ref) WHERE customer_ref IS NOT NULL;

        CREATE TABLE approval_queue (
            id INTEGER PRIMARY KEY,
            send_key TEXT NOT NULL UNIQUE,      -- the ledger row (state 'queued' while pending)
            campaign TEXT NOT NULL,
            customer_ref INTEGER REFERENCES customers(id) ON DELETE CASCADE,
            email TEXT NOT NULL,
            subject TEXT NOT NULL,
            message BLOB NOT NULL,              -- the rendered message, as it will be sent
            state TEXT NOT NULL,                -- pending | approved | rejected | sent
            queued_at TEXT NOT NULL,
            decided_at TEXT,
            note TEXT
        );

        CREATE TABLE send_pauses (
            scope TEXT PRIMARY KEY,             -- '*' (every campaign) or a campaign's name
            reason TEXT,
            paused_at TEXT NOT NULL
        );

        CREATE TABLE customer_tags (
            customer_ref INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,                  -- lower-case, e.g. human_only
            note TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (customer_ref, tag)
        ) WITHOUT ROWID;

        CREATE TABLE retain_secrets (
            name TEXT PRIMARY KEY,              -- e.g. survey_token: never shown
            value TEXT NOT NULL
        );
        """,
    )


def m017_surveys(conn: sqlite3.Connection) -> None:
    """``survey_responses``: one answer per survey message (send key), the latest wins;
    ``sentiment`` is VADER's score (English only; ``scored``: looked at)."""
    run_script(
        conn,
        """
        CREATE TABLE survey_responses (
            id INTEGER PRIMARY KEY,
            send_key TEXT NOT NULL UNIQUE,
            campaign TEXT NOT NULL,
            customer_ref INTEGER REFERENCES customers(id) ON DELETE SET NULL,
            email TEXT,
            kind TEXT NOT NULL,                 -- nps | csat
            score INTEGER NOT NULL,
            comment TEXT,
            answered_at TEXT NOT NULL,
            source TEXT NOT NULL,               -- inbox:<message key> | form:<file name>
            recorded_at TEXT NOT NULL,
            language TEXT,
            sentiment REAL,
            scored INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX survey_responses_answered ON survey_responses(answered_at);
        CREATE INDEX survey_responses_customer ON survey_responses(customer_ref);
        """,
    )


def m018_trust(conn: sqlite3.Connection) -> None:
    """The audit log (append-only), erasures (salted hashes of erased addresses) and the
    database's own salt: see :mod:`retain_cli.store.trust_schema`."""
    import secrets

    run_script(conn, TRUST_SCHEMA)
    conn.execute(
        "INSERT OR IGNORE INTO trust_settings (id, salt) VALUES (1, ?)", (secrets.token_hex(16),)
    )


def m019_send_variants(conn: sqlite3.Connection) -> None:
    """``sends.variant``: the A/B variant a message sends (NULL: the campaign's own message,
    and every held-out row), recorded when the row is planned."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(sends)")}
    if "variant" not in columns:
        conn.execute("ALTER TABLE sends ADD COLUMN variant TEXT")


def m020_program_holdout(conn: sqlite3.Connection) -> None:
    """The program holdout (``retain config set program_holdout 5%``): a fixed share of
    customers kept out of every marketing campaign, to measure the whole program.

    ``program_holdouts``: each one the shop ran (share, the salt its draw hashes with, start,
    end; at most one without an end). ``program_holdout_members``: every customer drawn, held
    out (1) or not (0), and when they joined the draw; a customer is drawn once and stays
    where the draw put them. A merged-away customer's row goes with them."""
    run_script(
        conn,
        """
        CREATE TABLE IF NOT EXISTS program_holdouts (
            id INTEGER PRIMARY KEY,
            share REAL NOT NULL CHECK (share > 0 AND share <= 0.5),
            salt TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT
        );
        CREATE UNIQUE INDEX IF NOT EXISTS program_holdouts_one_active
            ON program_holdouts((1)) WHERE ended_at IS NULL;
        CREATE TABLE IF NOT EXISTS program_holdout_members (
            holdout_ref INTEGER NOT NULL REFERENCES program_holdouts(id),
            customer_ref INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
            held_out INTEGER NOT NULL CHECK (held_out IN (0, 1)),
            joined_at TEXT NOT NULL,
            PRIMARY KEY (holdout_ref, customer_ref)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS program_holdout_members_customer
            ON program_holdout_members(customer_ref);
        """,
    )


def m021_coupon_pools(conn: sqlite3.Connection) -> None:
    """``coupon_codes``: pools of single-use discount codes (``retain coupons import``), and
    ``sends.coupon_ref``: the code a message carries, written in the same statement as the
    message's claim. The unique index is the promise: no code is ever given to two messages.
    A code belongs to one pool; codes are compared ignoring case, as shops do."""
    run_script(
        conn,
        """
        CREATE TABLE coupon_codes (
            id INTEGER PRIMARY KEY,
            pool TEXT NOT NULL,                 -- upper case: WINBACK
            code TEXT NOT NULL COLLATE NOCASE UNIQUE,   -- as the export writes it
            file_name TEXT NOT NULL,            -- the file it was imported from
            line INTEGER NOT NULL,              -- its line there
            imported_at TEXT NOT NULL
        );
        CREATE INDEX coupon_codes_pool ON coupon_codes(pool, id);
        ALTER TABLE sends ADD COLUMN coupon_ref INTEGER REFERENCES coupon_codes(id);
        CREATE UNIQUE INDEX sends_coupon ON sends(coupon_ref) WHERE coupon_ref IS NOT NULL;
        """,
    )


def m024_inbox_runs(conn: sqlite3.Connection) -> None:
    """``inbox_runs``: each ``retain inbox`` run, when it started and ended, how many messages
    it read, and the error that stopped it (never a password), so that the digest can say
    when the mailbox was last read, and why not when a night's run could not read it."""
    run_script(
        conn,
        """
        CREATE TABLE inbox_runs (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            read INTEGER NOT NULL DEFAULT 0,
            error TEXT
        );
        """,
    )


#: m010 onwards, in the order they are applied (new ones at the end)
LATER: list[Migration] = [
    m010_orders_without_customer,
    m011_settings,
    m012_order_refunds,
    m013_order_discount_code,
    m014_goals,
    m015_suppression_log,
    m016_tasks_and_approval,
    m017_surveys,
    m018_trust,
    m019_send_variants,
    m020_program_holdout,
    m021_coupon_pools,
    m024_inbox_runs,
]
