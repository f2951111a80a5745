"""Shared fixtures. Every test runs in its own temporary folder with its own database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retain_cli.cli.main import app
from retain_cli.store import Store

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every path retain writes to at tmp_path, so tests never touch real files."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RETAIN_DB", str(tmp_path / "retain.db"))
    monkeypatch.setenv("RETAIN_CONFIG", str(tmp_path / "campaigns.yaml"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("RETAIN_SMTP_PASSWORD", raising=False)
    return tmp_path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "retain.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(db_path) as opened:
        yield opened


class Cli:
    """Runs ``retain`` in-process, the way a user would type it."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def cli() -> Cli:
    return Cli()
