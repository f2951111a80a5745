"""Every command documents itself, and the basics of the app work."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
import typer.main

from retain_cli import __version__
from retain_cli.cli.main import app


def _commands(group: Any, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


ALL = list(_commands(typer.main.get_command(app)))


@pytest.mark.parametrize("path,command", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_command_has_help(cli, path, command):
    assert command.help and command.help.strip(), f"retain {' '.join(path)} has no help"
    result = cli(*path, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"retain {__version__}"


def test_read_command_without_database_says_how_to_fix(cli, tmp_path):
    # status is a read-only command: it must not create a database by accident
    result = cli("--db", str(tmp_path / "missing.db"), "status")
    assert result.exit_code == 1
    assert "no database at" in result.stderr
    assert "retain init" in result.stderr
    assert not (tmp_path / "missing.db").exists()


def test_db_before_the_command_beats_the_environment(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("RETAIN_DB", str(tmp_path / "from-env.db"))
    result = cli("--db", str(tmp_path / "typed.db"), "status")
    assert result.exit_code == 1
    assert f"no database at {tmp_path / 'typed.db'}" in result.stderr


def test_db_after_the_command_beats_the_one_before(cli, tmp_path):
    result = cli("--db", str(tmp_path / "a.db"), "status", "--db", str(tmp_path / "b.db"))
    assert result.exit_code == 1
    assert f"no database at {tmp_path / 'b.db'}" in result.stderr


def test_help_does_not_import_pandas():
    import subprocess
    import sys

    code = "import sys, retain_cli.cli.main; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- help at 80 columns -------------------------------------------------------------------------


def _help(cli, monkeypatch, *path: str) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    return result.stdout


def _scraps(text: str) -> list[str]:
    """Lines of the help's prose (outside the option panels, not an indented example) that
    are short and followed by more of the same paragraph: a sentence broken twice."""
    found = []
    for line, after in itertools.pairwise(text.splitlines()):
        prose = not line.startswith(("│", "╭", "╰", "   ")) and line.strip()
        continued = after.strip() and not after.startswith(("│", "╭", "   "))
        if prose and continued and len(line.strip()) < 30 and "Usage" not in line:
            found.append(f"{line.strip()!r} then {after.strip()!r}")
    return found


PATHS = [(), *(path for path, _ in ALL)]


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) or "retain" for p in PATHS])
def test_help_reads_as_paragraphs_at_80_columns(cli, monkeypatch, path):
    text = _help(cli, monkeypatch, *path)
    assert not _scraps(text), f"retain {' '.join(path)} --help:\n" + "\n".join(_scraps(text))
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "<bool>" not in text  # a flag takes no value
    # a type in the options panel is never folded mid-word (<total_spent|orders|last_o)
    for line in text.splitlines():
        if line.startswith("│") and "<" in line:
            assert ">" in line.split("<", 1)[1], line


def test_send_help_keeps_paragraphs_and_the_example(cli, monkeypatch):
    text = _help(cli, monkeypatch, "send")
    prose = " ".join(text.split())
    assert (
        "The audience is recorded in the send ledger first; each message is claimed, sent, "
        "then marked sent with the server's reply." in prose
    )
    assert " Example: retain send --yes" in text
    dry_run = next(line for line in text.splitlines() if line.startswith("│ --dry-run"))
    assert re.match(r"│ --dry-run +Plan and render everything;", dry_run), dry_run
    assert re.search(r"│ --help +Show this message and exit\.", text)


def test_an_example_block_is_not_rewrapped(cli, monkeypatch):
    text = _help(cli, monkeypatch, "customers", "list")
    lines = [line.rstrip() for line in text.splitlines()]
    assert "     retain customers list --limit 10 --sort last_order" in lines
    assert "     retain customers list --segment lifecycle:at_risk --format csv" in lines


def test_long_choices_are_listed_in_the_help_not_folded(cli, monkeypatch):
    text = _help(cli, monkeypatch, "customers", "list")
    sort = " ".join(text[text.index("--sort") :].split("│ --as-of")[0].split())
    assert "<choice>" in sort
    assert "One of: total_spent, orders, last_order, first_order, name, email, customer_id." in (
        sort.replace("│ ", "").replace(" │", "")
    )


def test_paragraphs_joins_lines_and_keeps_blocks():
    from retain_cli.cli.helpformat import KEEP_INDENT, paragraphs

    doc = """First line.

    A paragraph written over
    three lines in the
    source.

    Example:

        retain one --two
        retain three

    Items:
    - one item that goes on
      over two lines
    - another

    \b
    kept   as
    it is
    """
    assert paragraphs(doc) == (
        "First line.\n\n"
        "A paragraph written over three lines in the source.\n\n"
        "Example:\n\n"
        f"{KEEP_INDENT}    retain one --two\n{KEEP_INDENT}    retain three\n\n"
        f"Items:\n- one item that goes on\n{KEEP_INDENT}  over two lines\n- another\n\n"
        "kept   as\nit is"
    )


FIRST_DAY = {
    "Set-up and data": ["init", "demo", "import", "status", "customers", "config"],
    "Analytics": ["metrics", "cohorts", "segments", "predict", "explain"],
    "Campaigns and sending": [
        "campaigns",
        "preview",
        "plan",
        "send",
        "sends",
        "simulate",
        "cron",
        "unsubscribe",
        "suppressions",
    ],
    "Measuring": ["report", "baseline", "goals"],
    "Mailbox and feedback": ["inbox", "feedback"],
    "Your day": ["digest", "tasks", "queue", "pause", "resume"],
    "Trust": ["doctor", "audit", "purge"],
}


def test_retain_help_groups_commands_in_the_order_of_a_first_day(cli, monkeypatch):
    text = _help(cli, monkeypatch)
    panels: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        title = re.match(r"╭─ (.+?) ─", line)
        if title:
            current = title.group(1)
            panels[current] = []
        elif current and current != "Options":
            name = re.match(r"│ (\S+) ", line)
            if name:
                panels[current].append(name.group(1))
    panels.pop("Options", None)
    assert "Commands" not in panels  # every command is in its domain's panel
    assert list(panels) == list(FIRST_DAY)
    for panel, names in FIRST_DAY.items():
        # the coming issues add commands: they may sit between these, never reorder them
        assert [n for n in panels[panel] if n in names] == names, panels[panel]


def test_every_top_level_command_has_a_panel():
    from retain_cli.cli.helpformat import PANELS

    root = typer.main.get_command(app)
    for name, command in root.commands.items():
        assert command.rich_help_panel, f"retain {name} is in no help panel (see PANELS)"
    assert list(PANELS)[-1] == "Trust"  # the checks and the customers' rights come last
