"""Which layout a file has (--source, or detected from its header) and which of its columns
hold which field (the layout's headers, then --map); a missing required field fails with the
fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from retain_cli.errors import ImportFileError, UsageError
from retain_cli.imports.layouts import (
    GENERIC_BY_KIND,
    LAYOUTS,
    Kind,
    Layout,
    detect,
    header_key,
    layout_names,
)
from retain_cli.imports.options import ImportOptions, fail

if TYPE_CHECKING:
    from retain_cli.imports.read import Source


def choose_layout(source: Source, kind: Kind, options: ImportOptions) -> Layout:
    """The layout forced with --source, or the one the header shows."""
    if options.source:
        layout = LAYOUTS.get(options.source)
        if layout is None:
            raise UsageError(
                f"unknown --source {options.source!r}; choose one of: "
                + ", ".join(layout_names(kind))
            )
        if layout.kind != kind:
            raise UsageError(
                f"--source {layout.name} is a layout for {layout.kind}; "
                f"use 'retain import {layout.kind}' for this file"
            )
        return layout
    if source.headerless:
        return GENERIC_BY_KIND[kind]
    layout, other = detect([header_key(h) for h in source.header], kind)
    if other is not None:
        raise fail(
            source.path,
            f"this looks like a {other.label} export, which holds {other.kind}, not {kind}; "
            f"use 'retain import {other.kind} {source.path}' (or --source to force a layout)",
        )
    return layout


def find_columns(source: Source, layout: Layout, options: ImportOptions) -> dict[str, int]:
    """field -> column index, from the layout's headers and --map."""
    if source.headerless:
        return {"email": 0}
    keys = [header_key(h) for h in source.header]
    found: dict[str, int] = {}
    for name in layout.fields:
        for header in layout.columns.get(name, ()):
            if header in keys:
                found[name] = keys.index(header)
                break
    shown = ", ".join(repr(h) for h in source.header)
    for name, column in options.mapping.items():
        if name not in layout.fields:
            raise UsageError(
                f"--map {name}={column}: unknown field {name!r} for {layout.kind}; "
                f"fields are: {', '.join(layout.fields)}"
            )
        if column in source.header:
            found[name] = source.header.index(column)
        elif header_key(column) in keys:
            found[name] = keys.index(header_key(column))
        else:
            raise fail(
                source.path, f"--map {name}={column}: no column {column!r}; the columns are {shown}"
            )
    _refuse_twins(source, found, options)
    missing: list[tuple[str, ...]] = [(n,) for n in layout.required if n not in found]
    missing += [group for group in layout.one_of if not any(n in found for n in group)]
    if missing:
        raise _missing(source, layout, missing, shown)
    return found


def _refuse_twins(source: Source, found: dict[str, int], options: ImportOptions) -> None:
    """Fail when a field's column shares its name with another column (``email,email``):
    reading the first would be a guess."""
    keys = [header_key(h) for h in source.header]
    for name, index in found.items():
        mapped = options.mapping.get(name)
        if mapped is not None and source.header.count(mapped) == 1:
            continue  # --map named it exactly, and only one column is written so
        twins = [i for i, key in enumerate(keys) if key == keys[index]]
        if len(twins) < 2:
            continue
        places = " and ".join(f"{i + 1}" for i in twins)
        names = {source.header[i] for i in twins}
        if len(names) == 1:
            raise fail(
                source.path,
                f"columns {places} are both named {source.header[index]!r}, so which one "
                f"holds the {name} is unclear; rename one of them in the header line, then "
                f"import again (with --map {name}=<new name> if the {name} is in the renamed "
                "one)",
            )
        shown = ", ".join(repr(source.header[i]) for i in twins)
        raise fail(
            source.path,
            f"columns {places} ({shown}) can each be the {name}; pass --map "
            f"{name}=<column> with the exact name of the one to read, e.g. --map "
            f"{name}={source.header[twins[0]]!r}",
        )


def _missing(
    source: Source, layout: Layout, groups: Sequence[tuple[str, ...]], shown: str
) -> ImportFileError:
    """Name every required field that was not found, where it was looked for, and the fix."""
    wanted = ", ".join(" or ".join(group) for group in groups)
    looked = sorted({h for group in groups for n in group for h in layout.columns.get(n, ())})
    hint = f" (looked for {', '.join(repr(h) for h in looked[:8])})" if looked else ""
    fix = " ".join(f"--map {group[0]}=<column>" for group in groups)
    plural = "s" if len(groups) > 1 else ""
    return fail(
        source.path,
        f"no column for the required field{plural} {wanted} in this {layout.label} file"
        f"{hint}; pass {fix} (the columns are {shown})",
    )
