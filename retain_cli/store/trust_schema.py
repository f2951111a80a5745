"""The tables and triggers of trust (``m018_trust`` in :mod:`.migrations_later` creates them).

``audit_log`` is append-only (triggers refuse UPDATE and DELETE): one row per import,
message sent, consent change (``accepts_marketing`` changed, an opt-out recorded),
export, erasure and purge: when, who or what did it (``actor``), the ``action``, what it
concerned (``subject``: ``customer #12``, ``import #3``) and ``detail`` (counts, a
campaign's name), never an address or a name. Imports, sends and consent changes are
written by the triggers below, whatever code path makes them; the rest by
:mod:`retain_cli.store.trust`.

``erasures`` keeps, for each erased person, only a salted SHA-256 of their address
(``trust_settings.salt``, random per database), so that a later import that brings the
address back is recognised and not mailed, without the address itself being kept.

Every statement says IF NOT EXISTS, so a database that got these tables under another
migration number (before a renumbering at a merge) upgrades without an error.
"""

from __future__ import annotations

TRUST_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,                   -- UTC
    actor TEXT NOT NULL,                -- 'retain import', 'ada (retain purge)'
    action TEXT NOT NULL,               -- import | send | consent | export | erase | purge
    subject TEXT,                       -- 'customer #12', 'import #3': never an address
    detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_action ON audit_log(action, at);
CREATE INDEX IF NOT EXISTS audit_log_subject ON audit_log(subject) WHERE subject IS NOT NULL;

CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

CREATE TABLE IF NOT EXISTS erasures (
    hash TEXT PRIMARY KEY,              -- sha256(salt || address), hex
    erased_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS trust_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    salt TEXT NOT NULL
);

-- an import: when it finishes (a dry run is rolled back, and so is this row)
CREATE TRIGGER IF NOT EXISTS audit_import AFTER UPDATE OF finished_at ON imports
WHEN OLD.finished_at IS NULL AND NEW.finished_at IS NOT NULL
BEGIN
    INSERT INTO audit_log (at, actor, action, subject, detail)
    VALUES (NEW.finished_at, 'retain import', 'import', 'import #' || NEW.id,
            NEW.kind || ' (' || NEW.source || ') from ' || NEW.file_name || ': '
            || NEW.rows || ' rows, ' || NEW.inserted || ' new, ' || NEW.updated
            || ' updated, ' || NEW.rejected || ' rejected');
END;

-- a message handed to the server (or marked sent by hand)
CREATE TRIGGER IF NOT EXISTS audit_send AFTER UPDATE OF state ON sends
WHEN NEW.state = 'sent' AND OLD.state IS NOT 'sent'
BEGIN
    INSERT INTO audit_log (at, actor, action, subject, detail)
    VALUES (coalesce(NEW.sent_at, NEW.updated_at),
            CASE WHEN OLD.state = 'claimed' THEN 'retain send'
                 ELSE 'retain sends resolve' END,
            'send', 'customer #' || NEW.customer_ref,
            'campaign ' || NEW.campaign || ', step ' || NEW.step
            || ' (send #' || NEW.id || ')');
END;

-- consent: yes/no/unknown changed (by an import, or by hand); erasure is logged apart
CREATE TRIGGER IF NOT EXISTS audit_consent AFTER UPDATE OF accepts_marketing ON customers
WHEN OLD.accepts_marketing IS NOT NEW.accepts_marketing
     AND NEW.customer_id NOT LIKE 'erased-%'
BEGIN
    INSERT INTO audit_log (at, actor, action, subject, detail)
    VALUES (NEW.updated_at,
            coalesce((SELECT 'retain import #' || max(id) FROM imports
                      WHERE finished_at IS NULL), 'retain'),
            'consent', 'customer #' || NEW.id,
            'accepts marketing: '
            || CASE OLD.accepts_marketing WHEN 1 THEN 'yes' WHEN 0 THEN 'no'
               ELSE 'unknown' END || ' -> '
            || CASE NEW.accepts_marketing WHEN 1 THEN 'yes' WHEN 0 THEN 'no'
               ELSE 'unknown' END);
END;

-- an opt-out: from an import, the mailbox, a bounce, or by hand
CREATE TRIGGER IF NOT EXISTS audit_opt_out AFTER INSERT ON suppressions
BEGIN
    INSERT INTO audit_log (at, actor, action, subject, detail)
    VALUES (NEW.created_at,
            coalesce((SELECT 'retain import #' || max(id) FROM imports
                      WHERE finished_at IS NULL),
                     CASE NEW.source WHEN 'inbox' THEN 'retain inbox'
                          WHEN 'cli' THEN 'retain (by hand)'
                          WHEN 'erasure' THEN 'retain (erased address back)'
                          ELSE 'retain ' || NEW.source END),
            'consent',
            coalesce((SELECT 'customer #' || id FROM customers
                      WHERE email = NEW.email), 'an address with no customer'),
            'opted out (source: ' || NEW.source || ')');
END;
"""
