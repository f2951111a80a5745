"""retain report through the CLI: recipients against the holdout, with the intervals,
verdicts, windows, split check and offer codes, on ledgers whose answers are known.

Reference intervals (written in): statsmodels confint_proportions_2indep(20, 40, 8, 40,
method="newcomb") = (0.09099, 0.47587); scipy ttest_ind(equal_var=False) on twenty 10.0s and
twenty 0.0s against eight 10.0s and thirty-two 0.0s: (0.95719, 5.04281).
"""

from __future__ import annotations

import json

import pytest

SENT = "2025-06-01T12:00:00Z"


@pytest.fixture
def offer(shop):
    """40 recipients and 40 held out of 'offer'; 20 recipients and 8 held-out customers
    order once for 10.00 inside the window, with noise around it."""
    recipients = shop.customers("r", 40)
    held = shop.customers("h", 40)
    shop.send("offer", recipients, SENT)
    shop.send("offer", held, SENT, state="held_out")
    for i, ref in enumerate(recipients[:20]):
        code = {"discount_code": "winback10", "discount_minor": 100} if i < 5 else {}
        shop.order(ref, "2025-06-05T10:00:00Z", 1000, **code)
    for i, ref in enumerate(held[:8]):
        code = {"discount_code": "WINBACK10", "discount_minor": 100} if i == 0 else {}
        shop.order(ref, "2025-06-05T10:00:00Z", 1000, **code)
    shop.order(recipients[0], "2025-05-30T10:00:00Z", 9999)  # before the message
    shop.order(recipients[1], "2025-06-20T10:00:00Z", 9999)  # after the window
    shop.order(recipients[30], "2025-06-03T10:00:00Z", 5000, cancelled_at=SENT)  # cancelled
    shop.order(recipients[31], "2025-06-03T10:00:00Z", 5000, refunded_minor=5000)  # no order
    return recipients, held


def test_report_compares_with_intervals_and_gives_a_verdict(cli, offer, config):
    result = cli("report", "offer", "--as-of", "2025-07-01", "--format", "json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["status"] == "finished" and row["days_passed"] == 14.0
    assert (row["recipients"], row["held_out"], row["still_in_window"]) == (40, 40, 0)
    # a fully refunded order is no order (order_facts), and no conversion
    assert (row["recipient_orders"], row["holdout_orders"]) == (20, 8)
    assert (row["recipient_revenue"], row["holdout_revenue"]) == (200.0, 80.0)
    assert (row["recipient_conversion"], row["holdout_conversion"]) == (0.5, 0.2)
    assert row["currency"] == "EUR"
    assert row["conversion_difference"] == 0.3
    assert (row["conversion_low"], row["conversion_high"]) == (0.091, 0.4759)
    assert row["revenue_per_customer_difference"] == 3.0
    assert (row["revenue_per_customer_low"], row["revenue_per_customer_high"]) == (0.96, 5.04)
    assert (row["conversion_verdict"], row["revenue_verdict"]) == ("better", "better")
    assert (row["incremental_revenue"], row["incremental_revenue_low"]) == (120.0, 38.29)
    assert row["incremental_revenue_high"] == 201.71
    assert (row["offer_code"], row["recipient_offer_orders"], row["discount_given"]) == (
        "WINBACK10",
        5,
        5.0,
    )
    assert row["holdout_offer_orders"] == 1
    assert (row["expected_holdout"], row["realised_holdout"]) == (0.5, 0.5)
    assert row["sample_ratio_mismatch"] is False and row["ratio_test"] == "chi-square"
    assert row["revenue_interval"] == "welch"


def test_conversion_interval_is_newcombes(cli, shop, config):
    recipients = shop.customers("r", 40)
    held = shop.customers("h", 40)
    shop.send("offer", recipients, SENT)
    shop.send("offer", held, SENT, state="held_out")
    for ref in recipients[:20] + held[:8]:
        shop.order(ref, "2025-06-05T10:00:00Z", 1000)
    [row] = json.loads(cli("report", "--as-of", "2025-07-01", "-f", "json").stdout)
    assert (row["conversion_difference"], row["conversion_low"], row["conversion_high"]) == (
        0.3,
        0.091,
        0.4759,
    )
    assert (row["incremental_orders"], row["incremental_orders_low"]) == (12.0, 3.83)
    assert row["incremental_orders_high"] == 20.17


def test_report_table_speaks_in_percent_and_currency(cli, offer, config, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("report", "--as-of", "2025-07-01")
    assert result.exit_code == 0
    out = result.stdout
    assert "offer: the 14 days after the message (finished)" in out
    assert "50.0%" in out and "20.0%" in out
    assert "+30.0 pp (+9.1 to +47.6)" in out
    assert "€5.00" in out and "€2.00" in out and "+€3.00 (+€0.96 to +€5.04)" in out
    assert "Conversion: better for the recipients (the 95% interval leaves out zero)." in out
    assert "Offer WINBACK10: used on 5 recipient orders, giving away €5.00" in " ".join(out.split())
    assert "The holdout used it 1 times" in " ".join(out.split())
    assert max(len(line) for line in out.splitlines()) <= 80


def test_an_open_window_is_so_far_without_a_verdict(cli, offer, config, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    [row] = json.loads(cli("report", "--as-of", "2025-06-06", "-f", "json").stdout)
    assert row["status"] == "so far" and row["days_passed"] == 5.5
    assert row["still_in_window"] == 80
    assert row["conversion_verdict"] is None and row["revenue_verdict"] is None
    assert row["no_verdict"] == "the window has not ended"
    assert row["recipient_conversion"] == 0.5  # what is known so far
    table = " ".join(cli("report", "--as-of", "2025-06-06").stdout.split())
    assert "offer: so far, 5 of 14 days of the window have passed since the last message" in table
    assert "No verdict yet: the window has not ended (looking early and often finds" in table
    assert "better" not in table


def test_customers_still_in_their_window_wait(cli, offer, shop, config):
    late = shop.customers("late", 3)
    shop.send("offer", late, "2025-06-25T12:00:00Z")
    [row] = json.loads(cli("report", "--as-of", "2025-07-01", "-f", "json").stdout)
    assert (row["status"], row["recipients"], row["still_in_window"]) == ("finished", 40, 3)
    text = " ".join(cli("report", "--as-of", "2025-07-01").stdout.split())
    assert "3 more customers are still inside their window" in text


def test_small_groups_get_no_winner(cli, shop, config):
    recipients = shop.customers("r", 11)
    held = shop.customers("h", 11)
    shop.send("offer", recipients, SENT)
    shop.send("offer", held, SENT, state="held_out")
    for ref in recipients[:9]:
        shop.order(ref, "2025-06-05T10:00:00Z", 5000)
    [row] = json.loads(cli("report", "--as-of", "2025-07-01", "-f", "json").stdout)
    assert row["conversion_low"] > 0  # the interval alone would call it
    assert row["conversion_verdict"] == "inconclusive"
    assert row["no_verdict"] == "fewer than 30 customers in a group"
    assert row["conversion_detectable"] is not None
    text = " ".join(cli("report", "--as-of", "2025-07-01").stdout.split())
    assert "Conversion: inconclusive (fewer than 30 customers in a group)." in text
    assert "the smallest difference it detects (4 times in 5) is about" in text


def test_sample_ratio_mismatch_warns(cli, shop, config):
    recipients = shop.customers("r", 30)
    held = shop.customers("h", 30)
    shop.send("series", recipients, SENT)
    shop.send("series", held, SENT, state="held_out")
    [row] = json.loads(cli("report", "series", "--as-of", "2025-07-01", "-f", "json").stdout)
    assert row["expected_holdout"] == 0.2 and row["realised_holdout"] == 0.5
    assert row["sample_ratio_mismatch"] is True and row["ratio_p_value"] < 0.001
    text = " ".join(cli("report", "series", "--as-of", "2025-07-01").stdout.split())
    assert (
        "WARNING: sample ratio mismatch: 30 of 60 held out (50.0%) where the campaign file "
        "says 20.0% (p = 6.3e-09 < 0.001)." in text
    )


def test_later_steps_watch_the_holdout_over_the_same_days(cli, shop, config):
    recipients = shop.customers("r", 30)
    held = shop.customers("h", 8)
    shop.send("series", recipients, SENT)
    shop.send("series", recipients, "2025-06-08T12:00:00Z", step=2)
    shop.send("series", held, SENT, state="held_out")
    shop.order(held[0], "2025-06-03T10:00:00Z", 1000)  # step 1's window only
    shop.order(held[1], "2025-06-10T10:00:00Z", 2000)  # both windows
    shop.order(recipients[0], "2025-06-20T10:00:00Z", 4000)  # step 2's window only
    rows = json.loads(cli("report", "series", "--as-of", "2025-07-01", "-f", "json").stdout)
    assert [(r["step"], r["holdout_orders"], r["recipient_orders"]) for r in rows] == [
        (1, 2, 0),
        (2, 1, 1),
    ]
    assert [r["sent"] for r in rows] == [30, 30]


def test_a_campaign_without_holdout_has_nothing_to_compare(cli, shop, config):
    refs = shop.customers("r", 5)
    shop.send("nohold", refs, SENT)
    [row] = json.loads(cli("report", "--as-of", "2025-07-01", "-f", "json").stdout)
    assert row["held_out"] == 0 and row["conversion_difference"] is None
    text = " ".join(cli("report", "--as-of", "2025-07-01").stdout.split())
    assert "No comparison: nobody was held out" in text
    assert "Note: campaign 'nohold' is not in" in text


def test_without_a_campaign_file_the_split_is_not_checked(cli, offer):
    [row] = json.loads(cli("report", "--as-of", "2025-07-01", "-f", "json").stdout)
    assert row["expected_holdout"] is None and row["sample_ratio_mismatch"] is None
    assert row["offer_code"] is None
    text = " ".join(cli("report", "--as-of", "2025-07-01").stdout.split())
    assert "Note: no campaign file: the holdout share each campaign was set to is unknown" in text


def test_report_errors(cli, offer, config):
    unknown = cli("report", "nope")
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == (
        "Error: campaign 'nope' has nothing in the send ledger yet; run 'retain send' "
        "first, or see 'retain sends' for what was sent"
    )
    bad = cli("report", "--window", "two weeks")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "Error: --window 'two weeks' is not a window; write 14d, 2w or 48h"
    missing = cli("report", "--config", "nowhere.yaml")
    assert missing.exit_code == 1
    assert missing.stderr.startswith("Error: no campaign file at nowhere.yaml")


def test_empty_ledger(cli, store):
    result = cli("report")
    assert result.exit_code == 0
    assert result.stdout.strip() == "Nothing sent yet: run 'retain send' first."
    assert json.loads(cli("report", "-f", "json").stdout) == []


def test_options_that_do_not_apply_are_refused(cli, offer, config):
    compare = cli("report", "--compare")
    assert compare.exit_code == 2
    assert compare.stderr.strip() == (
        "Error: --compare and --period are for the KPIs of the HTML report; add --html FILE"
    )
    goals = cli("report", "goals", "--window", "30d")
    assert goals.exit_code == 2
    assert goals.stderr.strip() == (
        "Error: 'retain report goals' takes --as-of, --config, --db and --format only; "
        "--window does not apply to goals"
    )
