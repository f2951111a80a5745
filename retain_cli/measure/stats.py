"""The statistics behind ``retain report``: small pure functions with published answers.

- :func:`wilson_interval`: one proportion (Wilson 1927), good at small n and near 0 or 1.
- :func:`newcombe_difference`: the difference of two proportions, Newcombe's hybrid score
  interval (Newcombe 1998, method 10) built from the two Wilson intervals. Unlike the Wald
  interval it stays inside [-1, 1] and does not collapse to a point at 0/n.
- :func:`welch_difference`: the difference of two means with unequal variances (Welch's
  t interval), from each group's count, sum and sum of squares, so revenue per customer is
  computed from totals without holding a list of customers.
- :func:`sample_ratio_test`: a sample ratio mismatch check (chi-square goodness of fit,
  the exact binomial test when an expected count is below 5); :func:`split_test` the same
  for a split into several groups (A/B variants), chi-square with k - 1 degrees of freedom
  (:func:`chi2_sf`, from the regularised incomplete gamma function).
- :func:`detectable_difference` and :func:`recipients_needed`: the smallest difference a
  comparison of this size detects (two-sided 5%, power 80%), and the recipients a conclusive
  answer about a given difference needs (Chow, Shao & Wang, *Sample Size Calculations in
  Clinical Research*, the two-sample formulas with unequal group sizes).

Everything is at 95% confidence (two-sided) and 80% power unless a caller asks otherwise.
Student's t and the binomial test are computed here rather than imported from scipy.stats,
whose import alone takes about a second; the tests hold them to scipy's values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: the normal quantiles for a two-sided 95% interval and for 80% power
Z95 = 1.959963984540054
Z_POWER80 = 0.8416212335729143


@dataclass(frozen=True, slots=True)
class Interval:
    """An estimate and its confidence interval."""

    estimate: float
    low: float
    high: float

    def spans_zero(self) -> bool:
        return self.low <= 0.0 <= self.high

    def scaled(self, factor: float) -> Interval:
        """The same interval times a positive factor (a per-customer effect -> a total)."""
        return Interval(self.estimate * factor, self.low * factor, self.high * factor)


@dataclass(frozen=True, slots=True)
class Moments:
    """A group's count, sum and sum of squares: enough for its mean and variance."""

    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """The sample variance (n - 1 in the denominator); None below two values."""
        if self.n < 2:
            return None
        mean = self.total / self.n
        return max(self.total_sq - self.n * mean * mean, 0.0) / (self.n - 1)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for successes / n (n > 0)."""
    if n <= 0:
        raise ValueError("a proportion needs n > 0")
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> Interval:
    """p1 - p2 = x1/n1 - x2/n2 with Newcombe's hybrid score interval (method 10)."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, z)
    l2, u2 = wilson_interval(x2, n2, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(d, max(-1.0, low), min(1.0, high))


def welch_difference(a: Moments, b: Moments, confidence: float = 0.95) -> Interval | None:
    """mean(a) - mean(b) with Welch's t interval; None when a group has fewer than 2 values."""
    var_a, var_b = a.variance, b.variance
    if var_a is None or var_b is None or a.mean is None or b.mean is None:
        return None
    d = a.mean - b.mean
    se_a, se_b = var_a / a.n, var_b / b.n
    se2 = se_a + se_b
    if se2 == 0:
        return Interval(d, d, d)
    df = se2 * se2 / (se_a * se_a / (a.n - 1) + se_b * se_b / (b.n - 1))
    half = t_quantile(0.5 + confidence / 2, df) * math.sqrt(se2)
    return Interval(d, d - half, d + half)


@dataclass(frozen=True, slots=True)
class RatioCheck:
    """Did the split come out as configured? ``p_value`` < 0.001 means it did not."""

    held_out: int
    total: int
    expected_share: float
    p_value: float
    test: str  # "chi-square" or "binomial"

    @property
    def share(self) -> float:
        return self.held_out / self.total if self.total else 0.0

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_THRESHOLD


#: the p-value below which a split is called broken (the experimentation platforms' rule)
SRM_THRESHOLD = 0.001


def sample_ratio_test(held_out: int, total: int, expected_share: float) -> RatioCheck:
    """Is ``held_out`` of ``total`` consistent with holding out ``expected_share``?

    Chi-square goodness of fit (1 degree of freedom); the exact two-sided binomial test when
    an expected count is below 5. An expected share of 0 (or 1) with anyone on the other side
    is a mismatch outright (p = 0)."""
    if total <= 0:
        raise ValueError("a split needs at least one customer")
    expected = (total * expected_share, total * (1 - expected_share))
    observed = (held_out, total - held_out)
    if min(expected) == 0:
        ok = all(o == 0 for o, e in zip(observed, expected, strict=True) if e == 0)
        return RatioCheck(held_out, total, expected_share, 1.0 if ok else 0.0, "exact")
    if min(expected) < 5:
        p = binomial_two_sided(held_out, total, expected_share)
        return RatioCheck(held_out, total, expected_share, p, "binomial")
    chi2 = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    # the chi-square distribution with 1 degree of freedom: P(X > x) = erfc(sqrt(x / 2))
    return RatioCheck(held_out, total, expected_share, math.erfc(math.sqrt(chi2 / 2)), "chi-square")


@dataclass(frozen=True, slots=True)
class SplitCheck:
    """Did a split into several groups come out as configured? (A/B variants.)"""

    counts: tuple[int, ...]
    expected_shares: tuple[float, ...]
    p_value: float | None  # None: too few customers to check (an expected count below 5)
    test: str  # "chi-square", "binomial" or "too few"

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def shares(self) -> tuple[float, ...]:
        total = self.total
        return tuple(c / total if total else 0.0 for c in self.counts)

    @property
    def mismatch(self) -> bool:
        return self.p_value is not None and self.p_value < SRM_THRESHOLD


def split_test(counts: tuple[int, ...], shares: tuple[float, ...]) -> SplitCheck:
    """Are ``counts`` consistent with a split by ``shares`` (adding up to 1)?

    Two groups: :func:`sample_ratio_test` (the exact binomial test at small counts). More:
    chi-square goodness of fit with k - 1 degrees of freedom, only when every expected count
    is at least 5 (else ``p_value`` is None: too few to tell)."""
    total = sum(counts)
    if total <= 0 or len(counts) != len(shares) or len(counts) < 2:
        raise ValueError("a split needs at least two groups and one customer")
    if len(counts) == 2:
        check = sample_ratio_test(counts[0], total, shares[0])
        return SplitCheck(counts, shares, check.p_value, check.test)
    expected = [total * share for share in shares]
    if min(expected) < 5:
        return SplitCheck(counts, shares, None, "too few")
    chi2 = sum((o - e) ** 2 / e for o, e in zip(counts, expected, strict=True))
    return SplitCheck(counts, shares, chi2_sf(chi2, len(counts) - 1), "chi-square")


def chi2_sf(x: float, df: int) -> float:
    """P(X > x) for the chi-square distribution with ``df`` degrees of freedom: the upper
    regularised incomplete gamma function Q(df / 2, x / 2)."""
    if x <= 0:
        return 1.0
    return _gamma_q(df / 2, x / 2)


def _gamma_q(a: float, x: float) -> float:
    """Q(a, x) = 1 - P(a, x): the series for P below a + 1, else Legendre's continued
    fraction (modified Lentz), as in Numerical Recipes' gammq."""
    front = math.exp(-x + a * math.log(x) - math.lgamma(a))
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        for _ in range(1000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * front)
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-16:
            break
    return min(1.0, front * h)


def binomial_two_sided(k: int, n: int, p: float) -> float:
    """The exact two-sided binomial test (as scipy's binomtest): the probability of every
    outcome no more likely than ``k`` successes of ``n``."""

    def log_pmf(i: int) -> float:
        return (
            math.lgamma(n + 1)
            - math.lgamma(i + 1)
            - math.lgamma(n - i + 1)
            + i * math.log(p)
            + (n - i) * math.log1p(-p)
        )

    limit = log_pmf(k) + math.log1p(1e-7)
    total = sum(math.exp(v) for v in map(log_pmf, range(n + 1)) if v <= limit)
    return min(1.0, total)


# --- Student's t, without importing scipy.stats (a second of start-up) ----------------------


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return result


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularised incomplete beta function."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom (df > 0, not whole only)."""
    tail = 0.5 * regularized_beta(df / 2, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_pdf(t: float, df: float) -> float:
    """The density of Student's t."""
    return math.exp(
        math.lgamma((df + 1) / 2)
        - math.lgamma(df / 2)
        - 0.5 * math.log(df * math.pi)
        - (df + 1) / 2 * math.log1p(t * t / df)
    )


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p (0.5 <= p < 1): Newton's method from the normal quantile,
    inside a bracket that bisection narrows whenever a Newton step would leave it."""
    if not 0.5 <= p < 1:
        raise ValueError("t_quantile takes 0.5 <= p < 1")
    from statistics import NormalDist

    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2
    t = min(max(NormalDist().inv_cdf(p), low), high)
    for _ in range(100):
        error = t_cdf(t, df) - p
        if error == 0:
            break
        if error < 0:
            low = t
        else:
            high = t
        step = error / t_pdf(t, df)
        if abs(step) <= 1e-14 * max(1.0, abs(t)):
            return t - step
        guess = t - step
        t = guess if low < guess < high else (low + high) / 2
        if high - low <= 1e-15 * high:
            break
    return t


def detectable_difference(
    sd_recipients: float, sd_holdout: float, n_recipients: int, n_holdout: int
) -> float | None:
    """The smallest true difference of means a two-sided 5% test detects with 80% power,
    given each group's standard deviation and size (for a proportion p: sd = sqrt(p(1-p)))."""
    if n_recipients <= 0 or n_holdout <= 0:
        return None
    se = math.sqrt(sd_recipients**2 / n_recipients + sd_holdout**2 / n_holdout)
    return (Z95 + Z_POWER80) * se


def recipients_needed(
    sd_recipients: float, sd_holdout: float, difference: float, holdout_per_recipient: float
) -> int | None:
    """Recipients needed to detect ``difference`` (two-sided 5%, power 80%) when the holdout
    has ``holdout_per_recipient`` customers per recipient (10% held out: 1/9).

    n = (z_a/2 + z_b)^2 (sd_r^2 + sd_h^2 / k) / difference^2, k = holdout per recipient
    (Chow, Shao & Wang, section 3.2 and 4.2, with unequal groups). None for no difference."""
    if difference == 0 or holdout_per_recipient <= 0:
        return None
    variance = sd_recipients**2 + sd_holdout**2 / holdout_per_recipient
    return math.ceil((Z95 + Z_POWER80) ** 2 * variance / difference**2)


def proportion_sd(p: float) -> float:
    """The standard deviation of a 0/1 outcome with rate p."""
    return math.sqrt(max(p * (1 - p), 0.0))
