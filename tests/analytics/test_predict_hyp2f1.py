"""The series :func:`retain_cli.analytics.predict.bgnbd.hyp2f1` sums for a few values (one
customer explained) against the series summed in 50-digit decimals, and against scipy's
hyp2f1, over the parameters BG/NBD's expected orders give it:
2F1(a+b-1-r, a-1; a+b+x-1; t/(alpha+T+t))."""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from retain_cli.analytics.predict.bgnbd import BgNbdParams, _series, bgnbd_expected_orders

positive = st.floats(0.05, 40.0)


def exact(a: float, b: float, c: float, z: float) -> float:
    """The series in 50-digit decimals, from the floats' exact values."""
    with localcontext() as ctx:
        ctx.prec = 50

        def d(v: float) -> Decimal:
            f = Fraction(v)
            return Decimal(f.numerator) / Decimal(f.denominator)

        da, db, dc, dz = d(a), d(b), d(c), d(z)
        term = total = Decimal(1)
        for n in range(100_000):
            term = term * (da + n) * (db + n) / ((dc + n) * (n + 1)) * dz
            total += term
            if n > 50 + abs(a) + abs(b) and abs(term) < Decimal("1e-30") * abs(total):
                break
        return float(total)


@settings(max_examples=300, deadline=None)
@given(
    r=positive,
    alpha=st.floats(0.5, 400.0),
    a=positive,
    b=positive,
    x=st.integers(0, 60),
    T=st.floats(0.0, 1500.0),
    t=st.sampled_from([30.0, 90.0, 365.0]),
)
def test_the_series_is_exact_where_it_answers(r, alpha, a, b, x, T, t):
    c = a + b + x - 1.0
    z = t / (alpha + T + t)
    found = _series(a + b - 1.0 - r, a - 1.0, c, z)
    if found is None:
        return  # scipy answers
    truth = exact(a + b - 1.0 - r, a - 1.0, c, z)
    assert abs(found - truth) <= 1e-12 * max(1.0, abs(truth))
    # scipy is the less exact one where they differ: 2F1(14, 13; 27; 365/404) is
    # 34051.983963381... (the series and the decimals), scipy says 34051.984007308; and
    # 2F1(21.5, 21; 45; 365/365.5) is 4046205227.88289, scipy says 4046205138.83


def test_few_values_use_the_series_many_use_scipy(monkeypatch):
    import retain_cli.analytics.predict.bgnbd as bgnbd

    params = BgNbdParams(r=0.8, alpha=60.0, a=0.9, b=3.5)
    x = np.array([0.0, 1.0, 4.0, 12.0])
    recency = np.array([0.0, 40.0, 200.0, 350.0])
    T = np.array([10.0, 100.0, 300.0, 360.0])
    few = bgnbd_expected_orders(params, 90.0, x, recency, T)
    many = bgnbd_expected_orders(params, 90.0, np.tile(x, 8), np.tile(recency, 8), np.tile(T, 8))
    np.testing.assert_allclose(few, many[:4], rtol=1e-12)
    calls = []
    monkeypatch.setattr(bgnbd, "_series", lambda *args: calls.append(args))  # never settles
    fallback = bgnbd_expected_orders(params, 90.0, x, recency, T)
    assert len(calls) == 1  # gave up at the first value: scipy for all of them
    np.testing.assert_allclose(fallback, many[:4], rtol=1e-12)
