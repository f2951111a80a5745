"""retain report with A/B variants: each variant against the holdout and against the first
variant, by the rules of the campaign's own row (intervals, verdicts only on finished windows
with 30 customers a group), the split between the variants checked, as JSON, CSV, a table at
80 columns and HTML.

Reference values (written in): statsmodels confint_proportions_2indep(20, 40, 8, 40,
method="newcomb") = (0.09099, 0.47587), so B (8 of 40) against A (20 of 40) is its mirror,
(-0.47587, -0.09099); scipy ttest_ind(equal_var=False) on twenty 10.0s and twenty 0.0s
against eight 10.0s and thirty-two 0.0s: (0.95719, 5.04281); scipy chisquare([60, 20]) p =
7.744e-06, chisquare([30, 25, 45], [100/3] * 3) p = 0.03877.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from test_html import assert_figures_match, chromium, console_messages, needs_chromium

from retain_cli.measure.stats import chi2_sf, split_test

SENT = "2025-06-01T12:00:00Z"
VARIANTS = """    offer_code: WINBACK10
    variants:
      - {name: A, share: 50%}
      - {name: B, share: 50%, subject: "Something else"}
"""


@pytest.fixture
def ab(shop, config):
    """'offer' as an A/B test: 40 customers get A (20 order 10.00 in the window), 40 get B
    (8 order), 40 are held out (8 order)."""
    config.write_text(config.read_text().replace("    offer_code: WINBACK10\n", VARIANTS, 1))
    a, b, held = shop.customers("a", 40), shop.customers("b", 40), shop.customers("h", 40)
    shop.send("offer", a, SENT, variant="A")
    shop.send("offer", b, SENT, variant="B")
    shop.send("offer", held, SENT, state="held_out")
    for ref in a[:20] + b[:8] + held[:8]:
        shop.order(ref, "2025-06-05T10:00:00Z", 1000)
    return a, b, held


def rows(cli, *args):
    result = cli("report", "offer", "--as-of", "2025-07-01", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_each_variant_against_the_holdout_and_against_the_first(cli, ab):
    whole, a, b = rows(cli)
    assert (whole["variant"], whole["recipients"], whole["held_out"]) == (None, 80, 40)
    assert whole["recipient_conversion"] == 0.35 and whole["versus_variant"] is None
    assert (a["variant"], a["recipients"], a["held_out"]) == ("A", 40, 40)
    assert (a["conversion_low"], a["conversion_high"]) == (0.091, 0.4759)
    assert (a["revenue_per_customer_low"], a["revenue_per_customer_high"]) == (0.96, 5.04)
    assert (a["conversion_verdict"], a["revenue_verdict"]) == ("better", "better")
    assert a["versus_variant"] is None  # A is the reference
    assert (b["variant"], b["recipients"], b["conversion_difference"]) == ("B", 40, 0.0)
    assert (b["conversion_verdict"], b["revenue_verdict"]) == ("inconclusive", "inconclusive")
    # B against A: the mirror of A against the holdout
    assert (b["versus_variant"], b["versus_status"]) == ("A", "finished")
    assert b["versus_conversion_difference"] == -0.3
    assert (b["versus_conversion_low"], b["versus_conversion_high"]) == (-0.4759, -0.091)
    assert (b["versus_revenue_per_customer_low"], b["versus_revenue_per_customer_high"]) == (
        -5.04,
        -0.96,
    )
    assert (b["versus_conversion_verdict"], b["versus_revenue_verdict"]) == ("worse", "worse")
    assert b["versus_no_verdict"] is None
    # the split: 40 and 40 where the file says 50% each
    for row in (a, b):
        assert (row["variant_share"], row["variant_realised_share"]) == (0.5, 0.5)
        assert (row["variant_split_p_value"], row["variant_split_mismatch"]) == (1.0, False)


def test_the_table_shows_the_variants_side_by_side_at_80_columns(cli, ab, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("report", "offer", "--as-of", "2025-07-01")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    text = " ".join(result.stdout.split())
    assert "Variants of offer, side by side" in text
    assert "customers 40 40 40" in text and "conversion 50.0% 20.0% 20.0%" in text
    assert "B - A -30.0 pp (-47.6 to -9.1) -€3.00 (-€5.04 to -€0.96)" in text
    assert "A - holdout +30.0 pp (+9.1 to +47.6) +€3.00 (+€0.96 to +€5.04)" in text
    assert "A against the holdout: conversion better, revenue per customer better." in text
    assert "B against A: conversion worse, revenue per customer worse." in text
    assert (
        "B against the holdout: conversion inconclusive, revenue per customer inconclusive; "
        "at this size the smallest difference in conversion it detects is about" in text
    )
    assert (
        "Split between the variants: A 40 (50.0%), B 40 (50.0%); the campaign file says A "
        "50.0%, B 50.0% (p = 1): as expected." in text
    )


def test_csv_has_a_row_per_variant(cli, ab):
    result = cli("report", "offer", "--as-of", "2025-07-01", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["variant"], r["recipients"], r["versus_variant"]) for r in table] == [
        ("", "80", ""),
        ("A", "40", ""),
        ("B", "40", "A"),
    ]
    assert list(table[0])[:4] == ["campaign", "step", "variant", "status"]


def test_no_verdict_between_variants_before_the_window_ends(cli, shop, config):
    config.write_text(config.read_text().replace("    offer_code: WINBACK10\n", VARIANTS, 1))
    a, b, held = shop.customers("a", 40), shop.customers("b", 40), shop.customers("h", 40)
    shop.send("offer", a, "2025-06-28T12:00:00Z", variant="A")
    shop.send("offer", b, "2025-06-28T12:00:00Z", variant="B")
    shop.send("offer", held, "2025-06-28T12:00:00Z", state="held_out")
    for ref in a[:30]:
        shop.order(ref, "2025-06-29T10:00:00Z", 1000)
    _, first, second = rows(cli)
    assert first["status"] == second["versus_status"] == "so far"
    assert second["versus_conversion_difference"] == -0.75
    assert second["versus_conversion_verdict"] is None and first["conversion_verdict"] is None
    assert second["versus_no_verdict"] == "the window has not ended"
    text = " ".join(cli("report", "offer", "--as-of", "2025-07-01").stdout.split())
    assert "B against A: no verdict yet, the window has not ended (conversion -75.0 pp" in text


def test_a_broken_split_between_the_variants_is_a_warning(cli, shop, config):
    config.write_text(config.read_text().replace("    offer_code: WINBACK10\n", VARIANTS, 1))
    shop.send("offer", shop.customers("a", 60), SENT, variant="A")
    shop.send("offer", shop.customers("b", 20), SENT, variant="B")
    shop.send("offer", shop.customers("h", 80), SENT, state="held_out")
    _, a, b = rows(cli)
    assert (a["variant_realised_share"], b["variant_realised_share"]) == (0.75, 0.25)
    assert (a["variant_split_p_value"], a["variant_split_mismatch"]) == (7.74e-06, True)
    text = " ".join(cli("report", "offer", "--as-of", "2025-07-01").stdout.split())
    assert (
        "WARNING: sample ratio mismatch between the variants: A 60 (75.0%), B 20 (25.0%) "
        "where the campaign file says A 50.0%, B 50.0% (p = 7.7e-06 < 0.001). The split is "
        "broken" in text
    )


def test_the_html_report_shows_the_variants(cli, ab, tmp_path):
    page = tmp_path / "ab.html"
    result = cli("report", "offer", "--html", str(page), "--as-of", "2025-07-01")
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    assert "<h4>Variants side by side</h4>" in html
    assert_figures_match(html, rows(cli))


@needs_chromium
def test_the_variants_page_opens_in_chromium(cli, ab, tmp_path):
    page = tmp_path / "ab.html"
    assert cli("report", "--html", str(page), "--as-of", "2025-07-01").exit_code == 0
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    assert "Variants side by side" in dom.stdout
    assert_figures_match(dom.stdout, json.loads(cli("report", "--as-of", "2025-07-01",
                                                    "--format", "json").stdout))  # fmt: skip


def test_the_split_test_against_reference_values():
    assert split_test((60, 20), (0.5, 0.5)).p_value == pytest.approx(7.744216e-06, rel=1e-5)
    three = split_test((30, 25, 45), (1 / 3, 1 / 3, 1 / 3))
    assert (three.test, three.p_value) == ("chi-square", pytest.approx(0.0387742078, rel=1e-8))
    assert split_test((3, 2, 4), (1 / 3, 1 / 3, 1 / 3)).p_value is None  # too few
    # scipy.stats.chi2.sf at these points
    for x, df, expected in [
        (3.2, 2, 0.2018965179946554),
        (7.81, 3, 0.05010605635000589),
        (16.27, 3, 0.0009982232399054186),
        (30.0, 4, 4.894437128029217e-06),
        (20.0, 9, 0.017912404529843298),
        (0.1, 3, 0.9918374237318764),
    ]:
        assert chi2_sf(x, df) == pytest.approx(expected, rel=1e-10)
