"""The ``retain`` app: global options, error handling, and the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from retain_cli import __version__
from retain_cli.errors import RetainError


class RetainGroup(TyperGroup):
    """The one place a :class:`RetainError` becomes ``Error: ...`` on stderr and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except RetainError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=RetainGroup,
    name="retain",
    help="Keep your shop's customers coming back: import exports, measure retention, "
    "and send the right message at the right time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"retain {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", envvar="RETAIN_DB", help="SQLite database file (default ./retain.db)."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """retain: retention for small shops, from the terminal."""
    ctx.obj = {"db": db}


def _register() -> None:
    from retain_cli.cli import (
        analytics,
        campaigns,
        customers,
        imports,
        mailbox,
        predict,
        sending,
        trust,
    )

    for module in (imports, customers, analytics, predict, campaigns, sending, mailbox, trust):
        module.register(app)


_register()


def main() -> None:
    app()
