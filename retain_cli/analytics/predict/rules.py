"""The transparent fallback when the models are not trusted: each customer's own history.

Also the churn-risk bands (:func:`risk_bands`) every prediction is labelled with, and the
:class:`Predictions` both the rules and the models return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from retain_cli.analytics.predict.summary import Summary, unit_days

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]


#: churn-risk bands from p_alive: low >= 0.7 > medium >= 0.3 > high
RISK_LOW = 0.7
RISK_MEDIUM = 0.3
#: usual gap assumed when nobody in the shop has ordered twice yet (rules only)
DEFAULT_GAP_DAYS = 365.0


@dataclass
class Predictions:
    """Per-customer predictions in the summary's order, and how they were made."""

    p_alive: Array
    expected_orders: Array
    expected_value: Array
    churn_risk: list[str]
    method: str
    notices: list[str]
    #: per customer, where it differs from ``method`` (a one-time buyer's p_alive by rules)
    row_methods: list[str] | None = None

    def methods(self) -> list[str]:
        """How each customer's row was made: ``method``, or its own where it differs."""
        return self.row_methods if self.row_methods is not None else [self.method] * len(self)

    def __len__(self) -> int:
        return len(self.p_alive)

    @property
    def predicted_clv(self) -> Array:
        return self.expected_orders * self.expected_value


def rules_alive_score(summary: Summary) -> Array:
    """A p_alive-like score from how overdue a customer is against their usual gap.

    usual gap = recency / frequency (their mean days between purchase days), or the shop's
    median of those for customers who never repeated; score = min(1, gap / days since last
    order). At twice the usual gap the score is 0.5, at four times 0.25.
    """
    import numpy as np

    unit = unit_days(summary.time_unit)
    x = summary.frequency
    recency_days = summary.recency * unit
    since = summary.T * unit - recency_days
    repeat = x > 0
    gaps = recency_days[repeat] / x[repeat]
    shop_gap = float(np.median(gaps)) if len(gaps) else DEFAULT_GAP_DAYS
    shop_gap = max(shop_gap, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(repeat, recency_days / np.where(repeat, x, 1.0), shop_gap)
        score = np.where(since > gap, gap / since, 1.0)
    return np.asarray(np.clip(score, 0.0, 1.0), dtype=np.float64)


def rules_predictions(summary: Summary, horizon_days: float) -> Predictions:
    """The transparent fallback: no model, only each customer's own history.

    - p_alive: :func:`rules_alive_score`;
    - expected_orders: their repeat purchases per day, over a history counted as at least
      the horizon long, times the horizon, times the score;
    - value of an order: their own mean repeat purchase (0 for one-time buyers, so their
      predicted value is 0: the rules do not guess).
    """
    import numpy as np

    unit = unit_days(summary.time_unit)
    score = rules_alive_score(summary)
    history = np.maximum(summary.T * unit, horizon_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(history > 0, summary.frequency / history, 0.0)
    expected = rate * horizon_days * score
    return Predictions(
        p_alive=score,
        expected_orders=np.asarray(expected, dtype=np.float64),
        expected_value=summary.monetary_value.copy(),
        churn_risk=risk_bands(score),
        method="rules",
        notices=[],
    )


def risk_bands(score: Array) -> list[str]:
    """low (>= 0.7), medium (>= 0.3) or high churn risk."""
    import numpy as np

    labels = np.array(["high", "medium", "low"], dtype=object)
    band = (score >= RISK_MEDIUM).astype(np.intp) + (score >= RISK_LOW)
    return list(labels[band].tolist())
