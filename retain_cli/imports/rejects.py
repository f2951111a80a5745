"""``FILE.rejects.csv`` and ``FILE.warnings.csv``: the rows not imported, and those imported
with a warning, with their original fields, line number and reason, so they can be fixed and
imported again. With --strict, the first of them (a value left out, not a value kept with a
doubt) fails the import instead.

They are written for a spreadsheet: a cell that begins with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return (or the full-width ``=+-@``) gets a ``'`` in front, so that a
spreadsheet shows it as text instead of running it as a formula (OWASP's rule against CSV
injection: a customer named ``=HYPERLINK(...)`` would otherwise become a live link). An
import reads such a cell back without the ``'`` (:func:`retain_cli.imports.read.unquote`),
so a fixed rejects file imports as the original would. ``raw_csv`` writes the cells as they are.

Each file is written to a temporary file in the same folder and renamed over the name, so
a symlink planted at ``FILE.rejects.csv`` is replaced, never followed. A file that cannot be
written (a read-only folder, a full disk) does not undo the import: the problem is
returned, to be shown with the result (``--rejects-dir`` writes the files elsewhere).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from retain_cli.imports.frame import Frame
from retain_cli.imports.options import ImportOptions, fail, rejects_path, warnings_path
from retain_cli.imports.read import FORMULA_START, Source, scan_lines


def neutralise(cell: str) -> str:
    """``cell`` as a spreadsheet may open it: text that would start a formula gets a ``'``."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


class Reporter:
    """Writes the rejects and warnings files of one import, and keeps what went wrong."""

    def __init__(self, source: Source, options: ImportOptions) -> None:
        self.source = source
        self.options = options
        self.problems: list[str] = []

    def rejects_path(self) -> Path:
        return rejects_path(self.source.path, self.options.rejects_dir)

    def warnings_path(self) -> Path:
        return warnings_path(self.source.path, self.options.rejects_dir)

    def write_rejects(self, rows: Sequence[tuple[int, list[str], str, str]]) -> Path | None:
        """The rejects file (None on a dry run or when it cannot be written)."""
        return self._write_lines(
            self.rejects_path(),
            "reason",
            (
                (line, record, f"{column}: {reason}" if column else reason)
                for line, record, column, reason in rows
            ),
            len(rows),
        )

    def remove_stale(self, target: Path) -> None:
        """Remove a file an earlier import of the same file left (its rows are in now)."""
        if self.options.dry_run:
            return
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            self.problems.append(
                f"could not remove the old {target} ({exc.strerror}): it lists rows of an "
                "earlier import of this file; delete it"
            )

    def report_warnings(self, frame: Frame) -> tuple[int, int, Path | None]:
        """How many imported rows had a warning, how many of them were imported whole (a
        value kept but doubtful), and the FILE.warnings.csv listing them (None on a dry
        run, when there are none or when it cannot be written). With --strict, a value
        left out fails the import like a bad row."""
        path = self.source.path
        rows = sorted(set(frame.warnings) - set(frame.errors))  # rejected rows are not imported
        if not rows:
            self.remove_stale(self.warnings_path())
            return 0, 0, None
        found, _invalid = scan_lines(self.source, set(rows))
        notes = [
            (found[row][0], found[row][1], frame.warnings[row]) for row in rows if row in found
        ]
        left_out = [row for row in rows if row in frame.left_out]
        if self.options.strict and left_out:
            first = left_out[0]  # rows are in file order
            where = f"line {found[first][0]}, " if first in found else ""
            suffix = " (imported without it)"
            column, reason = next(
                (column, reason[: -len(suffix)])
                for column, reason in frame.warnings[first]
                if reason.endswith(suffix)
            )
            raise fail(
                path,
                f"{where}column {column!r}: {reason}; nothing was imported (--strict). Fix the "
                "value, or run without --strict to import the row without it (listed in "
                f"{self.warnings_path().name})",
            )
        written = self._write_lines(
            self.warnings_path(),
            "warning",
            ((line, record, "; ".join(f"{c}: {r}" for c, r in why)) for line, record, why in notes),
            len(notes),
        )
        return len(rows), len(rows) - len(left_out), written

    def _write_lines(
        self, target: Path, last: str, rows: Iterable[tuple[int, list[str], str]], count: int
    ) -> Path | None:
        """The original fields of some rows, their ``line`` and a ``last`` column, as CSV, at
        ``target`` (through a temporary file renamed over it); None if it cannot be."""
        if self.options.dry_run:
            return None
        source = self.source
        header = list(source.header) if not source.headerless else ["email"]
        width = len(header)
        cell = str if self.options.raw_csv else neutralise
        listed = "rejected row(s)" if last == "reason" else "row(s) imported with a warning"
        temporary = None
        try:
            handle, temporary = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
            )
            with open(handle, "w", newline="", encoding="utf-8") as stream:
                writer = csv.writer(stream)
                writer.writerow([cell(name) for name in [*header, "line", last]])
                for line, record, why in rows:
                    fields = (record + [""] * width)[:width] if len(record) <= width else record
                    writer.writerow([*(cell(f) for f in fields[:width]), line, cell(why)])
            os.chmod(temporary, 0o666 & ~_umask())
            os.replace(temporary, target)
        except OSError as exc:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            self.problems.append(
                f"the {count} {listed} could not be listed in {target} "
                f"({exc.strerror or exc}); to get them, run the import again with "
                "--rejects-dir DIR (what was imported stays as it is)"
            )
            return None
        return target


def _umask() -> int:
    """The process's umask (mkstemp makes files only the owner can read)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def reject_rows(
    source: Source, frame: Frame, rows: Sequence[int], has_invalid: bool
) -> tuple[list[tuple[int, list[str], str, str]], int]:
    """(line, original fields, column, reason) of every rejected row, in file order."""
    found, invalid = scan_lines(source, set(rows))
    out = [(found[row][0], found[row][1], *frame.errors[row]) for row in rows if row in found]
    out.extend((line, record, "", reason) for line, record, reason in invalid)
    out.sort(key=lambda item: item[0])
    return out, len(invalid)
