"""``retain predict`` and ``retain predict fit``: the orchestration the CLI calls.

:func:`predict` reads the summary from the store, fits both models, predicts (or falls back
to the rules) and returns the per-customer table (:data:`PREDICT_COLUMNS`), best first;
:func:`fit` stops after the fit. ``retain predict check`` is in
:mod:`retain_cli.analytics.predict.check`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retain_cli.analytics.predict.models import ModelFit, fit_models, make_predictions
from retain_cli.analytics.predict.summary import load_summary, require_customers
from retain_cli.errors import UsageError
from retain_cli.timeutil import parse_as_of

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from retain_cli.store import Store

    Array = npt.NDArray[np.float64]


PREDICT_COLUMNS = [
    "customer_id",
    "email",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_orders",
    "predicted_clv",
    "churn_risk",
    "method",
]


@dataclass
class PredictResult:
    """The per-customer predictions as columns (:data:`PREDICT_COLUMNS`), best first: numpy
    arrays (int64, float64 already rounded for output, or object for text)."""

    columns: dict[str, npt.NDArray[Any]]
    method: str
    notices: list[str]
    fit: ModelFit

    def __len__(self) -> int:
        return len(self.columns["customer_id"])

    def tuples(self) -> Iterator[tuple[Any, ...]]:
        """One tuple per customer in :data:`PREDICT_COLUMNS` order (cheap for CSV)."""
        return zip(*(self.columns[name].tolist() for name in PREDICT_COLUMNS), strict=True)

    def records(self) -> list[dict[str, Any]]:
        """One dict per customer."""
        return [dict(zip(PREDICT_COLUMNS, values, strict=True)) for values in self.tuples()]


def _check_horizon(horizon_days: float) -> None:
    if not horizon_days > 0:
        raise UsageError(f"--horizon must be a positive number of days, not {horizon_days:g}")


def predict(
    store: Store,
    *,
    as_of: str | None = None,
    horizon_days: float = 90.0,
    time_unit: str = "day",
    limit: int | None = None,
) -> PredictResult:
    """One record per customer (:data:`PREDICT_COLUMNS`), sorted by predicted_clv, highest first."""
    import numpy as np

    _check_horizon(horizon_days)
    summary = load_summary(store, parse_as_of(as_of), time_unit)
    require_customers(summary)
    model = fit_models(summary)
    predictions = make_predictions(summary, model, horizon_days)
    clv = predictions.predicted_clv
    order = np.lexsort((summary.customer_ref, -predictions.p_alive, -clv))
    if limit is not None:
        if limit < 0:
            raise UsageError(f"--limit must be 0 or more, not {limit}")
        order = order[:limit]
    digits = 0 if time_unit == "day" else 2
    columns: dict[str, npt.NDArray[Any]] = {
        "frequency": summary.frequency[order].astype(np.int64),
        "recency": _rounded(summary.recency[order], digits),
        "T": _rounded(summary.T[order], digits),
        "monetary_value": np.round(summary.monetary_value[order], 2),
        "p_alive": np.round(predictions.p_alive[order], 4),
        "expected_orders": np.round(predictions.expected_orders[order], 4),
        "predicted_clv": np.round(clv[order], 2),
    }
    columns["customer_id"] = summary.customer_id[order]
    columns["email"] = summary.email[order]
    columns["churn_risk"] = np.asarray(predictions.churn_risk, dtype=object)[order]
    columns["method"] = np.full(len(order), predictions.method, dtype=object)
    return PredictResult(columns, predictions.method, predictions.notices, model)


def _rounded(values: Array, digits: int) -> npt.NDArray[Any]:
    """Rounded for output: whole numbers (days) as int64, others as float64."""
    import numpy as np

    if digits == 0:
        return np.round(values).astype(np.int64)
    return np.round(values, digits)


def fit(store: Store, *, as_of: str | None = None, time_unit: str = "day") -> ModelFit:
    """Fit both models on the orders up to ``as_of``; see :meth:`ModelFit.as_dict`."""
    summary = load_summary(store, parse_as_of(as_of), time_unit)
    require_customers(summary)
    return fit_models(summary)
