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
from retain_cli.analytics.predict.rules import RISK_LOW, RISK_MEDIUM, risk_bands
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


#: ``--sort`` columns: numbers go highest first, except p_alive (lowest, the likeliest to
#: have left, first); text goes A to Z
SORT_COLUMNS = (
    "predicted_clv",
    "expected_orders",
    "p_alive",
    "churn_risk",
    "monetary_value",
    "frequency",
    "recency",
    "T",
    "customer_id",
    "email",
)
RISKS = ("high", "medium", "low")


def predict(
    store: Store,
    *,
    as_of: str | None = None,
    horizon_days: float = 90.0,
    time_unit: str = "day",
    limit: int | None = None,
    sort: str = "predicted_clv",
    risk: str | None = None,
) -> PredictResult:
    """One record per customer (:data:`PREDICT_COLUMNS`), sorted by ``sort`` (see
    :data:`SORT_COLUMNS`; ties go to the higher predicted_clv, then the higher p_alive),
    only those in churn-risk band ``risk`` when given, at most ``limit``."""
    import numpy as np

    _check_horizon(horizon_days)
    if sort not in SORT_COLUMNS:
        raise UsageError(f"--sort {sort!r} is not one of {', '.join(SORT_COLUMNS)}")
    if risk is not None and risk not in RISKS:
        raise UsageError(f"--risk {risk!r} is not one of {', '.join(RISKS)}")
    summary = load_summary(store, parse_as_of(as_of), time_unit)
    require_customers(summary)
    model = fit_models(summary)
    predictions = make_predictions(summary, model, horizon_days)
    clv = predictions.predicted_clv
    # the band of the p_alive shown (4 decimals), so that 0.69996 shown as 0.7 is low risk
    p_alive = np.round(predictions.p_alive, 4)
    bands = np.asarray(risk_bands(p_alive), dtype=object)
    keys = [summary.customer_ref, -p_alive, -clv]  # the last is the first key (lexsort)
    primary = {
        "predicted_clv": -clv,
        "expected_orders": -predictions.expected_orders,
        "p_alive": p_alive,
        "churn_risk": (p_alive >= RISK_MEDIUM).astype(np.int64) + (p_alive >= RISK_LOW),
        "monetary_value": -summary.monetary_value,
        "frequency": -summary.frequency,
        "recency": -summary.recency,
        "T": -summary.T,
        "customer_id": _text_rank(summary.customer_id),
        "email": _text_rank(summary.email),
    }[sort]
    order = np.lexsort((*keys, primary))
    if risk is not None:
        order = order[bands[order] == risk]
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
        "p_alive": p_alive[order],
        "expected_orders": np.round(predictions.expected_orders[order], 4),
        "predicted_clv": np.round(clv[order], 2),
    }
    columns["customer_id"] = summary.customer_id[order]
    columns["email"] = summary.email[order]
    columns["churn_risk"] = bands[order]
    columns["method"] = np.asarray(predictions.methods(), dtype=object)[order]
    return PredictResult(columns, predictions.method, predictions.notices, model)


def _text_rank(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A sort key for text (None last): the rank of each value, A to Z."""
    import numpy as np

    texts = np.array(["\uffff" if v is None else str(v).lower() for v in values], dtype=object)
    return np.unique(texts, return_inverse=True)[1].reshape(-1)


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
