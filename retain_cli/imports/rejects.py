"""``FILE.rejects.csv`` and ``FILE.warnings.csv``: the rows not imported, and those imported
with a value left out, with their original fields, line number and reason, so they can be
fixed and imported again. With --strict, the first of them fails the import instead."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from retain_cli.imports.frame import Frame
from retain_cli.imports.options import ImportOptions, fail, rejects_path, warnings_path
from retain_cli.imports.read import Source, scan_lines


def report_warnings(
    source: Source, frame: Frame, options: ImportOptions
) -> tuple[int, Path | None]:
    """How many imported rows had a value left out, and the FILE.warnings.csv listing them
    (None on a dry run or when there are none: a stale one is removed). With --strict, a
    value left out fails the import like a bad row."""
    path = source.path
    rows = sorted(set(frame.warnings) - set(frame.errors))  # rejected rows are not imported
    if not rows:
        if not options.dry_run:
            warnings_path(path).unlink(missing_ok=True)
        return 0, None
    found, _invalid = scan_lines(source, set(rows))
    notes = [(found[row][0], found[row][1], frame.warnings[row]) for row in rows if row in found]
    if options.strict:
        line, _record, ((column, reason), *_more) = notes[0]
        raise fail(
            path,
            f"line {line}, column {column!r}: {reason}; nothing was imported (--strict). Fix "
            "the value, or run without --strict to import the row without it (listed in "
            f"{warnings_path(path).name})",
        )
    return len(rows), None if options.dry_run else _write_warnings(source, notes)


def reject_rows(
    source: Source, frame: Frame, rows: Sequence[int], has_invalid: bool
) -> tuple[list[tuple[int, list[str], str, str]], int]:
    """(line, original fields, column, reason) of every rejected row, in file order."""
    found, invalid = scan_lines(source, set(rows))
    out = [(found[row][0], found[row][1], *frame.errors[row]) for row in rows if row in found]
    out.extend((line, record, "", reason) for line, record, reason in invalid)
    out.sort(key=lambda item: item[0])
    return out, len(invalid)


def write_rejects(source: Source, rows: Sequence[tuple[int, list[str], str, str]]) -> Path:
    return _write_lines(
        source,
        rejects_path(source.path),
        "reason",
        (
            (line, record, f"{column}: {reason}" if column else reason)
            for line, record, column, reason in rows
        ),
    )


def _write_warnings(
    source: Source, rows: Sequence[tuple[int, list[str], list[tuple[str, str]]]]
) -> Path:
    """``FILE.warnings.csv``: the rows imported with a value left out, like a rejects file
    (so it can be fixed and imported again)."""
    return _write_lines(
        source,
        warnings_path(source.path),
        "warning",
        (
            (line, record, "; ".join(f"{c}: {r} (imported without it)" for c, r in notes))
            for line, record, notes in rows
        ),
    )


def _write_lines(
    source: Source, target: Path, last: str, rows: Iterable[tuple[int, list[str], str]]
) -> Path:
    """The original fields of some rows, their ``line`` and a ``last`` column, as CSV."""
    header = list(source.header) if not source.headerless else ["email"]
    width = len(header)
    kind = "rejects" if last == "reason" else "warnings"
    try:
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([*header, "line", last])
            for line, record, why in rows:
                fields = (record + [""] * width)[:width] if len(record) <= width else record
                writer.writerow([*fields[:width], line, why])
    except OSError as exc:
        raise fail(source.path, f"cannot write the {kind} file {target} ({exc.strerror})") from None
    return target
