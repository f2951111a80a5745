"""SQL for the opt-out list (a mixin of :class:`retain_cli.store.Store`): listing it, and
lifting an opt-out by hand with a record in ``suppression_log``. Adding to it is done where
the opt-out comes from (imports, the sender's bounces, the mailbox)."""

from __future__ import annotations

from typing import Any

from retain_cli.store.base import StoreBase

SUPPRESSION_COLUMNS = ("email", "source", "created_at", "reason")
LOG_COLUMNS = ("email", "action", "at", "note", "source", "suppressed_at", "reason")


class SuppressionStore(StoreBase):
    """Queries and writes for ``retain suppressions``."""

    def suppressions_list(self, source: str | None = None) -> list[dict[str, Any]]:
        """Every suppressed address (or those of one source), newest first."""
        sql = f"SELECT {', '.join(SUPPRESSION_COLUMNS)} FROM suppressions"
        params: list[Any] = []
        if source is not None:
            sql += " WHERE source = ?"
            params.append(source)
        cursor = self.conn.execute(sql + " ORDER BY created_at DESC, email", params)
        return [dict(zip(SUPPRESSION_COLUMNS, row, strict=True)) for row in cursor]

    def suppression(self, email: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            f"SELECT {', '.join(SUPPRESSION_COLUMNS)} FROM suppressions WHERE email = ?",
            (email,),
        ).fetchone()
        return None if row is None else dict(zip(SUPPRESSION_COLUMNS, row, strict=True))

    def suppression_remove(self, email: str, note: str, now: str) -> dict[str, Any] | None:
        """Lift an opt-out and record it (what it was, the note, when), in one transaction.
        Returns the suppression as it was, or None if the address was not suppressed."""
        with self.transaction() as conn:
            row = conn.execute(
                f"SELECT {', '.join(SUPPRESSION_COLUMNS)} FROM suppressions WHERE email = ?",
                (email,),
            ).fetchone()
            if row is None:
                return None
            was = dict(zip(SUPPRESSION_COLUMNS, row, strict=True))
            conn.execute("DELETE FROM suppressions WHERE email = ?", (email,))
            conn.execute(
                "INSERT INTO suppression_log (email, action, reason, source, suppressed_at, "
                "note, at) VALUES (?, 'removed', ?, ?, ?, ?, ?)",
                (email, was["reason"], was["source"], was["created_at"], note, now),
            )
            return was

    def suppression_log(self) -> list[dict[str, Any]]:
        """Every opt-out lifted by hand, newest first."""
        cursor = self.conn.execute(
            f"SELECT {', '.join(LOG_COLUMNS)} FROM suppression_log ORDER BY id DESC"
        )
        return [dict(zip(LOG_COLUMNS, row, strict=True)) for row in cursor]

    def failed_send_keys(self, email: str) -> list[str]:
        """The send keys of the failed messages to an address, newest first."""
        cursor = self.conn.execute(
            "SELECT send_key FROM sends WHERE email = ? AND state = 'failed' ORDER BY id DESC",
            (email,),
        )
        return [key for (key,) in cursor]
