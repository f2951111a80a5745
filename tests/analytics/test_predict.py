"""The prediction maths on arrays: likelihoods, gradients, fits, predictions and the rules."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime

from retain_cli.analytics import predict as P
from retain_cli.analytics.predict import BgNbdParams, GammaGammaParams, Summary, bgnbd, gammagamma

TRUE_BG = BgNbdParams(r=0.6, alpha=12.0, a=0.8, b=2.5)
TRUE_GG = GammaGammaParams(p=6.0, q=4.0, v=20.0)


def simulate_bgnbd(params: BgNbdParams, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Customers following BG/NBD exactly: (frequency, recency, T) in days."""
    rng = np.random.default_rng(seed)
    T = rng.integers(60, 400, n).astype(float)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    drop = rng.beta(params.a, params.b, n)
    x = np.zeros(n)
    last = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        nxt = last + rng.exponential(1.0 / lam)
        buys = alive & (nxt <= T)
        x += buys
        last = np.where(buys, nxt, last)
        alive = buys & (rng.random(n) >= drop)
    return x, last, T


def simulate_spend(params: GammaGammaParams, x: np.ndarray, seed: int) -> np.ndarray:
    """Mean spend of each customer's x purchases under Gamma-Gamma (0 when x == 0)."""
    rng = np.random.default_rng(seed)
    nu = rng.gamma(params.q, 1.0 / params.v, len(x))
    shape = np.where(x > 0, params.p * x, 1.0)
    mean = rng.gamma(shape, 1.0 / (nu * np.maximum(x, 1.0)))
    return np.where(x > 0, mean, 0.0)


def summary_of(x, recency, T, monetary=None, unit="day") -> Summary:
    n = len(x)
    return Summary(
        customer_ref=np.arange(1, n + 1, dtype=np.int64),
        customer_id=np.array([f"c{i}" for i in range(n)], dtype=object),
        email=np.array([f"c{i}@example.com" for i in range(n)], dtype=object),
        frequency=np.asarray(x, dtype=float),
        recency=np.asarray(recency, dtype=float),
        T=np.asarray(T, dtype=float),
        monetary_value=np.zeros(n) if monetary is None else np.asarray(monetary, dtype=float),
        time_unit=unit,
        as_of=date(2025, 1, 1),
    )


@pytest.fixture(scope="module")
def simulated():
    x, t_x, T = simulate_bgnbd(TRUE_BG, 4000, seed=3)
    m = simulate_spend(TRUE_GG, x, seed=4)
    return x, t_x, T, m


def test_bgnbd_gradient_matches_finite_differences(simulated):
    x, t_x, T, _ = simulated
    args = (bgnbd._BgNbdData.of(x, t_x, T),)
    theta = np.log([0.4, 9.0, 1.3, 2.0])
    _, grad = bgnbd._bgnbd_objective(theta, *args)
    numeric = approx_fprime(theta, lambda th: bgnbd._bgnbd_objective(th, *args)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_gamma_gamma_gradient_matches_finite_differences(simulated):
    x, _, _, m = simulated
    keep = x > 0
    args = (gammagamma._GammaGammaData.of(x[keep], m[keep]),)
    theta = np.log([3.0, 2.5, 10.0])
    _, grad = gammagamma._gamma_gamma_objective(theta, *args)
    numeric = approx_fprime(theta, lambda th: gammagamma._gamma_gamma_objective(th, *args)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_bgnbd_objective_is_the_mean_of_the_per_customer_likelihood(simulated):
    x, t_x, T, _ = simulated
    data = bgnbd._BgNbdData.of(x, t_x, T)
    value, _ = bgnbd._bgnbd_objective(np.log([0.4, 9.0, 1.3, 2.0]), data)
    per_customer = P.bgnbd_log_likelihood(BgNbdParams(0.4, 9.0, 1.3, 2.0), x, t_x, T)
    assert value == pytest.approx(-per_customer.mean(), rel=1e-12)


def test_gamma_gamma_objective_is_the_mean_of_the_per_customer_likelihood(simulated):
    x, _, _, m = simulated
    keep = x > 0
    value, _ = gammagamma._gamma_gamma_objective(
        np.log([3.0, 2.5, 10.0]), gammagamma._GammaGammaData.of(x[keep], m[keep])
    )
    per_customer = P.gamma_gamma_log_likelihood(GammaGammaParams(3.0, 2.5, 10.0), x[keep], m[keep])
    assert value == pytest.approx(-per_customer.mean(), rel=1e-12)


def test_bgnbd_fit_recovers_simulated_parameters(simulated):
    x, t_x, T, _ = simulated
    fit = P.fit_bgnbd(x, t_x, T)
    assert fit.ok, fit.problems
    got = fit.params
    # maximum likelihood: at least as likely as the truth, and close to it
    assert fit.log_likelihood >= P.bgnbd_log_likelihood(TRUE_BG, x, t_x, T).sum()
    assert fit.log_likelihood == pytest.approx(P.bgnbd_log_likelihood(got, x, t_x, T).sum())
    assert got.r == pytest.approx(TRUE_BG.r, rel=0.2)
    assert got.alpha == pytest.approx(TRUE_BG.alpha, rel=0.3)
    assert got.a == pytest.approx(TRUE_BG.a, rel=0.35)
    assert got.b == pytest.approx(TRUE_BG.b, rel=0.4)


def test_bgnbd_fit_does_not_depend_on_the_time_unit(simulated):
    x, t_x, T, _ = simulated
    days = P.fit_bgnbd(x, t_x, T).params
    weeks = P.fit_bgnbd(x, t_x / 7, T / 7).params
    assert weeks.r == pytest.approx(days.r, rel=1e-4)
    assert weeks.alpha == pytest.approx(days.alpha / 7, rel=1e-4)
    assert weeks.a == pytest.approx(days.a, rel=1e-4)
    assert weeks.b == pytest.approx(days.b, rel=1e-4)


def test_gamma_gamma_fit_recovers_simulated_parameters(simulated):
    x, _, _, m = simulated
    fit = P.fit_gamma_gamma(x, m)
    assert fit.ok, fit.problems
    keep = x > 0
    truth = P.gamma_gamma_log_likelihood(TRUE_GG, x[keep], m[keep]).sum()
    assert fit.log_likelihood >= truth
    assert fit.params.p == pytest.approx(TRUE_GG.p, rel=0.25)
    assert fit.params.q == pytest.approx(TRUE_GG.q, rel=0.3)
    assert fit.params.v == pytest.approx(TRUE_GG.v, rel=0.4)


def test_fit_without_repeat_customers_raises():
    with pytest.raises(P.FitError, match="at least one repeat customer"):
        P.fit_bgnbd(np.zeros(3), np.zeros(3), np.array([5.0, 6.0, 7.0]))
    with pytest.raises(P.FitError, match="positive spend"):
        P.fit_gamma_gamma(np.array([0.0, 2.0]), np.array([0.0, 0.0]))


def test_p_alive_properties():
    params = BgNbdParams(0.24, 4.41, 0.79, 2.43)
    # nobody drops out before their first repeat purchase, in this model
    assert P.bgnbd_p_alive(params, np.zeros(2), np.zeros(2), np.array([1.0, 50.0])).tolist() == [
        1.0,
        1.0,
    ]
    # the longer the silence since the last purchase, the lower p_alive
    T = np.array([31.0, 35.0, 40.0, 60.0])
    alive = P.bgnbd_p_alive(params, np.full(4, 2.0), np.full(4, 30.0), T)
    assert np.all(np.diff(alive) < 0)
    assert np.all((alive > 0) & (alive < 1))
    # FHL (2005) closed form: 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x))
    expected = 1 / (1 + 0.79 / (2.43 + 1) * ((4.41 + 40) / (4.41 + 30)) ** (0.24 + 2))
    assert alive[2] == pytest.approx(expected, rel=1e-12)


def test_expected_orders_grow_with_the_horizon_and_match_the_unconditional_formula():
    from scipy.special import hyp2f1

    params = BgNbdParams(0.24, 4.41, 0.79, 2.43)
    one = np.ones(1)
    steps = [
        P.bgnbd_expected_orders(params, t, one * 3, one * 20, one * 30)[0] for t in (1, 10, 50)
    ]
    assert steps[0] < steps[1] < steps[2]
    # a brand-new customer (x = t_x = T = 0): FHL (2005) eq. 9, the unconditional E[X(t)]
    t = 39.0
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    eq9 = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    new = P.bgnbd_expected_orders(params, t, np.zeros(1), np.zeros(1), np.zeros(1))[0]
    assert new == pytest.approx(eq9, rel=1e-10)


def test_expected_orders_stay_finite_for_very_frequent_buyers():
    from scipy.special import hyp2f1

    params = BgNbdParams(0.24, 4.41, 0.79, 2.43)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.array([300.0, 5000.0])
    got = P.bgnbd_expected_orders(params, 39.0, x, np.array([39.0, 39.0]), np.array([39.0, 39.0]))
    assert np.all(np.isfinite(got))
    # FHL (2005) eq. 10 as printed (still finite at x = 300; it overflows for far larger x)
    x0, T, t = 300.0, 39.0, 39.0
    z = t / (alpha + T + t)
    head = (a + b + x0 - 1) / (a - 1)
    tail = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x0) * hyp2f1(
        r + x0, b + x0, a + b + x0 - 1, z
    )
    eq10 = head * tail / (1 + a / (b + x0 - 1))
    assert got[0] == pytest.approx(eq10, rel=1e-8)
    # posterior purchase rate (r + x) / (alpha + T) per week, less the risk of dropping out
    assert got[1] < 39 * (r + 5000) / (alpha + T)
    assert got[1] > 0.5 * 39 * (r + 5000) / (alpha + T)


def test_gamma_gamma_expected_value_is_a_weighted_mean():
    params = GammaGammaParams(6.25, 3.74, 15.44)
    population = params.p * params.v / (params.q - 1)
    got = P.gamma_gamma_expected_value(params, np.array([0.0, 1.0, 50.0]), np.array([0, 80, 80]))
    assert got[0] == pytest.approx(population)
    assert population < got[1] < got[2] < 80


def test_risk_bands_cut_offs():
    assert P.risk_bands(np.array([1.0, 0.7, 0.69999, 0.3, 0.29, 0.0])) == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]


def test_rules_score_is_usual_gap_over_days_since_last_order():
    # customer 0: 2 repeats over 20 days -> gap 10; last order 20 days ago -> 0.5
    # customer 1: 1 repeat, gap 30, last order 10 days ago -> 1.0 (not overdue)
    # customer 2: one-time buyer 60 days ago; the shop's median gap is median(10, 30) = 20
    summary = summary_of([2, 1, 0], [20, 30, 0], [40, 40, 60], [10, 20, 0])
    score = P.rules_alive_score(summary)
    np.testing.assert_allclose(score, [0.5, 1.0, 20 / 60])
    predictions = P.rules_predictions(summary, horizon_days=90)
    assert predictions.method == "rules"
    # history shorter than the horizon counts as the horizon: 2 repeats / 90 days * 90 * 0.5
    np.testing.assert_allclose(predictions.expected_orders, [1.0, 1.0, 0.0])
    np.testing.assert_allclose(predictions.predicted_clv, [10.0, 20.0, 0.0])
    assert predictions.churn_risk == ["medium", "low", "medium"]


def test_rules_in_weeks_give_the_same_score():
    days = summary_of([2, 0], [21, 0], [42, 70])
    weeks = summary_of([2, 0], [3, 0], [6, 10], unit="week")
    np.testing.assert_allclose(P.rules_alive_score(days), P.rules_alive_score(weeks))


def test_rules_without_any_repeat_customer_assume_a_yearly_gap():
    summary = summary_of([0, 0], [0, 0], [100, 730])
    np.testing.assert_allclose(P.rules_alive_score(summary), [1.0, 0.5])


def test_few_repeat_customers_fall_back_to_rules_and_say_why():
    x, t_x, T = simulate_bgnbd(TRUE_BG, 400, seed=5)
    keep = np.concatenate([np.flatnonzero(x > 0)[:12], np.flatnonzero(x == 0)[:50]])
    summary = summary_of(x[keep], t_x[keep], T[keep], np.where(x[keep] > 0, 25.0, 0.0))
    model = P.fit_models(summary)
    assert model.repeat_customers == 12
    assert not model.trusted and model.method == "rules"
    assert model.problems[0] == (
        "too little data for a trustworthy fit: 12 repeat customers (customers who ordered on "
        "two or more days); the models need at least 30"
    )
    predictions = P.make_predictions(summary, model, 90)
    assert predictions.method == "rules"
    assert "Using transparent rules" in predictions.notices[-1]
    np.testing.assert_allclose(
        predictions.expected_orders, P.rules_predictions(summary, 90).expected_orders
    )


def test_enough_data_uses_the_model(simulated):
    x, t_x, T, m = simulated
    summary = summary_of(x, t_x, T, m)
    model = P.fit_models(summary)
    assert model.trusted, model.problems
    predictions = P.make_predictions(summary, model, 90)
    assert predictions.method == "model" and predictions.notices == []
    assert np.all(predictions.expected_orders >= 0)
    assert np.all((predictions.p_alive > 0) & (predictions.p_alive <= 1))
    # one-time buyers get the rules score as p_alive (BG/NBD would say 1.0), so the band
    # always agrees with the p_alive shown
    rules = P.rules_alive_score(summary)
    once = x == 0
    assert np.array_equal(predictions.p_alive[once], rules[once])
    assert predictions.churn_risk == P.risk_bands(predictions.p_alive)
    methods = np.array(predictions.methods())
    assert set(methods[once]) == {"model+rules"} and set(methods[~once]) == {"model"}


def test_holdout_comparison_buckets():
    x = np.array([0, 0, 1, 3, 7, 12])
    predicted = np.array([0.1, 0.3, 1.0, 2.0, 5.0, 9.0])
    actual = np.array([0.0, 1.0, 1.0, 3.0, 4.0, 10.0])
    rules = np.zeros(6)
    rows, errors = P.holdout_comparison(x, predicted, actual, rules)
    assert [r["frequency"] for r in rows] == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    assert rows[0] == {
        "frequency": "0",
        "customers": 2,
        "predicted": 0.2,
        "actual": 0.5,
        "rules": 0.0,
    }
    assert rows[2]["customers"] == 0 and rows[2]["predicted"] is None
    assert rows[7] == {
        "frequency": "7+",
        "customers": 2,
        "predicted": 7.0,
        "actual": 7.0,
        "rules": 0.0,
    }
    assert rows[8]["customers"] == 6
    assert errors["mae"] == pytest.approx((0.1 + 0.7 + 0 + 1 + 1 + 1) / 6)
    assert errors["mae_rules"] == pytest.approx(19 / 6)
    assert errors["rmse"] == pytest.approx(np.sqrt((0.01 + 0.49 + 0 + 1 + 1 + 1) / 6))
    assert errors["rmse_rules"] == pytest.approx(np.sqrt((1 + 1 + 9 + 16 + 100) / 6))


def test_summary_from_orders_groups_days_and_converts_units_and_money():
    d0 = P.day_number(date(2025, 1, 1))
    orders = np.array(
        [
            # customer 7: two orders on the first day (one purchase), then two more days
            [7, d0, 1000],
            [7, d0 + 14, 3000],
            [7, d0, 500],
            [7, d0 + 7, 2000],
            # customer 3: one day, two orders
            [3, d0 + 7, 100],
            [3, d0 + 7, 200],
        ],
        dtype=np.int64,
    )
    refs, days, amounts = orders[:, 0], orders[:, 1], orders[:, 2] / 100
    keys = (np.array([3, 5, 7]), ["c3", "c5", "c7"], ["three@x.com", None, "seven@x.com"])
    s = P.summary_from_orders(refs, days, amounts, keys, as_of=date(2025, 1, 22), time_unit="week")
    assert s.customer_ref.tolist() == [3, 7]
    assert s.customer_id.tolist() == ["c3", "c7"]
    assert s.email.tolist() == ["three@x.com", "seven@x.com"]
    assert s.frequency.tolist() == [0.0, 2.0]
    assert s.recency.tolist() == [0.0, 2.0]
    assert s.T.tolist() == [2.0, 3.0]
    # mean of the repeat days (20.00 and 30.00); the first day (15.00) is left out
    assert s.monetary_value.tolist() == [0.0, 25.0]
    assert s.repeat_customers == 1
    in_days = P.summary_from_orders(
        refs, days, amounts, keys, as_of=date(2025, 1, 22), time_unit="day"
    )
    assert in_days.recency.tolist() == [0.0, 14.0] and in_days.T.tolist() == [14.0, 21.0]


def test_summary_of_no_orders_is_empty():
    none = np.zeros(0, dtype=np.int64)
    s = P.summary_from_orders(
        none,
        none,
        np.zeros(0),
        (none, [], []),
        as_of=date(2025, 1, 1),
        time_unit="day",
    )
    assert len(s) == 0 and s.repeat_customers == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 6),  # customer_ref
            st.integers(0, 400),  # day offset
            st.integers(0, 50_000),  # net amount in cents
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(0, 100),
)
def test_summary_invariants(orders, extra_days):
    rows = np.array(orders, dtype=np.int64)
    d0 = P.day_number(date(2024, 1, 1))
    as_of = date.fromordinal(date(2024, 1, 1).toordinal() + int(rows[:, 1].max()) + extra_days)
    keys = (np.arange(1, 7), [f"c{i}" for i in range(1, 7)], [None] * 6)
    s = P.summary_from_orders(
        rows[:, 0], rows[:, 1] + d0, rows[:, 2] / 100, keys, as_of=as_of, time_unit="day"
    )
    assert sorted(s.customer_ref.tolist()) == sorted(set(rows[:, 0].tolist()))
    assert np.all((s.recency >= 0) & (s.recency <= s.T))
    assert np.all(s.frequency >= 0) and np.all(s.monetary_value >= 0)
    for ref, x, recency, T, m in zip(
        s.customer_ref, s.frequency, s.recency, s.T, s.monetary_value, strict=True
    ):
        mine = rows[rows[:, 0] == ref]
        days = sorted(set(mine[:, 1].tolist()))
        assert x == len(days) - 1
        assert recency == days[-1] - days[0]
        assert (as_of - date(2024, 1, 1)).days - days[0] == T
        repeat = mine[mine[:, 1] > days[0], 2].sum() / 100
        assert m == pytest.approx(repeat / x if x else 0.0)


def test_without_a_spend_model_values_come_from_own_averages(simulated):
    x, t_x, T, _ = simulated
    spend = np.where(x > 0, 40.0, 0.0)
    spend[np.flatnonzero(x > 0)[20:]] = 0.0  # only 20 repeat customers with a spend
    summary = summary_of(x, t_x, T, spend)
    model = P.fit_models(summary)
    assert model.trusted and model.gamma_gamma is None
    assert model.as_dict()["problems"] == [
        "Gamma-Gamma: 20 repeat customers with a positive spend; the model needs at least 30"
    ]
    predictions = P.make_predictions(summary, model, 90)
    assert predictions.method == "model"
    assert predictions.notices[0].startswith(
        "order values come from each customer's own average (the shop's for one-time "
        "buyers) instead of the spend model. Gamma-Gamma: 20 repeat customers"
    )
    shop_average = spend[x > 0].mean()
    np.testing.assert_allclose(predictions.expected_value, np.where(x > 0, spend, shop_average))


def test_a_fit_at_an_extreme_is_not_trusted():
    # everybody bought on the last day: nobody seems to stop buying, so a -> 0, b -> infinity
    rng = np.random.default_rng(1)
    x = rng.integers(1, 10, 200).astype(float)
    T = rng.integers(100, 300, 200).astype(float)
    summary = summary_of(x, T, T, np.full(200, 30.0))
    model = P.fit_models(summary)
    assert not model.trusted
    assert model.problems == [
        "BG/NBD: a parameter went to an extreme (below 1e-5 or above 1e5): the data cannot pin "
        "it down (for example, nobody seems to stop buying)"
    ]
    assert P.make_predictions(summary, model, 90).method == "rules"


def test_gamma_gamma_does_not_depend_on_the_currency_unit(simulated):
    x, _, _, m = simulated
    cents = P.fit_gamma_gamma(x, m)
    dong = P.fit_gamma_gamma(x, m * 25_000)
    assert dong.ok and cents.ok
    assert dong.params.p == pytest.approx(cents.params.p, rel=1e-6)
    assert dong.params.q == pytest.approx(cents.params.q, rel=1e-6)
    assert dong.params.v == pytest.approx(cents.params.v * 25_000, rel=1e-6)
    n = int((x > 0).sum())
    assert dong.log_likelihood == pytest.approx(cents.log_likelihood - n * np.log(25_000))
