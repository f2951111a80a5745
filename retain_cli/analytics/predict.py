"""Predicted purchases, churn risk and lifetime value: BG/NBD and Gamma-Gamma.

The models
- BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") for the number
  of repeat purchases: while alive a customer buys at rate lambda ~ Gamma(r, alpha); after each
  purchase they drop out with probability p ~ Beta(a, b).
- Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value") for the value
  of a purchase: z ~ Gamma(p, nu), nu ~ Gamma(q, v), independent of the purchase process.

Both are fitted by maximum likelihood with scipy.optimize on log parameters (L-BFGS-B; for
many customers, BFGS from the optimum of a sample, see :func:`_fit`), with analytic gradients
and log-likelihoods written with gammaln/betaln/logaddexp so that they stay finite. A fit that
does not converge or ends at a bound is reported, never used silently.

The per-customer summary ("RFM" in the papers' sense) counts *purchase days*: several orders
on one day are one purchase whose value is their sum.
- ``frequency`` = distinct order days - 1 (repeat purchases),
- ``recency`` = last order day - first order day, in the time unit,
- ``T`` = as-of day - first order day, in the time unit,
- ``monetary_value`` = mean value of the repeat purchase days (the first day left out),
  0 when ``frequency`` is 0.

When there is too little data for a fit to be trusted (fewer than
``MIN_REPEAT_CUSTOMERS`` repeat customers, an optimizer that does not converge, parameters at
their bounds), predictions fall back to transparent rules (:func:`rules_predictions`) and the
result says so (``method = "rules"`` and a notice).

Everything here is pure: arrays in, arrays out. :func:`predict`, :func:`fit` and :func:`check`
are the entry points the CLI calls; they read the summary from the store.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from retain_cli.errors import RetainError, UsageError
from retain_cli.timeutil import parse_as_of, to_iso

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from retain_cli.store import Store

    Array = npt.NDArray[np.float64]

TimeUnit = Literal["day", "week"]
UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0}

#: fewer repeat customers than this and the models are not trusted (rules are used)
MIN_REPEAT_CUSTOMERS = 30
#: churn-risk bands from p_alive: low >= 0.7 > medium >= 0.3 > high
RISK_LOW = 0.7
RISK_MEDIUM = 0.3
#: usual gap assumed when nobody in the shop has ordered twice yet (rules only)
DEFAULT_GAP_DAYS = 365.0
#: from this many customers on, fits start from the optimum of a sample of about this size
WARM_START_FROM = 60_000
WARM_START_SAMPLE = 20_000
#: parameters are optimised as logs within +-LOG_BOUND; a shape parameter beyond
#: +-EXTREME_LOG (1e-5 .. 1e5) makes a fit untrusted
LOG_BOUND = 15.0
EXTREME_LOG = 11.5

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


class FitError(RetainError):
    """A model could not be fitted (the optimizer failed or the data cannot identify it)."""


# --------------------------------------------------------------------------------------------
# The summary


@dataclass
class Summary:
    """One entry per customer with a countable order by the as-of date (arrays of equal length)."""

    customer_ref: npt.NDArray[np.int64]
    customer_id: npt.NDArray[np.object_]  # str
    email: npt.NDArray[np.object_]  # str or None
    frequency: Array
    recency: Array
    T: Array
    monetary_value: Array
    time_unit: str
    as_of: date

    def __len__(self) -> int:
        return len(self.customer_id)

    @property
    def repeat_customers(self) -> int:
        return int((self.frequency > 0).sum())


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def day_number(day: date) -> int:
    """Days since 1970-01-01 (the day numbers the store gives orders)."""
    return day.toordinal() - EPOCH_ORDINAL


@dataclass
class PurchaseDays:
    """Orders grouped into purchase days, sorted by customer then day (arrays of equal length)."""

    customer_ref: npt.NDArray[np.int64]
    day: npt.NDArray[np.int64]
    amount: Array  # the day's net total, major units
    #: index of each customer's first purchase day in the arrays above, and their count
    starts: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]


def purchase_days(
    refs: npt.NDArray[np.int64], days: npt.NDArray[np.int64], amounts: Array
) -> PurchaseDays:
    """Group order rows (customer_ref, day number, net amount) into one row per customer and day.

    Vectorised: one sort on a combined integer key, then run boundaries; no Python loop.
    """
    import numpy as np

    if len(refs) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return PurchaseDays(empty, empty, np.zeros(0), empty, empty)
    low = int(days.min())
    span = int(days.max()) - low + 1
    key = refs * span + (days - low)
    order = np.argsort(key, kind="stable")
    key = key[order]
    day_starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    day_key = key[day_starts]
    day_refs = day_key // span
    day_amount = np.add.reduceat(np.asarray(amounts, dtype=np.float64)[order], day_starts)
    starts = np.flatnonzero(np.r_[True, day_refs[1:] != day_refs[:-1]])
    counts = np.diff(np.r_[starts, len(day_refs)])
    return PurchaseDays(day_refs, day_key % span + low, day_amount, starts, counts)


def summary_from_orders(
    refs: npt.NDArray[np.int64],
    days: npt.NDArray[np.int64],
    amounts: Array,
    keys: tuple[npt.NDArray[np.int64], list[Any], list[Any]],
    *,
    as_of: date,
    time_unit: str,
) -> Summary:
    """The per-customer summary from countable orders (customer_ref, day number since
    1970-01-01, net amount in major units; all on or before ``as_of``) and the customers'
    keys ``(ids ascending, customer_id, email)``."""
    import numpy as np

    unit = _unit_days(time_unit)
    grouped = purchase_days(refs, days, amounts)
    starts, counts = grouped.starts, grouped.counts
    ends = starts + counts - 1
    first = grouped.day[starts]
    frequency = (counts - 1).astype(np.float64)
    if len(starts):
        repeat_amount = np.add.reduceat(grouped.amount, starts) - grouped.amount[starts]
    else:
        repeat_amount = np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(frequency > 0, repeat_amount / frequency, 0.0)
    customer_refs = grouped.customer_ref[starts]
    ids, customer_ids, emails = keys
    where = np.searchsorted(ids, customer_refs)
    return Summary(
        customer_ref=customer_refs,
        customer_id=np.asarray(customer_ids, dtype=object)[where],
        email=np.asarray(emails, dtype=object)[where],
        frequency=frequency,
        recency=(grouped.day[ends] - first) / unit,
        T=(day_number(as_of) - first) / unit,
        monetary_value=np.maximum(np.asarray(monetary, dtype=np.float64), 0.0),
        time_unit=time_unit,
        as_of=as_of,
    )


def _unit_days(time_unit: str) -> float:
    try:
        return UNIT_DAYS[time_unit]
    except KeyError:
        raise UsageError(f"--time-unit {time_unit!r} is not known; use day or week") from None


# --------------------------------------------------------------------------------------------
# BG/NBD


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float


@dataclass
class FitOutcome:
    """What an optimizer run gave: the parameters, the log-likelihood and any problems."""

    params: Any
    log_likelihood: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


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
    sample = _warm_start_sample(len(x))
    part = None
    if sample is not None and (x[sample] > 0).any():
        part = _BgNbdData.of(x[sample], t_x[sample], T[sample])
    data = _BgNbdData.of(x, t_x, T)
    theta, ll, problems = _fit(_bgnbd_objective, start, data, part)
    problems += _extremes(theta, shape=[True, False, True, True])  # alpha is a time scale
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return FitOutcome(BgNbdParams(r, alpha, a, b), ll, problems)


def _warm_start_sample(n: int) -> slice | None:
    """For many customers, a regular sample (every k-th) to fit first (see :func:`_fit`)."""
    if n < WARM_START_FROM:
        return None
    return slice(None, None, n // WARM_START_SAMPLE)


def _fit(
    objective: Any, start: Array, data: Any, sample: Any | None
) -> tuple[Array, float, list[str]]:
    """Maximise a likelihood; returns (log parameters, total log-likelihood, problems).

    ``objective(theta, data)`` gives the mean negative log-likelihood and its gradient. With
    a ``sample`` of the data (many customers), the sample is fitted first; from its optimum,
    BFGS on all the data, seeded with the sample's inverse Hessian (the curvature of a mean
    hardly depends on the sample), converges in a few evaluations instead of fifteen or so.
    """
    import numpy as np

    if sample is not None:
        theta, _, problems = _minimize(objective, start, (sample,), n=1)
        hessian = _hessian(objective, theta, sample)
        if (
            not problems
            and np.all(np.isfinite(hessian))
            and np.all(np.linalg.eigvalsh(hessian) > 0)
        ):
            inverse = np.linalg.inv(hessian)
            symmetric: Array = np.asarray((inverse + inverse.T) / 2, dtype=np.float64)
            return _minimize(objective, theta, (data,), n=data.n, hess_inv=symmetric)
    return _minimize(objective, start, (data,), n=data.n)


def _hessian(objective: Any, theta: Array, data: Any, step: float = 1e-4) -> Array:
    """The Hessian of ``objective`` at ``theta``, by central differences of its gradient."""
    import numpy as np

    k = len(theta)
    hessian = np.empty((k, k))
    for i in range(k):
        shift = np.zeros(k)
        shift[i] = step
        hessian[:, i] = (objective(theta + shift, data)[1] - objective(theta - shift, data)[1]) / (
            2 * step
        )
    return np.asarray((hessian + hessian.T) / 2, dtype=np.float64)


def _minimize(
    objective: Any,
    start: Array,
    args: tuple[Any, ...],
    *,
    n: float,
    hess_inv: Array | None = None,
) -> tuple[Array, float, list[str]]:
    """Minimise a mean negative log-likelihood: BFGS when an inverse Hessian to start from is
    given, else (or if that fails) L-BFGS-B. Returns (theta, total LL, problems)."""
    import numpy as np
    from scipy.optimize import minimize

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        result = None
        if hess_inv is not None:
            result = minimize(
                objective,
                start,
                args=args,
                jac=True,
                method="BFGS",
                options={"hess_inv0": hess_inv, "gtol": 1e-9, "maxiter": 200},
            )
            if not (result.success or _gradient_small(result)) or np.any(
                np.abs(result.x) > LOG_BOUND
            ):
                result = None
        if result is None:
            result = minimize(
                objective,
                start,
                args=args,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9},
            )
        if not result.success:  # polish from where it stopped; a rounding-limited stop is fine
            result = minimize(
                objective,
                result.x,
                args=args,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-7},
            )
    theta = np.asarray(result.x, dtype=np.float64)
    problems: list[str] = []
    if not np.isfinite(result.fun):
        problems.append("the log-likelihood is not finite")
    elif not (result.success or _gradient_small(result)):
        problems.append(f"the optimizer did not converge ({result.message})")
    if np.any(np.abs(theta) > LOG_BOUND - 0.05):
        problems.append("a parameter ended at its bound (the data cannot pin it down)")
    return theta, -float(result.fun) * n, problems


def _extremes(theta: Array, *, shape: list[bool]) -> list[str]:
    """A problem when a shape parameter (not a time or money scale) is below 1e-5 or above
    1e5: the likelihood is flat there and the data cannot pin the model down."""
    import numpy as np

    if np.any((np.abs(theta) > EXTREME_LOG) & np.array(shape)) and not np.any(
        np.abs(theta) > LOG_BOUND - 0.05
    ):
        return [
            "a parameter went to an extreme (below 1e-5 or above 1e5): the data cannot pin it "
            "down (for example, nobody seems to stop buying)"
        ]
    return []


def _gradient_small(result: Any) -> bool:
    import numpy as np

    return bool(np.all(np.isfinite(result.jac)) and np.max(np.abs(result.jac)) < 1e-5)


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
    from scipy.special import hyp2f1

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


# --------------------------------------------------------------------------------------------
# Gamma-Gamma


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
    sample = _warm_start_sample(len(x))
    part = _GammaGammaData.of(x[sample], m[sample]) if sample is not None else None
    theta, ll, problems = _fit(_gamma_gamma_objective, start, _GammaGammaData.of(x, m), part)
    problems += _extremes(theta, shape=[True, True, False])
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


# --------------------------------------------------------------------------------------------
# Fitting both models, and deciding whether to trust them


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


# --------------------------------------------------------------------------------------------
# Predictions: model, or rules


@dataclass
class Predictions:
    """Per-customer predictions in the summary's order, and how they were made."""

    p_alive: Array
    expected_orders: Array
    expected_value: Array
    churn_risk: list[str]
    method: str
    notices: list[str]

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

    unit = _unit_days(summary.time_unit)
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

    unit = _unit_days(summary.time_unit)
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


def model_predictions(summary: Summary, model: ModelFit, horizon_days: float) -> Predictions:
    """BG/NBD purchases and p_alive, Gamma-Gamma order value (or the customer's own mean).

    BG/NBD gives p_alive = 1 to anyone who never repeated (in the model people only drop out
    right after a purchase), so the churn-risk band of one-time buyers comes from the rules
    score (days since their order against the shop's median gap) instead.
    """
    import numpy as np

    assert model.bgnbd is not None
    params: BgNbdParams = model.bgnbd.params
    t = horizon_days / _unit_days(summary.time_unit)
    x, t_x, T = summary.frequency, summary.recency, summary.T
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        p_alive = bgnbd_p_alive(params, x, t_x, T)
        expected = bgnbd_expected_orders(params, t, x, t_x, T)
    if not (np.all(np.isfinite(expected)) and np.all(np.isfinite(p_alive))):
        raise FitError("BG/NBD predictions are not finite for these parameters")
    notices: list[str] = []
    if model.gamma_gamma is not None and not model.gamma_gamma_problems:
        value = gamma_gamma_expected_value(model.gamma_gamma.params, x, summary.monetary_value)
    else:
        value = _own_mean_value(summary)
        notices.append(
            "order values come from each customer's own average (the shop's for one-time "
            "buyers) instead of the spend model. " + "; ".join(model.gamma_gamma_problems)
        )
    score = np.where(x > 0, p_alive, rules_alive_score(summary))
    return Predictions(
        p_alive=p_alive,
        expected_orders=np.maximum(expected, 0.0),
        expected_value=value,
        churn_risk=risk_bands(score),
        method="model",
        notices=notices,
    )


def _own_mean_value(summary: Summary) -> Array:
    import numpy as np

    repeat = summary.frequency > 0
    shop = float(summary.monetary_value[repeat].mean()) if repeat.any() else 0.0
    return np.asarray(np.where(repeat, summary.monetary_value, shop), dtype=np.float64)


def make_predictions(summary: Summary, model: ModelFit, horizon_days: float) -> Predictions:
    """Model predictions when the fit is trusted, else the rules, with the reason why."""
    if model.trusted:
        try:
            return model_predictions(summary, model, horizon_days)
        except FitError as exc:
            model.problems.append(str(exc))
    predictions = rules_predictions(summary, horizon_days)
    predictions.notices.append(
        "; ".join(model.problems)
        + ". Using transparent rules instead of the model: p_alive = usual gap / days since "
        "the last order (capped at 1), expected orders from the customer's own past rate."
    )
    return predictions


# --------------------------------------------------------------------------------------------
# Entry points (read the store, return records)


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


def load_orders(
    store: Store, end: datetime, start: datetime | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Array]:
    """Countable orders placed from ``start`` (default: the beginning) to ``end``, inclusive:
    customer_ref, UTC day number (days since 1970-01-01) and net amount in major units.

    Reuses the packed copy of the orders that metrics keep (:func:`retain_cli.analytics.metrics.
    load_orders`) when it is current; otherwise reads them straight from the store (faster
    than rebuilding that copy). Amounts are scaled by their currency's minor units.
    """
    import numpy as np

    from retain_cli.analytics.metrics import ORDERS_CACHE, OrderArrays

    cached = store.cached_blob(ORDERS_CACHE)
    if cached is not None and cached[0] == store.orders_fingerprint():
        packed = OrderArrays.unpack(cached[1])
        keep = packed.t <= int(end.timestamp())
        if start is not None:
            keep &= packed.t >= int(start.timestamp())
        amount = np.asarray(packed.amount[keep], dtype=np.float64)
        return packed.customer[keep], packed.t[keep] // 86400, amount
    rows = store.predict_order_days(to_iso(end), to_iso(start) if start else None)
    return rows[:, 0], rows[:, 1], rows[:, 2] / 1000.0


def preload_scipy() -> None:
    """Start loading the parts of scipy the fits use (~0.6 s) in a thread, so that opening
    the store and reading the orders happen meanwhile; whoever imports them next waits for
    that thread only as long as it still needs."""
    import threading

    threading.Thread(target=_import_scipy, name="import scipy").start()


def _import_scipy() -> None:
    for module in ("scipy.special", "scipy.optimize"):
        importlib.import_module(module)


def load_summary(store: Store, as_of: datetime, time_unit: str) -> Summary:
    """The summary of every customer with a countable order up to ``as_of``."""
    from concurrent.futures import ThreadPoolExecutor

    _unit_days(time_unit)
    with ThreadPoolExecutor(2) as pool:
        # scipy (needed next, ~0.6 s of imports) loads and SQLite reads the customers while
        # this thread reads the orders and builds the summary
        scipy = pool.submit(_import_scipy)
        keys = pool.submit(store.predict_customer_keys)
        refs, days, amounts = load_orders(store, as_of)
        summary = summary_from_orders(
            refs, days, amounts, keys.result(), as_of=as_of.date(), time_unit=time_unit
        )
        scipy.result()
        return summary


def _require_customers(summary: Summary) -> None:
    if len(summary) == 0:
        raise RetainError(
            f"no orders on or before {summary.as_of.isoformat()}; import orders first "
            "('retain import orders FILE') or pass a later --as-of"
        )


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
    _require_customers(summary)
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
    _require_customers(summary)
    return fit_models(summary)


# --------------------------------------------------------------------------------------------
# Holdout check


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
    _require_customers(summary)
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
