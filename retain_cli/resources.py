"""The example files retain ships (campaign file and message templates), and ``retain init``.

In a source or editable checkout the examples are at the repository root
(``campaigns.example.yaml`` and ``templates/*.j2``). A wheel installs them as data files under
``<prefix>/share/retain/`` (see ``[tool.setuptools.data-files]`` in pyproject.toml), which is
looked at second.
"""

from __future__ import annotations

import shutil
import site
import sqlite3
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from retain_cli.errors import RetainError

EXAMPLE_CAMPAIGNS = "campaigns.example.yaml"
TEMPLATES_DIR = "templates"
DB_NAME = "retain.db"
CONFIG_NAME = "campaigns.yaml"


def resource_roots() -> list[Path]:
    """Folders that may hold the examples, most specific first (duplicates removed)."""
    roots = []
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists():  # a source or editable checkout, not site-packages
        roots.append(checkout)
    prefixes = [sys.prefix, sysconfig.get_path("data"), site.getuserbase()]
    roots += [Path(prefix) / "share" / "retain" for prefix in prefixes if prefix]
    return list(dict.fromkeys(roots))


def _root_with(name: str) -> Path | None:
    for root in resource_roots():
        if (root / name).exists():
            return root
    return None


def example_campaigns() -> Path | None:
    """The bundled ``campaigns.example.yaml``, or None if this install has none."""
    root = _root_with(EXAMPLE_CAMPAIGNS)
    return None if root is None else root / EXAMPLE_CAMPAIGNS


def template_files() -> list[Path]:
    """The bundled message templates (``templates/*.j2``), sorted by name."""
    for root in resource_roots():
        folder = root / TEMPLATES_DIR
        files = sorted(p for p in folder.glob("*.j2") if p.is_file()) if folder.is_dir() else []
        if files:
            return files
    return []


@dataclass(frozen=True)
class InitResult:
    """What ``retain init`` did: paths it created and paths that were already there."""

    directory: Path
    database: Path
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    missing_examples: bool = False


def _copy_new(source: Path, target: Path, created: list[Path], kept: list[Path]) -> None:
    if target.exists():
        kept.append(target)
        return
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        raise RetainError(f"cannot write {target}: {exc.strerror}") from exc
    created.append(target)


def init_project(directory: Path) -> InitResult:
    """Set up ``directory`` for retain without overwriting anything that is there.

    Creates the folder, ``retain.db`` (schema applied), ``campaigns.yaml`` (a copy of the
    example) and ``templates/`` (copies of the example templates). Each file that already
    exists is kept as it is, including a database (which is only upgraded to the current
    schema). Without bundled examples, only the database is created.
    """
    from retain_cli.store import Store

    created: list[Path] = []
    kept: list[Path] = []
    if directory.exists() and not directory.is_dir():
        raise RetainError(f"{directory} is a file, not a folder; pass another folder to init")
    if not directory.exists():
        try:
            directory.mkdir(parents=True)
        except OSError as exc:
            raise RetainError(f"cannot create folder {directory}: {exc.strerror}") from exc
        created.append(directory)

    database = directory / DB_NAME
    existed = database.exists()
    try:
        Store.open(database, create=True).close()
    except sqlite3.Error as exc:
        raise RetainError(f"cannot create {database}: {exc}") from exc
    (kept if existed else created).append(database)

    example = example_campaigns()
    templates = template_files()
    if example is not None:
        _copy_new(example, directory / CONFIG_NAME, created, kept)
    if templates:
        folder = directory / TEMPLATES_DIR
        if not folder.exists():
            folder.mkdir()
            created.append(folder)
        for template in templates:
            _copy_new(template, folder / template.name, created, kept)
    return InitResult(
        directory=directory,
        database=database,
        created=created,
        kept=kept,
        missing_examples=example is None and not templates,
    )
