"""Commands: ``doctor`` and ``audit fairness`` (registered by :mod:`retain_cli.cli.trust`)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.options import (
    AsOfOption,
    DbOption,
    FormatOption,
    NowOption,
    OutputFormat,
    db_path,
    open_store,
    run_clock,
)
from retain_cli.cli.output import console, render_rows, write_json

STATUS_STYLE = {"ok": "green", "fail": "bold red", "skip": "dim"}


def shop_timezone(file: Path) -> str:
    """The campaign file's time zone for --now and --as-of; UTC when there is no file or it
    cannot be read (the command then says what is wrong with it)."""
    from retain_cli.campaigns.config import shop_settings
    from retain_cli.errors import ConfigError

    try:
        return shop_settings(file).timezone
    except ConfigError:
        return "UTC"


def _crontab(path: Path | None) -> str | None:
    """The crontab's text: --crontab FILE, else 'crontab -l' (None when there is none)."""
    if path is not None:
        try:
            return path.read_text(encoding="utf-8")
        except OSError as exc:
            from retain_cli.errors import UsageError

            raise UsageError(f"--crontab {path}: cannot be read ({exc.strerror})") from None
    try:
        done = subprocess.run(
            ["crontab", "-l"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def doctor_command(
    ctx: typer.Context,
    config: ConfigOption = None,
    crontab: Annotated[
        Path | None,
        typer.Option(
            "--crontab",
            help="Read this crontab file instead of 'crontab -l'.",
            show_default=False,
        ),
    ] = None,
    dns_server: Annotated[
        str | None,
        typer.Option(
            "--dns-server",
            help="Ask this DNS server (HOST or HOST:PORT) instead of the system's.",
            show_default=False,
        ),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Skip the logins and the DNS lookups.")
    ] = False,
    now: NowOption = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Check that tonight's run will work, with a fix for every failure.

    The database (writable, migrated, readable by you only), the campaign file and its
    templates, the example shop's values still in place, the unsubscribe address, the SMTP
    login (nothing is sent) and the IMAP login where a mailbox is set, fresh data for the
    send in the crontab, and the SPF and DMARC records of the sender's domain. Exits 0 when
    every check passes, 1 otherwise. Example:

        retain doctor
    """
    from retain_cli.campaigns.config import config_path
    from retain_cli.trust.doctor import run_doctor

    file = config_path(config)
    clock = run_clock(ctx, now, shop_timezone(file))
    result = run_doctor(
        db_path(ctx, db),
        file,
        now=clock.now(),
        crontab=_crontab(crontab),
        dns_server=dns_server,
        network=not offline,
    )
    rows = [vars(c) for c in result.checks]
    if fmt is not OutputFormat.table:
        if fmt is OutputFormat.json:
            write_json({"ok": not result.failed, "checks": rows})
        else:
            render_rows(rows, ["name", "status", "detail", "fix"], fmt)
        raise typer.Exit(result.exit_code)
    table = Table(title="retain doctor", title_justify="left", show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for check in result.checks:
        style = STATUS_STYLE[check.status]
        text = escape(check.detail)
        if check.fix and check.status == "fail":
            text += f"\n[yellow]fix: {escape(check.fix)}[/yellow]"
        table.add_row(f"[{style}]{check.status}[/]", escape(check.name), text)
    console.print(table)
    failed = len(result.failed)
    if failed:
        console.print(f"[bold red]{failed} check(s) failed.[/]")
    else:
        console.print("[green]Every check passed.[/green]")
    raise typer.Exit(result.exit_code)


def fairness_command(
    ctx: typer.Context,
    by: Annotated[
        str,
        typer.Option(
            "--by", help="A customer field (country, city, province, source ...) or 'age band'."
        ),
    ],
    offers: Annotated[
        str | None,
        typer.Option(
            "--offers",
            help="Campaigns that make an offer, comma-separated, or none (default: those "
            "whose subject or templates offer something: free, discount, %, voucher).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Count messages from this day, YYYY-MM-DD.", show_default=False
        ),
    ] = None,
    window: Annotated[
        int, typer.Option("--window", min=1, help="Days after a message an order converts.")
    ] = 30,
    min_n: Annotated[
        int, typer.Option("--min-n", min=1, help="Smaller groups get a small-sample warning.")
    ] = 30,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Do the campaigns reach groups of customers alike? The four-fifths rule, per group.

    For each group: customers (n), and the share contacted (sent a message), offered
    (sent a campaign that offers something), held out (control groups) and converted (of
    those contacted, ordered within --window days). A rate below 0.8 of the best group's
    (for the holdout: held out over 1.25 times as often as the least) is flagged; groups
    under --min-n customers get a small-sample warning. Example:

        retain audit fairness --by country
        retain audit fairness --by 'age band' --since 2025-01-01
    """
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.timeutil import parse_as_of
    from retain_cli.trust.fairness import FOUR_FIFTHS, fairness

    store = open_store(ctx, db)
    file = config_path(config)
    loaded = load_config(file) if file.exists() else None
    chosen = None if offers is None else [o.strip() for o in offers.split(",")]
    start = parse_as_of(since, "--since").replace(hour=0, minute=0, second=0) if since else None
    result = fairness(
        store,
        by,
        config=loaded,
        offers=chosen,
        since=start,
        as_of=parse_as_of(as_of),
        window_days=window,
        min_n=min_n,
    )
    if fmt is not OutputFormat.table:
        if fmt is OutputFormat.json:
            write_json(
                {
                    "by": result.by,
                    "offers": result.offers,
                    "reference": result.reference,
                    "groups": result.rows,
                    "notes": result.notes,
                }
            )
        else:
            render_rows(result.rows, list(result.columns), fmt)
        return
    table = Table(title=escape(f"Fairness by {result.by}"), title_justify="left")
    table.add_column("group", overflow="fold", min_width=8)
    table.add_column("n", justify="right", no_wrap=True)
    for name in ("contacted", "offered", "held out", "converted"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("flags", overflow="fold")
    for row in result.rows:
        rates = [
            "-" if row[k] is None else f"{row[k] * 100:.1f}%"
            for k in ("contacted", "offered", "held_out", "converted")
        ]
        marks = [f"[bold red]{escape(row['flags'])}[/]"] if row["flags"] else []
        if row["warning"]:
            marks.append(f"[dim]{escape(row['warning'])}[/dim]")
        table.add_row(escape(row["group"]), f"{row['customers']:,}", *rates, "; ".join(marks))
    if result.rows:
        console.print(table)
    else:
        console.print("No customers yet.")
    if result.reference:
        against = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.reference.items())
        console.print(f"Set against: {escape(against)}.")
    console.print(
        f"Flags: the rate over that group's, when below {FOUR_FIFTHS:g} (held out: that group's "
        f"rate over this one's). {result.flagged} group(s) flagged."
    )
    console.print(
        f"[dim]Offers: {escape(', '.join(result.offers) or 'none')} "
        f"({escape(result.offers_how)}).[/dim]"
    )
    for note in result.notes:
        console.print(f"[yellow]{escape(note)}[/yellow]")
