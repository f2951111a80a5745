"""Options shared by every command, and the one way to open the store from a command."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from retain_cli.store import Store


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


def db_path(ctx: typer.Context, db: Path | None) -> Path:
    """The command's --db, else the one given before the command, else ./retain.db."""
    if db is not None:
        return db
    root = ctx.find_root()
    if isinstance(root.obj, dict) and root.obj.get("db") is not None:
        return Path(root.obj["db"])
    return DEFAULT_DB


def open_store(ctx: typer.Context, db: Path | None, *, create: bool = False) -> Store:
    """Open the database for a command; read-only commands fail clearly if it is missing."""
    store: Store = Store.open(db_path(ctx, db), create=create)
    ctx.call_on_close(store.close)
    return store
