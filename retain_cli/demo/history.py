"""The demo's send history: a 10% program holdout begun 26 weeks before the demo's day (so
``retain report program`` has half a year to compare), then the win-back campaign run once a
week from 16 to 6 weeks before the demo's day, each run recorded as ``retain send`` records
one (the planner picks the audience and the holdouts; the due messages are marked sent at
that time, the held-out customers held out), so ``retain report`` has a campaign whose window
has ended. No message is written: the ledger's reply says so."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from retain_cli.errors import ConfigError
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    from retain_cli.store import Store

HISTORY_CAMPAIGN = "win-back"
HISTORY_WEEKS_AGO = range(16, 5, -1)  # one run a week, the last six weeks ago
HISTORY_REPLY = "demo history: recorded by retain demo, no message was written"
PROGRAM_SHARE = "10%"
PROGRAM_WEEKS_AGO = 26


def record_program_holdout(store: Store, today: date) -> int:
    """Start the demo's program holdout 26 weeks before ``today``, every customer drawn then
    (once: nothing when the shop has had one). Returns the customers held out."""
    from retain_cli.campaigns.program import latest_program, set_program_holdout

    if latest_program(store) is not None:
        return 0
    day = today - timedelta(weeks=PROGRAM_WEEKS_AGO)
    began = datetime.combine(day, time(9, 0), tzinfo=UTC)
    return set_program_holdout(store, PROGRAM_SHARE, began).held_out


def record_history(store: Store, config_path: Path, today: date) -> int:
    """Record the past runs once (nothing when the campaign file cannot be read, has no such
    campaign, or the ledger already holds it). Returns the ledger rows written."""
    from retain_cli.campaigns.config import load_config
    from retain_cli.campaigns.planner import DUE, HELD_OUT, make_plan

    try:
        config = load_config(config_path)
    except ConfigError:
        return 0  # a campaign file the owner changed: no history rather than a failed demo
    if HISTORY_CAMPAIGN not in {c.name for c in config.campaigns}:
        return 0
    if store.ledger_list(campaign=HISTORY_CAMPAIGN, limit=1):
        return 0
    written = 0
    for weeks in HISTORY_WEEKS_AGO:
        day = today - timedelta(weeks=weeks)
        moment = datetime.combine(day, time(10, 0), tzinfo=UTC)
        plan = make_plan(store, config, campaigns=[HISTORY_CAMPAIGN], as_of=moment, now=moment)
        chosen = {i.send_key for i in plan.items if i.status in (DUE, HELD_OUT)}
        rows = [row for row in plan.ledger_rows() if row["send_key"] in chosen]
        stamp = to_iso(moment)
        written += store.ledger_record(rows, stamp)
        for row in store.ledger_pending([HISTORY_CAMPAIGN]):
            store.ledger_settle(row.id, "sent", stamp, reply=HISTORY_REPLY, extra_attempts=1)
    return written
