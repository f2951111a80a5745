"""Both models fitted on one summary, whether to trust them, and the predictions they make.

When there is too little data for a fit to be trusted (fewer than ``MIN_REPEAT_CUSTOMERS``
repeat customers, an optimizer that does not converge, parameters at their bounds),
:func:`make_predictions` falls back to the transparent rules
(:func:`~retain_cli.analytics.predict.rules.rules_predictions`) and the result says so
(``method = "rules"`` and a notice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from retain_cli.analytics.predict.bgnbd import (
    BgNbdParams,
    bgnbd_expected_orders,
    bgnbd_p_alive,
    fit_bgnbd,
)
from retain_cli.analytics.predict.gammagamma import fit_gamma_gamma, gamma_gamma_expected_value
from retain_cli.analytics.predict.likelihood import FitError, FitOutcome
from retain_cli.analytics.predict.rules import (
    Predictions,
    risk_bands,
    rules_alive_score,
    rules_predictions,
)
from retain_cli.analytics.predict.summary import Summary, unit_days

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]


#: fewer repeat customers than this and the models are not trusted (rules are used)
MIN_REPEAT_CUSTOMERS = 30


@dataclass
class ModelFit:
    """Both models fitted on one summary, with the reasons (if any) not to trust them."""

    customers: int
    repeat_customers: int
    time_unit: str
    as_of: date
    bgnbd: FitOutcome | None
    gamma_gamma: FitOutcome | None
    problems: list[str]
    gamma_gamma_problems: list[str]

    @property
    def trusted(self) -> bool:
        return self.bgnbd is not None and not self.problems

    @property
    def method(self) -> str:
        return "model" if self.trusted else "rules"

    def as_dict(self) -> dict[str, Any]:
        """The ``predict fit`` record (rounded for reading; full precision is not meaningful)."""
        bg = self.bgnbd.params if self.bgnbd else None
        gg = self.gamma_gamma.params if self.gamma_gamma else None
        return {
            "bgnbd": None
            if bg is None
            else {
                "r": round(bg.r, 4),
                "alpha": round(bg.alpha, 4),
                "a": round(bg.a, 4),
                "b": round(bg.b, 4),
            },
            "gamma_gamma": None
            if gg is None
            else {"p": round(gg.p, 4), "q": round(gg.q, 4), "v": round(gg.v, 4)},
            "customers": self.customers,
            "repeat_customers": self.repeat_customers,
            "time_unit": self.time_unit,
            "as_of": self.as_of.isoformat(),
            "log_likelihood": None if self.bgnbd is None else round(self.bgnbd.log_likelihood, 2),
            "gamma_gamma_log_likelihood": None
            if self.gamma_gamma is None
            else round(self.gamma_gamma.log_likelihood, 2),
            "method": self.method,
            "problems": self.problems + self.gamma_gamma_problems,
        }


def fit_models(summary: Summary) -> ModelFit:
    """Fit BG/NBD and Gamma-Gamma to a summary; never raises for data that is merely thin.

    The two fits are independent and run side by side (numpy and scipy's special functions
    work without holding Python's GIL).
    """
    from concurrent.futures import ThreadPoolExecutor

    repeat = summary.repeat_customers
    problems: list[str] = []
    gg_problems: list[str] = []
    bgnbd: FitOutcome | None = None
    gamma_gamma: FitOutcome | None = None
    spenders = int(((summary.frequency > 0) & (summary.monetary_value > 0)).sum())
    with ThreadPoolExecutor(1) as pool:
        gg_fit = None
        if spenders >= MIN_REPEAT_CUSTOMERS:
            gg_fit = pool.submit(fit_gamma_gamma, summary.frequency, summary.monetary_value)
        if repeat < MIN_REPEAT_CUSTOMERS:
            problems.append(
                f"too little data for a trustworthy fit: {repeat} repeat customer"
                f"{'' if repeat == 1 else 's'} (customers who ordered on two or more days); "
                f"the models need at least {MIN_REPEAT_CUSTOMERS}"
            )
        else:
            bgnbd = fit_bgnbd(summary.frequency, summary.recency, summary.T)
            problems.extend(f"BG/NBD: {p}" for p in bgnbd.problems)
            if bgnbd.ok and abs(bgnbd.params.a - 1.0) < 1e-6:
                problems.append("BG/NBD: a = 1 exactly; expected orders are undefined there")
        if gg_fit is None:
            gg_problems.append(
                f"Gamma-Gamma: {spenders} repeat customer{'' if spenders == 1 else 's'} with a "
                f"positive spend; the model needs at least {MIN_REPEAT_CUSTOMERS}"
            )
        else:
            gamma_gamma = gg_fit.result()
            gg_problems.extend(f"Gamma-Gamma: {p}" for p in gamma_gamma.problems)
    return ModelFit(
        customers=len(summary),
        repeat_customers=repeat,
        time_unit=summary.time_unit,
        as_of=summary.as_of,
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        problems=problems,
        gamma_gamma_problems=gg_problems,
    )


def model_predictions(
    summary: Summary, model: ModelFit, horizon_days: float, rows: Any = None
) -> Predictions:
    """BG/NBD purchases and p_alive, Gamma-Gamma order value (or the customer's own mean).

    BG/NBD gives p_alive = 1 to anyone who never repeated (in the model people only drop out
    right after a purchase), which beside a long silence reads as nonsense; so one-time
    buyers get the rules score (days since their order against the shop's median gap) as
    their p_alive, and so their churn-risk band, and the method ``model+rules``: p_alive and
    churn_risk always agree.

    ``rows`` (indexes into the summary) predicts for those customers only; the shop's
    figures (median gap, mean order value) still come from the whole summary.
    """
    import numpy as np

    assert model.bgnbd is not None
    params: BgNbdParams = model.bgnbd.params
    t = horizon_days / unit_days(summary.time_unit)
    pick = slice(None) if rows is None else rows
    x, t_x, T = summary.frequency[pick], summary.recency[pick], summary.T[pick]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p_alive = bgnbd_p_alive(params, x, t_x, T)
        expected = bgnbd_expected_orders(params, t, x, t_x, T)
    if not (np.all(np.isfinite(expected)) and np.all(np.isfinite(p_alive))):
        raise FitError("BG/NBD predictions are not finite for these parameters")
    notices: list[str] = []
    if model.gamma_gamma is not None and not model.gamma_gamma_problems:
        value = gamma_gamma_expected_value(
            model.gamma_gamma.params, x, summary.monetary_value[pick]
        )
    else:
        value = _own_mean_value(summary)[pick]
        notices.append(
            "order values come from each customer's own average (the shop's for one-time "
            "buyers) instead of the spend model. " + "; ".join(model.gamma_gamma_problems)
        )
    one_time = x == 0
    score = np.where(one_time, rules_alive_score(summary)[pick], p_alive)
    return Predictions(
        p_alive=np.asarray(score, dtype=np.float64),
        expected_orders=np.maximum(expected, 0.0),
        expected_value=value,
        churn_risk=risk_bands(score),
        method="model",
        notices=notices,
        row_methods=np.where(one_time, "model+rules", "model").tolist(),
    )


def _own_mean_value(summary: Summary) -> Array:
    import numpy as np

    repeat = summary.frequency > 0
    shop = float(summary.monetary_value[repeat].mean()) if repeat.any() else 0.0
    return np.asarray(np.where(repeat, summary.monetary_value, shop), dtype=np.float64)


def make_predictions(
    summary: Summary, model: ModelFit, horizon_days: float, rows: Any = None
) -> Predictions:
    """Model predictions when the fit is trusted, else the rules, with the reason why.
    ``rows``: for those customers only (see :func:`model_predictions`; whether the model's
    predictions are finite is then judged on them alone)."""
    if model.trusted:
        try:
            return model_predictions(summary, model, horizon_days, rows)
        except FitError as exc:
            model.problems.append(str(exc))
    predictions = rules_predictions(summary, horizon_days)
    if rows is not None:
        import numpy as np

        predictions.p_alive = predictions.p_alive[rows]
        predictions.expected_orders = predictions.expected_orders[rows]
        predictions.expected_value = predictions.expected_value[rows]
        predictions.churn_risk = list(np.asarray(predictions.churn_risk, dtype=object)[rows])
        if predictions.row_methods is not None:
            predictions.row_methods = [predictions.row_methods[i] for i in rows]
    predictions.notices.append(
        "; ".join(model.problems)
        + ". Using transparent rules instead of the model: p_alive = usual gap / days since "
        "the last order (capped at 1), expected orders from the customer's own past rate."
    )
    return predictions
