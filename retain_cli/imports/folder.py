"""A folder of exports imported in one go (the nightly run does it before sending), and a
warning when the data a send works from is older than a day.

Every export in the folder that was not imported before (by its content: a file downloaded
again unchanged is skipped) is imported, oldest first, as what its header says it holds
(:mod:`retain_cli.imports.guess`). Files whose kind cannot be told are left for the owner,
as are the ``.rejects.csv`` and ``.warnings.csv`` files imports write beside an export.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import RetainError, UsageError
from retain_cli.imports.guess import guess_file
from retain_cli.imports.options import ImportOptions, ImportResult

if TYPE_CHECKING:
    from retain_cli.imports.layouts import Kind
    from retain_cli.store import Store

EXPORT_SUFFIXES = (".csv", ".tsv", ".txt")
OWN_FILES = (".rejects.csv", ".warnings.csv")
#: a send warns when the newest orders import is older than this
FRESH_FOR = timedelta(days=1)


@dataclass
class FolderFile:
    """One file of the folder and what became of it."""

    path: Path
    kind: Kind | None
    outcome: str  # imported, already imported, not recognised, failed
    result: ImportResult | None = None
    error: str | None = None

    @property
    def trouble(self) -> bool:
        """Whether the owner should look: not imported, or imported with rejected rows."""
        if self.outcome in ("not recognised", "failed"):
            return True
        return self.result is not None and bool(self.result.rejected or self.result.warnings)

    def row(self) -> dict[str, Any]:
        result = self.result
        return {
            "file": self.path.name,
            "kind": self.kind,
            "outcome": self.outcome,
            "rows": result.rows if result else None,
            "inserted": result.inserted if result else None,
            "updated": result.updated if result else None,
            "rejected": result.rejected if result else None,
            "warnings": result.warnings if result else None,
            "note": self.error,
        }


def export_files(folder: Path) -> list[Path]:
    """The exports in ``folder`` (not its sub-folders), oldest first."""
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; give the folder your exports are saved in")
    files = [
        path
        for path in folder.iterdir()
        if path.is_file()
        and path.suffix.lower() in EXPORT_SUFFIXES
        and not path.name.lower().endswith(OWN_FILES)
        and not path.name.startswith(".")
    ]
    return sorted(files, key=lambda path: (path.stat().st_mtime, path.name))


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def import_folder(db: Path, folder: Path, options: ImportOptions) -> list[FolderFile]:
    """Import every export in ``folder`` not imported before into the database at ``db``
    (created if there is none), ``options`` for each (its currency for orders only). A file
    that fails is reported and the others go on."""
    from retain_cli.imports.database import exists
    from retain_cli.imports.importer import import_into
    from retain_cli.store import Store

    files = export_files(folder)
    done: set[str] = set()
    if exists(db):
        with Store.open(db) as store:
            done = store.imported_hashes()
    out = []
    for path in files:
        digest = _digest(path)
        kind = guess_file(path)
        if digest in done:
            out.append(FolderFile(path, kind, "already imported"))
            continue
        if kind is None:
            note = (
                "its header is neither orders nor customers nor an opt-out list; import it "
                f"with 'retain import orders|customers|suppressions {path}'"
            )
            out.append(FolderFile(path, None, "not recognised", error=note))
            continue
        try:
            # --currency is for orders only (customers and opt-outs have no amounts)
            own = options if kind == "orders" else replace(options, currency=None)
            result = import_into(db, path, kind, own)
        except RetainError as exc:
            out.append(FolderFile(path, kind, "failed", error=str(exc)))
            continue
        if not options.dry_run:
            done.add(digest)
        out.append(FolderFile(path, kind, "imported", result=result))
    return out


def stale_data(store: Store, now: datetime) -> str | None:
    """A warning when the newest orders import is more than :data:`FRESH_FOR` older than
    ``now`` (a send then works from old data); None when it is fresh or there is none."""
    last = store.last_import(("orders",))
    if last is None:
        return None
    started = datetime.fromisoformat(last["started_at"].replace("Z", "+00:00"))
    age = now - started
    if age <= FRESH_FOR:
        return None
    days = age.days
    ago = f"{days} days" if days >= 2 else f"{int(age.total_seconds() // 3600)} hours"
    return (
        f"the newest orders import ({last['file_name']}, {started:%Y-%m-%d %H:%M} UTC) is "
        f"{ago} old: orders since then are not seen (a customer who bought since may still "
        "get a win-back message). Import the new export first; 'retain cron --import-dir "
        "FOLDER' puts that before the nightly send"
    )
