"""Commands: ``retain queue`` (list, show, approve, reject), ``retain pause``, ``retain
resume``, and ``retain customers tag`` / ``untag``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.options import DbOption, FormatOption, NowOption, OutputFormat, open_store
from retain_cli.cli.output import console, render_rows, write_json
from retain_cli.cli.tasks import PANEL, shop_clock

QUEUE_COLUMNS = ["id", "campaign", "email", "subject"]
QUEUE_ALL = [
    "id",
    "campaign",
    "email",
    "customer_id",
    "subject",
    "state",
    "queued_at",
    "decided_at",
    "note",
    "send_key",
]

queue_app = typer.Typer(
    help="Messages of 'approval: required' campaigns, waiting for your yes.",
    no_args_is_help=True,
)

Ids = Annotated[
    list[int] | None,
    typer.Argument(help="Queue ids (see 'retain queue list').", show_default=False),
]
AllOption = Annotated[bool, typer.Option("--all", help="Every pending message.")]
CampaignOption = Annotated[
    str | None, typer.Option("--campaign", help="With --all: only this campaign's.")
]


@queue_app.command("list")
def queue_list(
    ctx: typer.Context,
    everything: Annotated[
        bool, typer.Option("--all", help="Approved and rejected messages too.")
    ] = False,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The messages waiting for your approval.

    A campaign with 'approval: required' renders its messages at 'retain send' and puts them
    here instead of sending them; 'retain queue approve' lets the next 'retain send' send
    them exactly as you saw them, 'retain queue reject' keeps them from ever going.

    Example: retain queue list
    """
    from retain_cli.tasks.control import queue_list as pending

    store = open_store(ctx, db)
    rows = pending(store, everything=everything)
    columns = QUEUE_ALL if fmt is not OutputFormat.table or everything else QUEUE_COLUMNS
    if fmt is OutputFormat.table and everything:
        columns = ["id", "campaign", "email", "state", "subject"]
    render_rows(rows, columns, fmt, title="Approval queue", empty="No message waits for approval.")


@queue_app.command("show")
def queue_show(
    ctx: typer.Context,
    queue_id: Annotated[int, typer.Argument(help="The queue id.", min=1)],
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """One queued message as its recipient would read it.

    Example: retain queue show 3
    """
    from retain_cli.tasks.control import queue_message

    store = open_store(ctx, db)
    row = queue_message(store, queue_id)
    if fmt is OutputFormat.json:
        write_json(row)
        return
    console.print(
        f"[bold]Message {row['id']}[/] ({escape(row['campaign'])}, {escape(row['state'])}, "
        f"queued {escape(row['queued_at'])})"
    )
    for name, value in row["headers"].items():
        console.print(f"{name}: {escape(value)}", overflow="fold")
    console.print()
    console.print(escape(row["text"]), overflow="fold")


def _decide(
    ctx: typer.Context,
    ids: list[int] | None,
    approve: bool,
    *,
    everything: bool,
    campaign: str | None,
    note: str | None,
    config: Path | None,
    db: Path | None,
    now: str | None,
) -> int:
    from retain_cli.tasks.control import decide

    moment = shop_clock(ctx, now, config)
    store = open_store(ctx, db)
    return decide(
        store,
        ids or [],
        approve=approve,
        now=moment,
        note=note,
        everything=everything,
        campaign=campaign,
    )


@queue_app.command("approve")
def approve(
    ctx: typer.Context,
    ids: Ids = None,
    everything: AllOption = False,
    campaign: CampaignOption = None,
    config: ConfigOption = None,
    db: DbOption = None,
    now: NowOption = None,
) -> None:
    """Approve queued messages: the next 'retain send' sends them as they are.

    Example: retain queue approve 3 4
    """
    count = _decide(
        ctx,
        ids,
        True,
        everything=everything,
        campaign=campaign,
        note=None,
        config=config,
        db=db,
        now=now,
    )
    console.print(f"Approved {count} message{'s' if count != 1 else ''}: 'retain send' sends them.")


@queue_app.command("reject")
def reject(
    ctx: typer.Context,
    ids: Ids = None,
    note: Annotated[str | None, typer.Option("--note", help="Why (kept in the ledger).")] = None,
    everything: AllOption = False,
    campaign: CampaignOption = None,
    config: ConfigOption = None,
    db: DbOption = None,
    now: NowOption = None,
) -> None:
    """Reject queued messages: they are never sent (the ledger says skipped, with the note).

    Example: retain queue reject 5 --note "she complained yesterday"
    """
    count = _decide(
        ctx,
        ids,
        False,
        everything=everything,
        campaign=campaign,
        note=note,
        config=config,
        db=db,
        now=now,
    )
    console.print(f"Rejected {count} message{'s' if count != 1 else ''}: they will not be sent.")


Campaigns = Annotated[list[str] | None, typer.Argument(help="Campaign names.", show_default=False)]


def pause(
    ctx: typer.Context,
    campaigns: Campaigns = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Every campaign: the kill switch.")
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (shown by send).")] = None,
    config: ConfigOption = None,
    db: DbOption = None,
    now: NowOption = None,
) -> None:
    """Stop sending: every campaign (--all), or the ones named, until 'retain resume'.

    'retain send' honours it at once: while every campaign is paused it plans and sends
    nothing, and a send that is running stops before its next batch. A paused campaign is
    left out of the runs. Nothing is lost that 'retain resume' cannot bring back, but a
    message whose freshness (fresh_for) runs out meanwhile is not sent late.

    Example: retain pause --all --reason "oven broken, no orders this week"
    """
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.tasks.control import pause as set_pause

    moment = shop_clock(ctx, now, config)
    store = open_store(ctx, db, create=True)
    path: Path = config_path(config)
    loaded = load_config(path) if campaigns and path.is_file() else None
    for scope, new in set_pause(
        store, campaigns or [], everything=everything, reason=reason, now=moment, config=loaded
    ):
        what = "Every campaign" if scope == "*" else f"Campaign {escape(scope)}"
        state = "is paused" if new else "was paused already"
        console.print(f"{what} {state}: 'retain send' sends nothing for it until 'retain resume'.")


def resume(
    ctx: typer.Context,
    campaigns: Campaigns = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Lift every pause, of all campaigns and each one.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Send again: lift the pause of every campaign, or of the campaigns named.

    With no names it lifts 'retain pause --all'; --all lifts every pause there is.

    Example: retain resume
    """
    from retain_cli.tasks.control import pauses
    from retain_cli.tasks.control import resume as lift

    store = open_store(ctx, db, create=True)
    lifted = lift(store, campaigns or [], everything=everything)
    if not lifted:
        console.print("Nothing was paused (of what you named).")
    for scope in lifted:
        what = "every campaign" if scope == "*" else f"campaign {escape(scope)}"
        console.print(f"Resumed {what}.")
    for left in pauses(store):
        console.print(f"[yellow]Still paused: {escape(str(left['scope']))}[/]")


def tag(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="E-mail address or customer id.")],
    name: Annotated[str, typer.Argument(help="The tag, e.g. human_only.")] = "human_only",
    note: Annotated[str | None, typer.Option("--note", help="Why (kept with the tag).")] = None,
    db: DbOption = None,
    now: NowOption = None,
    config: ConfigOption = None,
) -> None:
    """Tag a customer in retain: human_only keeps them out of every automated campaign.

    A tag set here is retain's own: no import undoes it. With human_only you write to them
    yourself (a 'channel: task' step still reminds you).

    A human_only tag on the shop platform (the customers' tags column) counts too.

    Example: retain customers tag ada@example.com human_only --note "prefers a call"
    """
    from retain_cli.tasks.control import tag as set_tag

    moment = shop_clock(ctx, now, config)
    store = open_store(ctx, db)
    who, changed = set_tag(store, customer, name, remove=False, note=note, now=moment)
    state = "now has" if changed else "already had"
    console.print(f"{escape(who)} {state} the tag {escape(name.strip().lower())}.")


def untag(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="E-mail address or customer id.")],
    name: Annotated[str, typer.Argument(help="The tag, e.g. human_only.")] = "human_only",
    db: DbOption = None,
    now: NowOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove a tag set with 'retain customers tag'.

    Example: retain customers untag ada@example.com human_only
    """
    from retain_cli.tasks.control import tag as set_tag

    moment = shop_clock(ctx, now, config)
    store = open_store(ctx, db)
    who, changed = set_tag(store, customer, name, remove=True, note=None, now=moment)
    state = "no longer has" if changed else "did not have"
    console.print(f"{escape(who)} {state} the tag {escape(name.strip().lower())}.")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app (tag and untag to 'retain customers')."""
    from retain_cli.cli.customers import customers_app

    app.add_typer(queue_app, name="queue", rich_help_panel=PANEL)
    app.command("pause", rich_help_panel=PANEL)(pause)
    app.command("resume", rich_help_panel=PANEL)(resume)
    customers_app.command("tag")(tag)
    customers_app.command("untag")(untag)
