"""Predicted purchases, churn risk and lifetime value: BG/NBD and Gamma-Gamma.

The models
- BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") for the number
  of repeat purchases: while alive a customer buys at rate lambda ~ Gamma(r, alpha); after each
  purchase they drop out with probability p ~ Beta(a, b).
- Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value") for the value
  of a purchase: z ~ Gamma(p, nu), nu ~ Gamma(q, v), independent of the purchase process.

Both are fitted by maximum likelihood with scipy.optimize on log parameters (L-BFGS-B; for
many customers, BFGS from the optimum of a sample, see
:func:`~retain_cli.analytics.predict.likelihood.maximize_likelihood`), with analytic gradients
and log-likelihoods written with gammaln/betaln/logaddexp so that they stay finite. A fit that
does not converge or ends at a bound is reported, never used silently.

The modules
- ``summary``: the per-customer frequency/recency/T/monetary_value table, from the packed
  orders or the store (purchase days, not orders);
- ``likelihood``: the maximum-likelihood fitting both models share (FitError, FitOutcome);
- ``bgnbd`` and ``gammagamma``: each model's likelihood, fit and predictions;
- ``rules``: the transparent fallback and the churn-risk bands;
- ``models``: both fits on one summary, whether to trust them, the predictions made;
- ``entry``: :func:`predict` and :func:`fit`, which the CLI calls;
- ``check``: :func:`check`, the calibration/holdout comparison.

Everything but the entry points is pure: arrays in, arrays out. numpy and scipy are imported
inside the functions that use them, so importing this package stays cheap.
"""

from __future__ import annotations

from retain_cli.analytics.predict.bgnbd import (
    BgNbdParams,
    bgnbd_expected_orders,
    bgnbd_log_likelihood,
    bgnbd_p_alive,
    fit_bgnbd,
)
from retain_cli.analytics.predict.check import (
    CHECK_BUCKET_COLUMNS,
    CheckResult,
    check,
    holdout_comparison,
)
from retain_cli.analytics.predict.entry import PREDICT_COLUMNS, PredictResult, fit, predict
from retain_cli.analytics.predict.gammagamma import (
    GammaGammaParams,
    fit_gamma_gamma,
    gamma_gamma_expected_value,
    gamma_gamma_log_likelihood,
)
from retain_cli.analytics.predict.likelihood import FitError, FitOutcome
from retain_cli.analytics.predict.models import (
    MIN_REPEAT_CUSTOMERS,
    ModelFit,
    fit_models,
    make_predictions,
    model_predictions,
)
from retain_cli.analytics.predict.rules import (
    Predictions,
    risk_bands,
    rules_alive_score,
    rules_predictions,
)
from retain_cli.analytics.predict.summary import (
    Summary,
    day_number,
    load_orders,
    load_summary,
    preload_scipy,
    purchase_days,
    summary_from_orders,
)

__all__ = [
    "CHECK_BUCKET_COLUMNS",
    "MIN_REPEAT_CUSTOMERS",
    "PREDICT_COLUMNS",
    "BgNbdParams",
    "CheckResult",
    "FitError",
    "FitOutcome",
    "GammaGammaParams",
    "ModelFit",
    "PredictResult",
    "Predictions",
    "Summary",
    "bgnbd_expected_orders",
    "bgnbd_log_likelihood",
    "bgnbd_p_alive",
    "check",
    "day_number",
    "fit",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_models",
    "gamma_gamma_expected_value",
    "gamma_gamma_log_likelihood",
    "holdout_comparison",
    "load_orders",
    "load_summary",
    "make_predictions",
    "model_predictions",
    "predict",
    "preload_scipy",
    "purchase_days",
    "risk_bands",
    "rules_alive_score",
    "rules_predictions",
    "summary_from_orders",
]
