"""The ``retain`` app: global options, error handling, and the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from retain_cli import __version__
from retain_cli.cli.helpformat import HelpGroup
from retain_cli.cli.options import database_in_use
from retain_cli.cli.output import printable, use_raw_csv
from retain_cli.errors import RetainError
from retain_cli.store.errors import explain_failure


class RetainGroup(HelpGroup):
    """The one place a :class:`RetainError` becomes ``Error: ...`` on stderr and an exit code
    (and so does a database or disk fault that escapes a command)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except RetainError as exc:
            typer.echo(f"Error: {printable(str(exc), lines=True)}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            # A database that is locked, read-only or full, or a disk that is full, met
            # mid-command: its cause, not a traceback. Anything else is a bug: it propagates.
            error = explain_failure(exc, database_in_use(ctx))
            if error is None:
                raise
            typer.echo(f"Error: {printable(str(error), lines=True)}", err=True)
            raise typer.Exit(error.exit_code) from None


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
    raw_csv: Annotated[
        bool,
        typer.Option(
            "--raw-csv",
            envvar="RETAIN_RAW_CSV",
            help="With --format csv, write cells as they are. By default a text cell that "
            "begins with = + - @, a tab or a carriage return gets a ' in front, so that a "
            "spreadsheet shows it as text instead of running it as a formula.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """retain: retention for small shops, from the terminal."""
    use_raw_csv(raw_csv)
    ctx.obj = {"db": db}


def _register() -> None:
    from retain_cli.cli import (
        analytics,
        campaigns,
        config,
        control,
        coupons,
        customers,
        feedback,
        imports,
        loyalty,
        mailbox,
        measure,
        predict,
        products,
        sending,
        tasks,
        trust,
    )

    for module in (
        imports,
        customers,
        config,
        analytics,
        predict,
        loyalty,
        products,
        campaigns,
        coupons,
        sending,
        mailbox,
        measure,
        trust,
    ):
        module.register(app)
    for module in (feedback, tasks, control):  # the human touch: feedback, the owner's day
        module.register(app)


_register()


def main() -> None:
    app()
