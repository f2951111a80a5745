"""Options shared by every command, and the one way to open the store from a command."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated

import typer

from retain_cli.store import Store
from retain_cli.timeutil import Clock


class OutputFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


DEFAULT_DB = Path("retain.db")

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar="RETAIN_DB",
        help="SQLite database file (default ./retain.db).",
        show_default=False,
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people; csv or json (stdout only) for scripts."),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Reference date YYYY-MM-DD (default: now). Later orders are ignored."
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        envvar="RETAIN_NOW",
        help="Run as if it were this moment, e.g. 2025-10-26T06:30 (the shop's time zone): "
        "triggers, limits, ledger times and the outbox all move. Also RETAIN_NOW.",
        show_default=False,
    ),
]


def db_path(ctx: typer.Context, db: Path | None) -> Path:
    """Which database a command uses.

    ``--db`` typed after the command wins; then ``--db`` typed before it (``retain --db X
    status``); then ``RETAIN_DB``; then ./retain.db.
    """
    source = ctx.get_parameter_source("db")
    if db is not None and source is not None and source.name == "COMMANDLINE":
        return db
    root = ctx.find_root()
    root_db = root.obj.get("db") if isinstance(root.obj, dict) else None
    if root_db is not None:
        return Path(root_db)
    return db if db is not None else DEFAULT_DB


def run_clock(ctx: typer.Context, now: str | None, timezone: str) -> Clock:
    """The command's clock: ``--now`` (or ``RETAIN_NOW``) read in the shop's ``timezone``,
    else the real one; installed for the rest of the command, so that everything that asks
    for the time (the store, the messages' Date) reads the same."""
    from retain_cli.timeutil import parse_now, use_clock, zone

    if now is None:
        return Clock()
    source = ctx.get_parameter_source("now")
    option = "RETAIN_NOW" if source is not None and source.name == "ENVIRONMENT" else "--now"
    clock = Clock(parse_now(now, option, zone(timezone)), source=option)
    ctx.with_resource(use_clock(clock))
    return clock


def open_store(ctx: typer.Context, db: Path | None, *, create: bool = False) -> Store:
    """Open the database for a command; read-only commands fail clearly if it is missing."""
    path = db_path(ctx, db)
    root = ctx.find_root()
    if isinstance(root.obj, dict):
        root.obj["opened"] = path  # for the error message, should the database fail later
    store: Store = Store.open(path, create=create)
    ctx.call_on_close(store.close)
    return store


def database_in_use(ctx: typer.Context) -> Path:
    """The database the command opened (or would open), for an error message."""
    root = ctx.find_root()
    if isinstance(root.obj, dict):
        for key in ("opened", "db"):
            if root.obj.get(key) is not None:
                return Path(root.obj[key])
    return Path(os.environ.get("RETAIN_DB") or DEFAULT_DB)
