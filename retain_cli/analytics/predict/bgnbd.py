"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): the number of
repeat purchases.

While alive a customer buys at rate lambda ~ Gamma(r, alpha); after each purchase they drop
out with probability p ~ Beta(a, b). The log-likelihood is written with gammaln/betaln/
logaddexp so that it stays finite; :func:`fit_bgnbd` maximises it (see
:mod:`retain_cli.analytics.predict.likelihood`), :func:`bgnbd_p_alive` and
:func:`bgnbd_expected_orders` predict from the fitted parameters.
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
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


def bgnbd_log_likelihood(params: BgNbdParams, frequency: Array, recency: Array, T: Array) -> Array:
    """Each customer's BG/NBD log-likelihood (FHL 2005, eq. 6), computed in logs."""
    import numpy as np
    from scipy.special import betaln, gammaln

    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = frequency
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = _bgnbd_a4(params, x, recency)
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=np.float64)


def _bgnbd_a4(params: BgNbdParams, x: Array, recency: Array) -> Array:
    """log of the 'dropped out after the last purchase' term; -inf when x == 0."""
    import numpy as np

    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = (
            np.log(a)
            - np.log(np.where(repeat, b + x - 1.0, 1.0))
            - (r + x) * np.log(alpha + recency)
        )
    return np.where(repeat, a4, -np.inf)


@dataclass
class _BgNbdData:
    """The fit's data, split and pre-reduced once so that each evaluation is cheap.

    Terms that depend on x alone are evaluated once per distinct x (weights = counts); the
    customers who never repeated need only -r*log(alpha+T).
    """

    n: float
    ux: Array  # distinct frequencies and how many customers have each
    ux_counts: Array
    T0: Array  # T of the customers with x == 0
    x: Array  # x, t_x, T of the repeat customers
    recency: Array
    T: Array
    x_index: npt.NDArray[np.intp]  # each repeat customer's x as an index into ux

    @classmethod
    def of(cls, frequency: Array, recency: Array, T: Array) -> _BgNbdData:
        import numpy as np

        x = np.asarray(frequency, dtype=np.float64)
        ux, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
        repeat = x > 0
        return cls(
            n=float(len(x)),
            ux=ux,
            ux_counts=counts.astype(np.float64),
            T0=np.asarray(T, dtype=np.float64)[~repeat],
            x=x[repeat],
            recency=np.asarray(recency, dtype=np.float64)[repeat],
            T=np.asarray(T, dtype=np.float64)[repeat],
            x_index=inverse.reshape(-1)[repeat],
        )


def _bgnbd_objective(theta: Array, data: _BgNbdData) -> tuple[float, Array]:
    """Mean negative log-likelihood and its gradient in log parameters.

    Per customer, LL = A1 + A2 + log(exp(A3) + exp(A4)) with A1 = lnG(r+x) - lnG(r) +
    r ln(alpha), A2 = lnB(a, b+x) - lnB(a, b), A3 = -(r+x) ln(alpha+T), A4 = ln(a) -
    ln(b+x-1) - (r+x) ln(alpha+t_x) (x > 0 only). With d = A4 - A3, the last term is
    A3 + softplus(d) and its weights are w4 = expit(d), w3 = 1 - w4.
    """
    import numpy as np
    from scipy.special import betaln, digamma, expit, gammaln

    r, alpha, a, b = np.exp(theta)
    n, ux, w = data.n, data.ux, data.ux_counts
    x, t_x, T = data.x, data.recency, data.T

    # terms of x alone, once per distinct x
    ll = np.sum(w * (gammaln(r + ux) - gammaln(r) + betaln(a, b + ux) - betaln(a, b)))
    ll += n * r * np.log(alpha)
    dig_ab = digamma(a + b)
    dig_abx = digamma(a + b + ux)
    d_r = np.sum(w * (digamma(r + ux) - digamma(r))) + n * np.log(alpha)
    d_alpha = n * r / alpha
    d_a = np.sum(w * (dig_ab - dig_abx))
    d_b = np.sum(w * (dig_ab + digamma(b + ux) - digamma(b) - dig_abx))

    # customers who never repeated: A3 only
    log_at0 = np.log(alpha + data.T0)
    ll -= r * np.sum(log_at0)
    d_r -= np.sum(log_at0)
    d_alpha -= r * np.sum(1.0 / (alpha + data.T0))

    # repeat customers
    with np.errstate(divide="ignore", invalid="ignore"):
        log_bx = np.log(b + ux - 1.0)  # not finite for x = 0, never used below
    rx = r + x
    log_at = np.log(alpha + T)
    log_ar = np.log(alpha + t_x)
    d = np.log(a) - log_bx[data.x_index] + rx * (log_at - log_ar)
    ll += np.sum(np.logaddexp(0.0, d) - rx * log_at)
    w4 = expit(d)
    d_r += np.sum(w4 * (log_at - log_ar) - log_at)
    d_alpha -= np.sum(rx * ((1.0 - w4) / (alpha + T) + w4 / (alpha + t_x)))
    d_a += np.sum(w4) / a
    d_b -= np.sum(w4 / (b + x - 1.0))
    grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b]) / n
    return -float(ll) / n, -grad


def fit_bgnbd(frequency: Array, recency: Array, T: Array) -> FitOutcome:
    """Maximum-likelihood BG/NBD parameters; problems are listed, not hidden."""
    import numpy as np

    x = np.asarray(frequency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    if len(x) == 0 or not (x > 0).any():
        raise FitError(
            "BG/NBD needs at least one repeat customer; nobody has ordered on two different days"
        )
    t_x = np.asarray(recency, dtype=np.float64)
    rate = x.sum() / max(T.sum(), 1e-9)
    start = np.log([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0])
    sample = warm_start_sample(len(x))
    part = None
    if sample is not None and (x[sample] > 0).any():
        part = _BgNbdData.of(x[sample], t_x[sample], T[sample])
    data = _BgNbdData.of(x, t_x, T)
    theta, ll, problems = maximize_likelihood(_bgnbd_objective, start, data, part)
    problems += extremes(theta, shape=[True, False, True, True])  # alpha is a time scale
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return FitOutcome(BgNbdParams(r, alpha, a, b), ll, problems)


def bgnbd_p_alive(params: BgNbdParams, frequency: Array, recency: Array, T: Array) -> Array:
    """P(still a customer | x, t_x, T) (FHL 2005, eq. 12); 1 for customers who never repeated."""
    import numpy as np

    x = np.asarray(frequency, dtype=np.float64)
    a3 = -(params.r + x) * np.log(params.alpha + T)
    a4 = _bgnbd_a4(params, x, recency)
    return np.asarray(np.exp(a3 - np.logaddexp(a3, a4)), dtype=np.float64)


def bgnbd_expected_orders(
    params: BgNbdParams, t: float, frequency: Array, recency: Array, T: Array
) -> Array:
    """Expected repeat purchases in (T, T + t] given x, t_x, T (FHL 2005, eq. 10)."""
    import numpy as np

    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(frequency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    z = t / (alpha + T + t)
    # eq. 10 has ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; z), which overflows
    # for frequent buyers; with Euler's transformation it is (1-z)^(a-1) *
    # 2F1(a+b-1-r, a-1; a+b+x-1; z), whose parameters do not grow with x.
    hyp = hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
    head = (a + b + x - 1.0) / (a - 1.0)
    tail = 1.0 - np.exp((a - 1.0) * np.log1p(-z)) * hyp
    expected = head * tail * bgnbd_p_alive(params, x, recency, T)
    return np.asarray(expected, dtype=np.float64)


#: up to this many values, :func:`hyp2f1` sums the series itself instead of importing scipy
SERIES_VALUES = 16
SERIES_TERMS = 200_000


def hyp2f1(a: float, b: float, c: Array, z: Array) -> Array:
    """Gauss's hypergeometric function 2F1(a, b; c; z) for 0 <= z < 1: scipy's for many
    values (``retain predict``), the series summed exactly (:func:`math.fsum`) for a few
    (``retain explain CUSTOMER`` with a kept fit), which spares it scipy's import (about
    0.25 s). Where the series answers it is exact to 1e-12 (held to the series in 50-digit
    decimals by ``tests/analytics/test_predict_hyp2f1.py``; scipy's own error reaches 1e-8
    for large parameters near z = 1, and is about 1e-15 for a shop's usual fits); a series
    that does not settle, or whose terms cancel, falls back to scipy."""
    import numpy as np

    c_all, z_all = np.broadcast_arrays(np.asarray(c, np.float64), np.asarray(z, np.float64))
    if c_all.size <= SERIES_VALUES:
        found: list[float] = []
        for ci, zi in zip(c_all.flat, z_all.flat, strict=True):
            value = _series(a, b, float(ci), float(zi))
            if value is None:
                break
            found.append(value)
        else:
            return np.asarray(found, dtype=np.float64).reshape(c_all.shape)
    from scipy.special import hyp2f1 as scipy_hyp2f1

    return np.asarray(scipy_hyp2f1(a, b, c_all, z_all), dtype=np.float64)


def _series(a: float, b: float, c: float, z: float) -> float | None:
    """sum over n of (a)_n (b)_n / ((c)_n n!) z^n, or None when it does not settle (z near
    1, c a non-positive integer, a term that is not finite) or when its terms, of both
    signs, are far larger than their sum (each carries a rounding error; scipy transforms
    such cases)."""
    import math

    if not 0.0 <= z < 1.0 or (c <= 0 and c == int(c)):
        return None
    terms = [1.0]
    term = approx = largest = 1.0
    start = max(0.0, -a, -b, -c) + 2  # from here on every factor is positive
    for n in range(SERIES_TERMS):
        ratio = (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        term *= ratio
        if not math.isfinite(term):
            return None
        terms.append(term)
        approx += term
        largest = max(largest, abs(term))
        if term == 0.0:
            return _settled(terms, largest)
        # what is left is at most term * q / (1 - q), q the ratio of the terms to come
        q = max(ratio, z)
        if n >= start and q < 1.0 and abs(term) * q <= 1e-17 * (1.0 - q) * abs(approx):
            return _settled(terms, largest)
    return None


def _settled(terms: list[float], largest: float) -> float | None:
    import math

    total = math.fsum(terms)
    return total if largest <= 100.0 * abs(total) else None
