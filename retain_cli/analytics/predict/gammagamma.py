"""Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"): the value of
a purchase.

z ~ Gamma(p, nu), nu ~ Gamma(q, v), independent of the purchase process. :func:`fit_gamma_gamma`
maximises the likelihood of the repeat customers' mean spend (see
:mod:`retain_cli.analytics.predict.likelihood`); :func:`gamma_gamma_expected_value` predicts
the value of a customer's next purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from retain_cli.analytics.predict.likelihood import (
    FitError,
    FitOutcome,
    extremes,
    maximize_likelihood,
    warm_start_sample,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, frequency: Array, monetary_value: Array
) -> Array:
    """Each repeat customer's log-density of their mean spend (Fader & Hardie 2013, eq. 3)."""
    import numpy as np
    from scipy.special import gammaln

    p, q, v = params.p, params.q, params.v
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v),
        dtype=np.float64,
    )


@dataclass
class _GammaGammaData:
    """Repeat customers' x and mean spend m, with the sums the likelihood needs precomputed."""

    n: float
    ux: Array  # distinct x, their counts, and log x
    ux_counts: Array
    log_ux: Array
    x: Array
    xm: Array  # x * m per customer
    sum_x_log_m: float
    sum_log_m: float

    @classmethod
    def of(cls, x: Array, m: Array) -> _GammaGammaData:
        import numpy as np

        ux, counts = np.unique(x, return_counts=True)
        log_m = np.log(m)
        return cls(
            n=float(len(x)),
            ux=ux,
            ux_counts=counts.astype(np.float64),
            log_ux=np.log(ux),
            x=x,
            xm=x * m,
            sum_x_log_m=float(np.sum(x * log_m)),
            sum_log_m=float(np.sum(log_m)),
        )


def _gamma_gamma_objective(theta: Array, data: _GammaGammaData) -> tuple[float, Array]:
    """Mean negative log-likelihood and gradient (log parameters) of Fader & Hardie (2013)
    eq. 3: lnG(px+q) - lnG(px) - lnG(q) + q ln v + (px-1) ln m + px ln x - (px+q) ln(xm+v).
    """
    import numpy as np
    from scipy.special import digamma, gammaln

    p, q, v = np.exp(theta)
    n, ux, w = data.n, data.ux, data.ux_counts
    pux = p * ux
    dig = digamma(pux + q)
    xmv = data.xm + v
    log_xmv = np.log(xmv)
    sum_log_xmv = np.sum(log_xmv)
    sum_x_log_xmv = np.sum(data.x * log_xmv)
    inv = 1.0 / xmv
    ll = (
        np.sum(w * (gammaln(pux + q) - gammaln(pux) + pux * data.log_ux))
        + n * (q * np.log(v) - gammaln(q))
        + p * data.sum_x_log_m
        - data.sum_log_m
        - p * sum_x_log_xmv
        - q * sum_log_xmv
    )
    d_p = np.sum(w * ux * (dig - digamma(pux) + data.log_ux)) + data.sum_x_log_m - sum_x_log_xmv
    d_q = np.sum(w * dig) - n * digamma(q) + n * np.log(v) - sum_log_xmv
    d_v = n * q / v - p * np.sum(data.x * inv) - q * np.sum(inv)
    return -float(ll) / n, -np.array([d_p * p, d_q * q, d_v * v]) / n


def fit_gamma_gamma(frequency: Array, monetary_value: Array) -> FitOutcome:
    """Maximum-likelihood Gamma-Gamma parameters on customers with x > 0 and spend > 0."""
    import numpy as np

    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if len(x) == 0:
        raise FitError("Gamma-Gamma needs at least one repeat customer with a positive spend")
    # fitted on spend in units of its mean (a dollar and a dong fit alike); v scales back, and
    # the log-likelihood of the spend itself is that of the scaled spend - n ln(unit)
    unit = float(m.mean())
    m = m / unit
    start = np.log([1.0, 2.0, 1.0])
    sample = warm_start_sample(len(x))
    part = _GammaGammaData.of(x[sample], m[sample]) if sample is not None else None
    theta, ll, problems = maximize_likelihood(
        _gamma_gamma_objective, start, _GammaGammaData.of(x, m), part
    )
    problems += extremes(theta, shape=[True, True, False])
    ll -= len(x) * np.log(unit)
    p, q, v = (float(val) for val in np.exp(theta))
    v *= unit
    if q <= 1.0:
        problems.append(f"q = {q:.3g} <= 1, so the average spend has no finite mean")
    return FitOutcome(GammaGammaParams(p, q, v), ll, problems)


def gamma_gamma_expected_value(
    params: GammaGammaParams, frequency: Array, monetary_value: Array
) -> Array:
    """E[average purchase value | x, mean spend] (Fader & Hardie 2013, eq. 5).

    A weighted mean of the population mean p*v/(q-1) and the customer's own mean; for a
    customer with no repeat purchase it is the population mean.
    """
    import numpy as np

    p, q, v = params.p, params.q, params.v
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    return np.asarray(p * (v + x * m) / (p * x + q - 1.0), dtype=np.float64)
