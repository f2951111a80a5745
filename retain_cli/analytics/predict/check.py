"""``retain predict check``: fit on a calibration period, predict a holdout, compare.

The comparison is by calibration repeat purchases (0..7+), against the rules as a baseline
(:func:`holdout_comparison`, pure); :func:`check` reads both periods from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.analytics.predict.models import fit_models, make_predictions
from retain_cli.analytics.predict.rules import rules_predictions
from retain_cli.analytics.predict.summary import (
    load_orders,
    load_summary,
    purchase_days,
    require_customers,
)
from retain_cli.errors import RetainError, UsageError
from retain_cli.timeutil import parse_as_of

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from retain_cli.store import Store

    Array = npt.NDArray[np.float64]


@dataclass
class CheckResult:
    """Calibration fit, predicted vs actual purchases in the holdout, by frequency bucket."""

    totals: dict[str, Any]
    buckets: list[dict[str, Any]]
    method: str
    notices: list[str]


CHECK_BUCKET_COLUMNS = ["frequency", "customers", "predicted", "actual", "rules"]


def holdout_comparison(
    calibration_frequency: Array,
    predicted: Array,
    actual: Array,
    rules: Array,
    *,
    top_bucket: int = 7,
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Mean predicted vs actual holdout purchases by calibration repeat purchases 0..7+.

    Returns the bucket rows (the last one, "all", over everyone) and error figures: the mean
    absolute error and the root mean squared error of the per-customer predictions, for the
    predictions made and for the rules (a baseline).
    """
    import numpy as np

    x = np.minimum(np.asarray(calibration_frequency, dtype=np.int64), top_bucket)
    rows: list[dict[str, Any]] = []
    for bucket in range(top_bucket + 1):
        mask = x == bucket
        count = int(mask.sum())
        rows.append(
            {
                "frequency": f"{bucket}+" if bucket == top_bucket else str(bucket),
                "customers": count,
                "predicted": round(float(predicted[mask].mean()), 3) if count else None,
                "actual": round(float(actual[mask].mean()), 3) if count else None,
                "rules": round(float(rules[mask].mean()), 3) if count else None,
            }
        )
    rows.append(
        {
            "frequency": "all",
            "customers": len(x),
            "predicted": round(float(predicted.mean()), 3),
            "actual": round(float(actual.mean()), 3),
            "rules": round(float(rules.mean()), 3),
        }
    )
    errors = {
        "mae": float(np.abs(predicted - actual).mean()),
        "mae_rules": float(np.abs(rules - actual).mean()),
        "rmse": float(np.sqrt(np.square(predicted - actual).mean())),
        "rmse_rules": float(np.sqrt(np.square(rules - actual).mean())),
    }
    return rows, errors


def check(
    store: Store,
    *,
    holdout_from: str,
    holdout_to: str | None = None,
    time_unit: str = "day",
) -> CheckResult:
    """Fit on the orders before ``holdout_from``, predict the holdout, compare with what happened.

    Calibration: orders up to the end of the day before ``holdout_from``. Holdout: purchase
    days from ``holdout_from`` to ``holdout_to`` (default: the last order day), inclusive,
    counted for the customers known in the calibration period.
    """
    import numpy as np

    start = _parse_day(holdout_from, "--holdout-from")
    end_text = holdout_to if holdout_to is not None else store.predict_last_order_day()
    if end_text is None:
        raise RetainError("no orders in the database; import orders first")
    end = _parse_day(end_text, "--holdout-to")
    if end < start:
        raise UsageError(
            f"the holdout ends ({end.isoformat()}) before it starts ({start.isoformat()}); "
            "pass a later --holdout-to"
        )
    calibration_end = start - timedelta(days=1)
    summary = load_summary(store, parse_as_of(calibration_end.isoformat()), time_unit)
    require_customers(summary)
    horizon_days = float((end - calibration_end).days)
    model = fit_models(summary)
    predictions = make_predictions(summary, model, horizon_days)
    rules = rules_predictions(summary, horizon_days)
    holdout = purchase_days(
        *load_orders(
            store,
            parse_as_of(end.isoformat()),
            datetime.combine(start, datetime.min.time(), tzinfo=UTC),
        )
    )
    actual = np.zeros(len(summary), dtype=np.float64)
    refs = holdout.customer_ref[holdout.starts]
    where = np.searchsorted(summary.customer_ref, refs)
    known = (where < len(summary)) & (
        summary.customer_ref[np.minimum(where, len(summary) - 1)] == refs
    )
    actual[where[known]] = holdout.counts[known]
    buckets, errors = holdout_comparison(
        summary.frequency, predictions.expected_orders, actual, rules.expected_orders
    )
    predicted_total = float(predictions.expected_orders.sum())
    actual_total = float(actual.sum())
    totals = {
        "calibration_end": calibration_end.isoformat(),
        "holdout_from": start.isoformat(),
        "holdout_to": end.isoformat(),
        "holdout_days": int(horizon_days),
        "customers": len(summary),
        "repeat_customers": summary.repeat_customers,
        "method": predictions.method,
        "predicted_orders": round(predicted_total, 1),
        "actual_orders": int(actual_total),
        "predicted_vs_actual": round(predicted_total / actual_total, 3) if actual_total else None,
        "mae": round(errors["mae"], 4),
        "mae_rules": round(errors["mae_rules"], 4),
        "rmse": round(errors["rmse"], 4),
        "rmse_rules": round(errors["rmse_rules"], 4),
    }
    return CheckResult(totals, buckets, predictions.method, predictions.notices)


def _parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None
