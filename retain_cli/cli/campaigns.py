"""Commands: ``campaigns list``, ``campaigns check`` and ``preview``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retain_cli.cli.options import (
    AsOfOption,
    DbOption,
    FormatOption,
    OutputFormat,
    db_path,
    open_store,
)
from retain_cli.cli.output import WideOption, err_console, render_table
from retain_cli.errors import ConfigError

if TYPE_CHECKING:
    from retain_cli.campaigns.preview import Preview

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Campaign file (default $RETAIN_CONFIG, else ./campaigns.yaml).",
        show_default=False,
    ),
]

campaigns_app = typer.Typer(
    help=(
        "Campaign files: list the campaigns, check them before anything is sent.\n\n"
        "Example: retain campaigns check --config campaigns.yaml"
    ),
    no_args_is_help=True,
)


@campaigns_app.command("list")
def list_campaigns(
    config: ConfigOption = None,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
) -> None:
    """List the campaigns in the campaign file.

    Example: retain campaigns list --format csv
    """
    from retain_cli.campaigns.config import config_path, load_config, summary_rows

    loaded = load_config(config_path(config))
    columns = ["name", "audience", "trigger", "steps", "holdout", "repeat", "enabled"]
    render_table(
        summary_rows(loaded),
        columns,
        fmt,
        keys=("name",),
        wrap=("audience", "trigger"),
        drop=("steps", "repeat"),
        wide=wide,
        title=f"Campaigns in {loaded.path}",
        empty=f"No campaigns in {loaded.path}.",
    )


@campaigns_app.command("check")
def check(
    ctx: typer.Context,
    config: ConfigOption = None,
    db: DbOption = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
) -> None:
    """Validate the campaign file and render every template before anything is sent.

    Each subject, text and HTML template is rendered against a sample customer and, if the
    database exists, against the first customer the campaign would write to (as 'retain
    preview' picks them), so a misspelt variable fails here. Exit code 1 if any campaign has
    a problem. It warns while the sender is still the example's (Rosie's Bakery, its
    addresses and postal address, smtp.example.com): 'retain send' over SMTP refuses to send
    until they are your shop's own.

    Example: retain campaigns check --config campaigns.yaml
    """
    from retain_cli.campaigns.check import check_campaigns
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.campaigns.placeholders import placeholders
    from retain_cli.timeutil import parse_as_of, zone

    loaded = load_config(config_path(config))
    moment = parse_as_of(as_of, tz=zone(loaded.timezone))
    store = open_store(ctx, db) if db_path(ctx, db).exists() else None
    rows = check_campaigns(loaded, store, moment)
    render_table(
        rows,
        ["campaign", "status", "rendered_for", "problems"],
        fmt,
        keys=("campaign", "rendered_for"),
        wrap=("problems",),
        drop=("rendered_for",),
        wide=wide,
        title=f"Check of {loaded.path}",
        styles={"status": lambda s: "green" if s == "OK" else "bold red"},
        empty=f"No campaigns in {loaded.path}.",
    )
    found = placeholders(loaded)
    if found:
        import textwrap

        width = max(err_console.width, 40)
        head = (
            f"Warning: {loaded.path} still has the example shop's sender; put your shop's own "
            "there before sending real mail ('retain send' over SMTP refuses until then):"
        )
        wrap = textwrap.TextWrapper(width, break_long_words=False, break_on_hyphens=False)
        lines = [wrap.fill(head)]
        wrap.initial_indent, wrap.subsequent_indent = "  ", "    "
        lines += [wrap.fill(f"{item.key}: {item.value!r} is {item.why}") for item in found]
        err_console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    bad = [r["campaign"] for r in rows if r["status"] != "OK"]
    if bad:
        raise ConfigError(
            f"{len(bad)} of {len(rows)} campaigns have problems ({', '.join(bad)}); "
            "fix them and run 'retain campaigns check' again"
        )


def preview(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Argument(help="Campaign name, as in 'campaigns list'.")],
    customer: Annotated[
        str | None,
        typer.Option("--customer", help="Preview the message for this e-mail address."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many audience members.")
    ] = 3,
    step: Annotated[
        int | None, typer.Option("--step", min=1, help="Only this step (default: all).")
    ] = None,
    config: ConfigOption = None,
    db: DbOption = None,
    as_of: AsOfOption = None,
) -> None:
    """Print the messages a campaign would send (headers and text), without sending.

    Shows the customers each step would go to now, as 'retain plan' picks them (audience,
    trigger, steps, what was sent already), rendered exactly as 'retain send' would render
    them. When a step goes to nobody today, it is shown for a stand-in marked NOT DUE NOW
    with the reason. With --customer, that customer, marked NOT SENT with the reason when
    'retain send' would not write to them now.

    Example: retain preview win-back --customer ada@example.com
    """
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.campaigns.preview import preview_messages
    from retain_cli.timeutil import parse_as_of, zone

    loaded = load_config(config_path(config))
    store = open_store(ctx, db)
    previews = preview_messages(
        store,
        loaded,
        campaign,
        as_of=parse_as_of(as_of, tz=zone(loaded.timezone)),
        email=customer,
        limit=limit,
        step=step,
    )
    if not previews:
        typer.echo(f"No one in the audience of {campaign!r} may be mailed now.")
        return
    for number, item in enumerate(previews, start=1):
        typer.echo(_show(item, number, len(previews)))


def _show(item: Preview, number: int, total: int) -> str:
    """One previewed message: its main headers, its text part, and the HTML part's size."""
    msg = item.message.parsed()
    note = "" if item.not_sent is None else f"  (NOT SENT: {item.not_sent})"
    if item.stand_in is not None:
        note = f"  (NOT DUE NOW: {item.stand_in})"
    lines = [f"=== message {number} of {total}: step {item.step} to {item.email}{note} ==="]
    for name in (
        "From",
        "To",
        "Reply-To",
        "Subject",
        "Message-ID",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "X-Retain-Campaign",
        "X-Retain-Variant",
    ):
        if msg[name] is not None:
            lines.append(f"{name}: {msg[name]}")
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    lines.append("")
    if text_part is not None:
        lines.append(str(text_part.get_content()).rstrip("\n"))
    if html_part is not None:
        lines.append("")
        lines.append(f"[HTML part: {len(str(html_part.get_content()))} characters]")
    lines.append("")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(campaigns_app, name="campaigns")
    app.command("preview")(preview)
