"""Every command documents itself, and the basics of the app work."""

from __future__ import annotations

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
