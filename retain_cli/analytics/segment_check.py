"""``retain segments check``: lint a segment set.

Errors for custom rules that do not compile; warnings for segments that can never match,
overlap, or hold nobody on the current data; information on the rfm grid's coverage, the
lifecycle thresholds and the customers no custom segment covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from retain_cli.analytics.custom_segments import custom_segment_errors, load_custom_segments
from retain_cli.analytics.features import core_features, customer_features
from retain_cli.analytics.segments import (
    NO_SEGMENT,
    RFM_SEGMENTS,
    SCHEMES,
    lifecycle_thresholds,
    rfm_segment,
)
from retain_cli.errors import UsageError

if TYPE_CHECKING:
    from retain_cli.store import Store


@dataclass
class Finding:
    level: str  # error | warning | info
    segment: str
    finding: str

    def row(self) -> dict[str, str]:
        return {"level": self.level, "segment": self.segment, "finding": self.finding}


def check_segments(
    store: Store | None,
    scheme: str,
    as_of: datetime,
    *,
    segments_file: Path | None = None,
) -> list[Finding]:
    """Lint a segment set. errors: rules that do not compile; warnings: segments that can
    never match, overlapping custom segments (on current data), segments no customer is in;
    info: customers no custom segment covers, the rfm grid coverage, lifecycle thresholds."""
    if scheme == "rfm":
        return _check_rfm()
    if scheme == "lifecycle":
        if store is None:
            return []
        core = core_features(store, as_of)
        return [Finding("info", "lifecycle", lifecycle_thresholds(core.orders).describe())]
    if scheme != "custom":
        raise UsageError(f"--scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
    findings = [
        Finding("error", name, message) for name, message in custom_segment_errors(segments_file)
    ]
    segments = load_custom_segments(segments_file, strict=False)
    for segment in segments:
        reason = segment.rule.never_matches()
        if reason:
            findings.append(Finding("warning", segment.name, f"can never match: {reason}"))
    if store is None or not segments:
        return findings
    import numpy as np

    frame = customer_features(store, as_of)
    masks = {s.name: s.rule.mask(frame).to_numpy(dtype=bool) for s in segments}
    for segment in segments:
        if not masks[segment.name].any() and not segment.rule.never_matches():
            findings.append(
                Finding("warning", segment.name, "matches no customer on the current data")
            )
    names = [s.name for s in segments]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = int((masks[a] & masks[b]).sum())
            if both:
                findings.append(
                    Finding(
                        "warning",
                        f"{a}, {b}",
                        f"overlap: {both} customers match both; they go to {a!r} "
                        "(the first in the file)",
                    )
                )
    covered = np.zeros(len(frame), dtype=bool)
    for mask in masks.values():
        covered |= mask
    uncovered = int((~covered).sum())
    if uncovered:
        findings.append(
            Finding(
                "info",
                NO_SEGMENT,
                f"{uncovered} of {len(frame)} customers are in no custom segment",
            )
        )
    return findings


def rfm_grid_cells() -> dict[tuple[int, int, int], list[str]]:
    """Every (R, F, M) cell and the segments it belongs to (exactly one each)."""
    cells: dict[tuple[int, int, int], list[str]] = {}
    for r in range(1, 6):
        for f in range(1, 6):
            for m in range(1, 6):
                cells[(r, f, m)] = [rfm_segment(r, f, m)]
    return cells


def _check_rfm() -> list[Finding]:
    cells = rfm_grid_cells()
    findings = []
    uncovered = [c for c, names in cells.items() if len(names) != 1]
    for cell in uncovered:
        findings.append(Finding("warning", "rfm", f"cell {cell} is not in exactly one segment"))
    per: dict[str, int] = {}
    for names in cells.values():
        for name in names:
            per[name] = per.get(name, 0) + 1
    for name in RFM_SEGMENTS:
        if name not in per:
            findings.append(Finding("warning", name, "no (R, F, M) cell leads to this segment"))
        else:
            findings.append(Finding("info", name, f"{per[name]} of 125 (R, F, M) cells"))
    if not uncovered:
        findings.insert(
            0, Finding("info", "rfm", "all 125 (R, F, M) cells belong to exactly one segment")
        )
    return findings
