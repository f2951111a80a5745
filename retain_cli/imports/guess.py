"""What an export holds, guessed from its header line: for a hint when the kind of import was
not said (``retain import FILE``) and for importing a folder of exports.

A header that matches a platform's layout is that layout's kind. Otherwise an amount with a
date or an order id is orders; an e-mail column with a reason (and nothing else), or with a
column about unsubscribing, is an opt-out list; an e-mail, a customer id or a name is
customers. Anything else, a bare list of addresses included, is not guessed.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from pathlib import Path

from retain_cli.imports.layouts import (
    GENERIC_BY_KIND,
    LAYOUTS,
    Kind,
    header_key,
)

_HEAD = 1 << 16  # a header line longer than this is not guessed


def header_of(path: Path) -> list[str] | None:
    """The column names on the file's first line (UTF-8 or UTF-16 with a byte order mark,
    separated by a comma, semicolon, tab or pipe), or None if it cannot be read."""
    try:
        with path.open("rb") as file:
            raw = file.read(_HEAD)
    except OSError:
        return None
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        text = raw.decode("utf-16", errors="replace")
    else:
        text = raw.decode("utf-8-sig", errors="replace")
    if "\x00" in text:
        return None  # binary: a spreadsheet, not CSV
    line = text.splitlines()[0] if text.strip() else ""
    if not line:
        return None
    separator = max((",", ";", "\t", "|"), key=line.count)
    try:
        return next(csv.reader(io.StringIO(line), delimiter=separator))
    except (csv.Error, StopIteration):
        return None


def guess_kind(header: Sequence[str]) -> Kind | None:
    """customers, orders or suppressions, as the column names suggest; None if they do not."""
    keys = {header_key(h) for h in header if h.strip()}
    for layout in LAYOUTS.values():
        if layout.matches(keys):
            return layout.kind

    def has(kind: Kind, *fields: str) -> bool:
        columns = GENERIC_BY_KIND[kind].columns
        return any(h in keys for f in fields for h in columns.get(f, ()))

    if has("orders", "amount") and has("orders", "date", "order_id"):
        return "orders"
    reasons = GENERIC_BY_KIND["suppressions"].columns["reason"]
    emails = GENERIC_BY_KIND["suppressions"].columns["email"]
    if has("suppressions", "email") and (
        any("unsub" in k for k in keys)
        or (any(k in reasons for k in keys) and all(k in reasons or k in emails for k in keys))
    ):
        return "suppressions"
    if keys <= set(emails):
        return None  # a bare list of addresses: sign-ups or opt-outs, only the owner knows
    if has("customers", "email", "customer_id", "first_name", "last_name", "name"):
        return "customers"
    return None


def guess_file(path: Path) -> Kind | None:
    """:func:`guess_kind` for a file's header; None if there is no readable header."""
    header = header_of(path)
    return guess_kind(header) if header else None
