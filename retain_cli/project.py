"""``retain init``: a shop folder with its database, campaign file and templates."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from retain_cli.errors import RetainError
from retain_cli.resources import (
    CONFIG_NAME,
    DB_NAME,
    SEGMENTS_NAME,
    TEMPLATES_DIR,
    example_campaigns,
    example_segments,
    template_files,
)
from retain_cli.store import Store


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

    Creates the folder, ``retain.db`` (schema applied), ``campaigns.yaml`` and
    ``segments.yaml`` (copies of the examples) and ``templates/`` (copies of the example
    templates). Each file that already
    exists is kept as it is, including a database (which is only upgraded to the current
    schema). Without bundled examples, only the database is created.
    """
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
    segments = example_segments()
    if segments is not None:
        _copy_new(segments, directory / SEGMENTS_NAME, created, kept)
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
