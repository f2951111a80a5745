"""SQL for the program holdout (a mixin of :class:`retain_cli.store.Store`): the holdouts the
shop ran, who was drawn into each and when, and the numbers ``retain report program`` reads.
Which customers are held out is decided in :mod:`retain_cli.campaigns.program`."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from retain_cli.store.base import StoreBase

_HOLDOUT = "SELECT id, share, salt, started_at, ended_at FROM program_holdouts"


def _holdout(row: Sequence[Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return dict(zip(("id", "share", "salt", "started_at", "ended_at"), row, strict=True))


class ProgramStore(StoreBase):
    """Reading and writing the program holdout."""

    def program_active(self) -> dict[str, Any] | None:
        """The program holdout in force (id, share, salt, started_at, ended_at None)."""
        return _holdout(self.conn.execute(f"{_HOLDOUT} WHERE ended_at IS NULL").fetchone())

    def program_latest(self) -> dict[str, Any] | None:
        """The program holdout in force, else the one that ended last."""
        return _holdout(
            self.conn.execute(
                f"{_HOLDOUT} ORDER BY ended_at IS NOT NULL, started_at DESC, id DESC LIMIT 1"
            ).fetchone()
        )

    def program_start(self, share: float, salt: str, now: str) -> int:
        """Begin a program holdout (the caller checked that none is in force); its id."""
        cursor = self.conn.execute(
            "INSERT INTO program_holdouts (share, salt, started_at) VALUES (?, ?, ?)",
            (share, salt, now),
        )
        return int(cursor.lastrowid or 0)

    def program_end(self, now: str) -> dict[str, Any] | None:
        """End the program holdout in force; the one ended (None when there was none)."""
        active = self.program_active()
        if active is not None:
            self.conn.execute(
                "UPDATE program_holdouts SET ended_at = ? WHERE id = ?", (now, active["id"])
            )
            active["ended_at"] = now
        return active

    def program_undrawn(
        self, holdout: int, refs: Collection[int] | None = None
    ) -> list[tuple[int, str]]:
        """(customer_ref, customer_id) of the customers not drawn yet (of ``refs`` only)."""
        few = "" if refs is None else "AND c.id IN (SELECT value FROM json_each(:refs))"
        return self.conn.execute(
            "SELECT c.id, c.customer_id FROM customers c WHERE NOT EXISTS (SELECT 1 FROM "
            "program_holdout_members m WHERE m.holdout_ref = :holdout AND m.customer_ref = c.id) "
            f"{few}",  # only the fixed clause above is interpolated
            {"holdout": holdout, "refs": json.dumps(sorted(refs or ()))},
        ).fetchall()

    def program_record(self, holdout: int, draws: Sequence[tuple[int, bool]], now: str) -> int:
        """Record these draws (customer_ref, held out) as joining at ``now``; a customer
        already drawn keeps their draw. Returns how many were recorded."""
        cursor = self.conn.executemany(
            "INSERT INTO program_holdout_members (holdout_ref, customer_ref, held_out, joined_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(holdout, ref, int(held), now) for ref, held in draws],
        )
        return cursor.rowcount

    def program_held_refs(self, holdout: int, refs: Collection[int] | None = None) -> set[int]:
        """The customers the draw held out (of ``refs`` only)."""
        few = "" if refs is None else "AND customer_ref IN (SELECT value FROM json_each(:refs))"
        rows = self.conn.execute(
            "SELECT customer_ref FROM program_holdout_members WHERE holdout_ref = :holdout "
            f"AND held_out = 1 {few}",  # only the fixed clause above is interpolated
            {"holdout": holdout, "refs": json.dumps(sorted(refs or ()))},
        )
        return {int(ref) for (ref,) in rows}

    def program_member(self, holdout: int, ref: int) -> tuple[bool, str] | None:
        """(held out, joined_at) of one customer's draw (None: not drawn yet)."""
        row = self.conn.execute(
            "SELECT held_out, joined_at FROM program_holdout_members "
            "WHERE holdout_ref = ? AND customer_ref = ?",
            (holdout, ref),
        ).fetchone()
        return None if row is None else (bool(row[0]), str(row[1]))

    def program_counts(self, holdout: int) -> tuple[int, int]:
        """(customers drawn, of them held out)."""
        drawn, held = self.conn.execute(
            "SELECT count(*), coalesce(sum(held_out), 0) FROM program_holdout_members "
            "WHERE holdout_ref = ?",
            (holdout,),
        ).fetchone()
        return int(drawn), int(held)

    def program_draws(self, holdout: int, joined_by: str) -> tuple[list[int], list[int]]:
        """(customer_refs, held out 0/1) of everyone drawn at or before ``joined_by``, in
        the order of customer_ref (read as two JSON arrays: a list of tuples for 200,000
        customers costs more than the query)."""
        refs, held = self.conn.execute(
            "SELECT json_group_array(customer_ref), json_group_array(held_out) FROM "
            "(SELECT customer_ref, held_out FROM program_holdout_members "
            "WHERE holdout_ref = ? AND joined_at <= ? ORDER BY customer_ref)",
            (holdout, joined_by),
        ).fetchone()
        return json.loads(refs), json.loads(held)
