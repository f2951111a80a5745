"""NPS and CSAT from survey answers: the score, how many answered, the distribution, how sure
the score is, and the trend by month. Pure functions over lists of answers.

- **NPS** (Net Promoter Score, answers 0-10 to "how likely are you to recommend us?"): the
  share of promoters (9-10) minus the share of detractors (0-6), in points from -100 to 100.
- **CSAT** (answers 1-5 to "how satisfied were you?"): the share of satisfied answers (4-5),
  in percent.

The margin is the half-width of a 95% interval (normal approximation: 1.96 standard errors;
for NPS the variance of the difference of two shares of one sample). Fewer than
:data:`SMALL_SAMPLE` answers get a warning: the score can move a lot with a few answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SMALL_SAMPLE = 30
Z95 = 1.96
SCALES = {"nps": range(0, 11), "csat": range(1, 6)}
NAMES = {"nps": "NPS", "csat": "CSAT"}


@dataclass
class Score:
    """One kind's score over some answers."""

    kind: str
    n: int
    score: float | None  # NPS points -100..100, or CSAT percent 0..100
    margin: float | None  # half-width of the 95% interval, same unit
    mean: float | None
    distribution: dict[int, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)  # promoters/passives/detractors ...

    @property
    def warning(self) -> str | None:
        if self.n == 0:
            return "no answers yet"
        if self.n < SMALL_SAMPLE:
            return (
                f"only {self.n} answer{'s' if self.n != 1 else ''}: fewer than {SMALL_SAMPLE}, "
                "the score can move a lot with a few more; read it as a hint"
            )
        return None

    def text(self) -> str:
        """``NPS 42 ±12 (n=57)``, ``CSAT 80% ±9 (n=40)``, ``NPS: no answers yet``."""
        if self.score is None:
            return f"{NAMES[self.kind]}: no answers yet"
        unit = "%" if self.kind == "csat" else ""
        margin = f" ±{self.margin:.0f}" if self.margin is not None else ""
        return f"{NAMES[self.kind]} {self.score:.0f}{unit}{margin} (n={self.n})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n": self.n,
            "score": self.score,
            "margin_95": self.margin,
            "mean": self.mean,
            "distribution": {str(k): v for k, v in self.distribution.items()},
            **self.groups,
            "warning": self.warning,
        }


def group_of(kind: str, score: int) -> str:
    """promoter / passive / detractor (NPS) or satisfied / neutral / unsatisfied (CSAT)."""
    if kind == "nps":
        return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
    return "satisfied" if score >= 4 else "neutral" if score == 3 else "unsatisfied"


def score(kind: str, scores: Sequence[int]) -> Score:
    """The score of ``kind`` (nps or csat) over these answers."""
    scale = SCALES[kind]
    distribution = dict.fromkeys(scale, 0)
    for answer in scores:
        if answer in distribution:
            distribution[answer] += 1
    n = sum(distribution.values())
    names = (
        ("promoters", "passives", "detractors")
        if kind == "nps"
        else ("satisfied", "neutral", "unsatisfied")
    )
    counts = dict.fromkeys(names, 0)
    for answer, count in distribution.items():
        group = group_of(kind, answer)
        key = {"promoter": "promoters", "passive": "passives", "detractor": "detractors"}.get(
            group, group
        )
        counts[key] += count
    if n == 0:
        return Score(kind, 0, None, None, None, distribution, counts)
    mean = round(sum(v * c for v, c in distribution.items()) / n, 2)
    if kind == "nps":
        pro, det = counts["promoters"] / n, counts["detractors"] / n
        value = 100 * (pro - det)
        variance: float = pro * (1 - pro) + det * (1 - det) + 2 * pro * det
    else:
        share = counts["satisfied"] / n
        value = 100 * share
        variance = share * (1 - share)
    margin = 100 * Z95 * math.sqrt(variance / n)
    return Score(kind, n, round(value, 1), round(margin, 1), mean, distribution, counts)


def by_month(kind: str, answers: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
    """(month ``YYYY-MM``, score) pairs -> one row per month with an answer: month, n,
    score, margin."""
    months: dict[str, list[int]] = {}
    for month, value in answers:
        months.setdefault(month, []).append(value)
    rows = []
    for month in sorted(months):
        result = score(kind, months[month])
        rows.append(
            {"month": month, "n": result.n, "score": result.score, "margin_95": result.margin}
        )
    return rows
