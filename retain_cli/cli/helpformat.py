"""How ``--help`` reads at 80 columns: commands grouped in panels in the order of a shop
owner's first day, docstrings as paragraphs that Rich wraps, flags without a type.

The Typer in use keeps the single line breaks of a docstring's later paragraphs in
``rich`` markup mode, so a docstring wrapped at 96 columns in the source printed every other
line as a scrap at 80. :func:`paragraphs` joins the lines of each paragraph (as click does
in plain mode) and keeps as they are the lines of an indented block (an example), of a block
that starts with ``\\b``, and list items (``- ...``). It also shows ``<bool>`` after every
flag (``--dry-run <bool>``); a flag takes no value, so it shows none. A long list of
choices (``<total_spent|orders|last_o`` / ``rder|...>``) goes into the option's help.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer
from typer.core import TyperGroup, TyperOption

# The help panels of ``retain --help``, in the order of an owner's first day (set up and
# import, look, send, see whether it paid, read the answers; then the daily routine and the
# checks), and the commands in each, in this order. A command's own ``rich_help_panel`` wins;
# a new one goes into its domain's panel here, or into a panel of its own (shown after these).
# Names not registered are skipped.
PANELS: dict[str, tuple[str, ...]] = {
    "Set-up and data": ("init", "demo", "import", "status", "customers", "config"),
    "Analytics": (
        "metrics",
        "cohorts",
        "segments",
        "predict",
        "products",
        "recommend",
        "loyalty",
        "explain",
    ),
    "Campaigns and sending": (
        "campaigns",
        "coupons",
        "preview",
        "plan",
        "send",
        "sends",
        "simulate",
        "cron",
        "unsubscribe",
        "suppressions",
    ),
    "Measuring": ("report", "baseline", "goals"),
    "Mailbox and feedback": ("inbox", "feedback"),
    "Your day": ("digest", "tasks", "queue", "pause", "resume"),
    "Trust": ("doctor", "audit", "purge"),
}
# a choice of options longer than this is listed in the option's help, not as its type
MAX_CHOICES = 24

PANEL_OF = {name: panel for panel, names in PANELS.items() for name in names}
POSITION = {name: i for i, name in enumerate(n for names in PANELS.values() for n in names)}


# Typer dedents the help after its first paragraph (inspect.cleandoc): when the only indented
# lines are an example's, it would take their indent away. An empty Rich markup tag in front
# (it prints nothing) makes the line count as not indented.
KEEP_INDENT = "[i][/i]"


def paragraphs(text: str | None) -> str | None:
    """A docstring with each paragraph's lines joined into one line, for Rich to wrap.

    Kept line by line: a block that starts with ``\\b`` (the marker is removed), indented
    lines (examples, with :data:`KEEP_INDENT` in front), and lines that start a list item
    (``- `` or ``* ``). Everything after a ``\\f`` line is dropped, as Typer does.
    """
    if not text:
        return text
    text = inspect.cleandoc(text).partition("\f")[0]
    blocks = []
    for block in text.split("\n\n"):
        if block.startswith("\b"):
            blocks.append(block[1:].lstrip("\n"))
            continue
        lines: list[str] = []
        verbatim = False
        for line in block.split("\n"):
            indented = line[:1].isspace()
            item = line.lstrip().startswith(("- ", "* "))
            if indented:
                lines.append(KEEP_INDENT + line)
            elif not lines or item or verbatim:
                lines.append(line)
            else:
                lines[-1] = f"{lines[-1].rstrip()} {line.strip()}"
            verbatim = indented
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks).strip()


def tidy(command: Any) -> None:
    """Rewrap ``command``'s help (and its sub-commands', recursively) and take the type off
    its flags, the help flag included."""
    command.help = paragraphs(command.help)
    for param in command.params:
        if not isinstance(param, TyperOption) or param.metavar is not None:
            continue
        if param.is_flag:
            param.metavar = ""
        choices = [str(getattr(c, "value", c)) for c in param.type_descriptor.choices or ()]
        if len("|".join(choices)) > MAX_CHOICES:
            # a long <a|b|c> would fold mid-word in the type column: list it in the help
            param.metavar = "<choice>"
            param.help = f"{param.help or ''} One of: {', '.join(choices)}.".strip()
    help_option = command.get_help_option(typer.Context(command))
    if help_option is not None:
        help_option.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)


class HelpGroup(TyperGroup):
    """The root group: its commands in :data:`PANELS` order, each in its panel."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy(self)
        for name, command in self.commands.items():
            # unset is None, or Typer's DefaultPlaceholder (falsy)
            if not getattr(command, "rich_help_panel", None) and name in PANEL_OF:
                command.rich_help_panel = PANEL_OF[name]  # type: ignore[attr-defined]

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        panels = list(PANELS)

        def place(name: str) -> tuple[int, int]:
            panel = getattr(self.commands.get(name), "rich_help_panel", None) or None
            first = panels.index(panel) if panel in panels else len(panels)
            return first, POSITION.get(name, len(POSITION))

        return sorted(names, key=place)
