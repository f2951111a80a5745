"""The statistics of retain report against published answers, written into the tests.

References:
- Newcombe RG (1998), "Interval estimation for the difference between independent
  proportions: comparison of eleven methods", Statistics in Medicine 17:873-890, Table II,
  method 10 (the same numbers as statsmodels' confint_proportions_2indep(method="newcomb")).
- Welch's interval: scipy.stats.ttest_ind(equal_var=False).confidence_interval() on the data
  below (scipy 1.17).
- Sample ratio mismatch: Kohavi, Tang & Xu, "Trustworthy Online Controlled Experiments"
  (2020), chapter 21: 821,588 vs 815,482 users in a 50/50 split, p = 1.8e-6.
- Sample size: Chow, Shao & Wang, "Sample Size Calculations in Clinical Research", the
  two-sample test for proportions: p1 = 0.65, p2 = 0.85, equal groups, 5% two-sided, 80%
  power: n = 70 per group.
- Minimum detectable effect: statsmodels NormalIndPower().solve_power(nobs1=1000, ratio=1,
  alpha=0.05, power=0.8) = 0.12529 standard deviations.
"""

from __future__ import annotations

import pytest

from retain_cli.measure.stats import (
    Moments,
    detectable_difference,
    newcombe_difference,
    proportion_sd,
    recipients_needed,
    sample_ratio_test,
    welch_difference,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),  # Newcombe's example (a)
        (9, 10, 3, 10, 0.1705, 0.8090),  # (b)
        (6, 7, 2, 7, 0.0582, 0.8062),  # (c)
        (5, 56, 0, 29, -0.0381, 0.1926),  # (d)
        (0, 10, 0, 20, -0.1611, 0.2775),  # (e)
        (0, 10, 0, 10, -0.2775, 0.2775),  # (f)
        (10, 10, 0, 20, 0.6791, 1.0000),  # (g)
        (10, 10, 0, 10, 0.6075, 1.0000),  # (h)
        (3, 11, 0, 1, -0.5399, 0.5656),  # the win-back: 11 sent, 1 held out
    ],
)
def test_newcombe_matches_the_published_intervals(x1, n1, x2, n2, low, high):
    interval = newcombe_difference(x1, n1, x2, n2)
    assert interval.estimate == pytest.approx(x1 / n1 - x2 / n2)
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


def test_wilson_interval_at_the_edges():
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)
    with pytest.raises(ValueError):
        wilson_interval(1, 0)


def test_welch_matches_scipy():
    a = [19.5, 0, 0, 42.1, 7.25, 0, 0, 12.0, 0, 3.5, 88.0, 0]
    b = [0, 0, 15.0, 0, 0, 4.75, 0]
    interval = welch_difference(moments(a), moments(b))
    assert interval is not None
    assert interval.estimate == pytest.approx(11.541071428571428)
    assert interval.low == pytest.approx(-5.566947334921334, rel=1e-9)
    assert interval.high == pytest.approx(28.64909019206419, rel=1e-9)
    assert interval.spans_zero()
    assert welch_difference(moments([1.0]), moments(b)) is None  # one value: no variance
    flat = welch_difference(moments([0.0, 0.0]), moments([0.0, 0.0, 0.0]))
    assert flat is not None and (flat.low, flat.high) == (0.0, 0.0)


def moments(values: list[float]) -> Moments:
    return Moments(len(values), sum(values), sum(v * v for v in values))


def test_sample_ratio_mismatch_matches_the_book():
    check = sample_ratio_test(815_482, 821_588 + 815_482, 0.5)
    assert check.test == "chi-square"
    assert check.p_value == pytest.approx(1.8e-6, rel=0.02)
    assert check.mismatch
    fine = sample_ratio_test(480, 1000, 0.5)  # chi-square 1.6, 1 df
    assert fine.p_value == pytest.approx(0.205903, abs=1e-6) and not fine.mismatch
    small = sample_ratio_test(1, 11, 0.1)  # expected 1.1 held out: the exact test
    assert small.test == "binomial" and small.p_value == pytest.approx(1.0)
    broken = sample_ratio_test(3, 40, 0.0)  # held out 3 where the file says 0%
    assert broken.mismatch and broken.test == "exact"


def test_sample_size_matches_chow_shao_wang():
    assert recipients_needed(proportion_sd(0.85), proportion_sd(0.65), 0.2, 1.0) == 70
    assert recipients_needed(0.5, 0.5, 0.0, 1.0) is None
    # a 10% holdout (1 held out per 9 recipients) needs 5x the recipients of a 50/50 split
    even = recipients_needed(0.3, 0.3, 0.05, 1.0)
    skewed = recipients_needed(0.3, 0.3, 0.05, 1 / 9)
    assert even is not None and skewed is not None
    assert skewed == pytest.approx(even * 5, rel=0.01)


def test_detectable_difference_matches_statsmodels():
    effect = detectable_difference(1.0, 1.0, 1000, 1000)
    # statsmodels also counts the (negligible) power of the other tail: equal to 1e-5
    assert effect == pytest.approx(0.1252903452971738, rel=1e-5)
    assert detectable_difference(0.5, 0.5, 10, 0) is None


@pytest.mark.parametrize("df", [1, 2, 3.7, 10, 12.662156525619121, 30, 250, 1e6])
def test_t_quantile_matches_scipy(df):
    from scipy.stats import t

    from retain_cli.measure.stats import t_cdf, t_quantile

    for p in (0.6, 0.9, 0.975, 0.995):
        assert t_quantile(p, df) == pytest.approx(float(t.ppf(p, df)), rel=1e-9)
    assert t_cdf(-2.0, df) == pytest.approx(float(t.cdf(-2.0, df)), rel=1e-9)


def test_binomial_test_matches_scipy():
    from scipy.stats import binomtest

    from retain_cli.measure.stats import binomial_two_sided

    for k, n, p in ((1, 11, 0.1), (0, 20, 0.1), (5, 20, 0.1), (7, 59, 0.1), (3, 40, 0.02)):
        assert binomial_two_sided(k, n, p) == pytest.approx(binomtest(k, n, p).pvalue, rel=1e-9)
