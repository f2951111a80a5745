"""Survey answers coming in: from replies ``retain inbox`` read (:func:`sync_inbox_answers`)
and from a form tool's CSV export (:func:`import_responses`, ``retain import responses``).

A form export is matched by token: each survey message carries the recipient's signed token
(:mod:`retain_cli.campaigns.survey`) in its form links, the form keeps it (a hidden or
prefilled field) and exports it beside the score. The columns are found by their header
(``token``; ``score``, ``rating``, ``nps``, ``csat`` or a question with "recommend" or
"satisfied"; ``comment``, ``feedback``, ``why``; ``timestamp``, ``submitted``, ``date``), or
named with ``--map``. A row whose token matches no survey message, whose score is not on the
survey's scale, or that has no token is listed with its line and left out; the rest are
recorded (one answer per message: a later row replaces an earlier one).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import ImportFileError, UsageError
from retain_cli.timeutil import utc_now_iso

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.store import Store

FIELDS = ("token", "score", "comment", "answered_at")
HINTS: dict[str, tuple[str, ...]] = {
    "token": ("token",),
    "score": ("score", "rating", "nps", "csat", "recommend", "satisf", "bewertung", "note"),
    "comment": ("comment", "feedback", "why", "reason", "kommentar", "anything else", "tell us"),
    "answered_at": ("timestamp", "submitted", "date", "time", "zeitstempel", "created"),
}
MAX_BYTES = 50 * 1024 * 1024
LISTED = 20


def sync_inbox_answers(store: Store, kinds: Mapping[str, str]) -> int:
    """Record the survey answers ``retain inbox`` classified that are not answers yet
    (idempotent; a run killed after recording its messages is caught up by the next one)."""
    rows = []
    now = utc_now_iso()
    for row in store.survey_unsynced_inbox():
        kind = kinds.get(row["campaign"])
        if kind is None or row["score"] is None:
            continue
        rows.append(
            {
                "send_key": row["send_key"],
                "campaign": row["campaign"],
                "customer_ref": row["customer_ref"],
                "email": row["email"],
                "kind": kind,
                "score": row["score"],
                "comment": row["excerpt"],
                "answered_at": row["answered_at"],
                "source": f"inbox:{row['message_key']}",
                "recorded_at": now,
            }
        )
    new, replaced = store.survey_record(rows)
    return new + replaced


@dataclass
class ResponsesResult:
    file: Path
    rows: int = 0
    new: int = 0
    replaced: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 3 if self.problems else 0

    def summary(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "rows": self.rows,
            "new answers": self.new,
            "replaced (a later answer)": self.replaced,
            "unchanged": self.unchanged,
            "left out": len(self.problems),
            "columns": ", ".join(f"{k}={v}" for k, v in self.columns.items()),
        }


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"{path}: larger than {MAX_BYTES // 2**20} MB; is it a form export?")
    if b"\0" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(f"{path}: not a CSV file (it holds binary data)")
    for encoding in ("utf-8-sig", "utf-16", "cp1252"):
        try:
            text = data.decode(encoding)
            if encoding != "utf-16" or data.startswith((b"\xff\xfe", b"\xfe\xff")):
                break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly anything
        raise ImportFileError(f"{path}: cannot tell its encoding; save it as UTF-8")
    head = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(head.partition("\n")[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ImportFileError(f"{path}: empty, or no header line")
    return [c.strip() for c in rows[0]], rows[1:]


def find_columns(header: Sequence[str], mapping: Sequence[str], path: Path) -> dict[str, int]:
    """field -> column index: ``--map FIELD=COLUMN`` first, then the header's words."""
    chosen: dict[str, int] = {}
    lowered = [h.lower() for h in header]
    for item in mapping:
        name, sep, column = item.partition("=")
        name = name.strip()
        if not sep or name not in FIELDS:
            raise UsageError(
                f"--map {item!r}: write FIELD=COLUMN with FIELD one of {', '.join(FIELDS)}"
            )
        if column.strip().lower() not in lowered:
            raise UsageError(
                f"--map {item!r}: {path} has no column {column.strip()!r}; columns are "
                f"{', '.join(header)}"
            )
        chosen[name] = lowered.index(column.strip().lower())
    for name in FIELDS:
        if name in chosen:
            continue
        for index, text in enumerate(lowered):
            if index not in chosen.values() and any(word in text for word in HINTS[name]):
                chosen[name] = index
                break
    for name in ("token", "score"):
        if name not in chosen:
            raise ImportFileError(
                f"{path}: no {name} column found (columns: {', '.join(header)}); pass --map "
                f"{name}=COLUMN"
            )
    return chosen


def _moment(dates: Any, text: str, fallback: str) -> str:
    """A form's timestamp as UTC text (in the shop's time zone when it has no offset); the
    import's time when it has none or it cannot be read."""
    if not text.strip():
        return fallback
    try:
        value = dates.parse(text.strip())
    except Exception:  # an odd timestamp loses nothing: the answer is kept, dated now
        return fallback
    return value if isinstance(value, str) and value else fallback


def import_responses(
    store: Store,
    config: CampaignConfig,
    path: Path,
    *,
    mapping: Sequence[str] = (),
) -> ResponsesResult:
    """``retain import responses FILE``; see the module's doc."""
    from retain_cli.campaigns.survey import SECRET_NAME, survey_token
    from retain_cli.imports.dates import Dates
    from retain_cli.imports.options import ImportOptions

    kinds = {c.name: c.survey.kind for c in config.campaigns if c.survey is not None}
    if not kinds:
        raise UsageError(
            f"{config.path} has no survey campaign (survey: nps or csat), so no answer can "
            "be matched; add one first"
        )
    header, body = _read(path)
    columns = find_columns(header, mapping, path)
    result = ResponsesResult(path, columns={k: header[i] for k, i in columns.items()})
    secret = store.secret(SECRET_NAME)
    tokens = {survey_token(secret, row["send_key"]): row for row in store.survey_sent(list(kinds))}
    now = utc_now_iso()
    dates = Dates(ImportOptions(timezone=config.timezone))
    answers: dict[str, dict[str, Any]] = {}
    for line, cells in enumerate(body, start=2):
        if not any(c.strip() for c in cells):
            continue
        result.rows += 1

        def cell(name: str, cells: list[str] = cells) -> str:
            index = columns.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        token = cell("token").lower()
        where = f"{path.name} line {line}"
        sent = tokens.get(token)
        if not token:
            result.problems.append(f"{where}: no token (an answer not from a survey link)")
            continue
        if sent is None:
            result.problems.append(f"{where}: token {token[:40]!r} matches no survey message")
            continue
        kind = kinds[sent["campaign"]]
        text = cell("score")
        scale = range(0, 11) if kind == "nps" else range(1, 6)
        try:
            score = int(float(text.replace(",", ".")))
            if score != float(text.replace(",", ".")):
                raise ValueError
        except ValueError:
            score = -1
        if score not in scale:
            result.problems.append(
                f"{where}: score {text!r} is not on the {kind.upper()} scale {scale[0]}-{scale[-1]}"
            )
            continue
        answered = _moment(dates, cell("answered_at"), now)
        answers[sent["send_key"]] = {
            "send_key": sent["send_key"],
            "campaign": sent["campaign"],
            "customer_ref": sent["customer_ref"],
            "email": sent["email"],
            "kind": kind,
            "score": score,
            "comment": cell("comment") or None,
            "answered_at": answered,
            "source": f"form:{path.name}",
            "recorded_at": now,
        }
    result.new, result.replaced = store.survey_record(list(answers.values()))
    result.unchanged = len(answers) - result.new - result.replaced
    return result
