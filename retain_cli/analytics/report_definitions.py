"""The definitions of the columns of ``retain report`` (``retain explain COLUMN``), kept in
step with :data:`retain_cli.measure.report.COLUMNS` (a test checks that every column has
one). Rates are fractions in csv and json, as in ``retain metrics``."""

from __future__ import annotations

_REPORT = "A column of 'retain report' (one row per campaign and step, and per A/B variant). "
_VERSUS = "Against the first variant (versus_variant): "
_CI = "The 95% confidence interval's {end} of {what}"
#: (name, unit, text) of each column of 'retain report' (retain_cli.measure.report.COLUMNS);
#: analytics.definitions makes them Definitions
REPORT_COLUMN_TEXTS: list[tuple[str, str, str]] = [
    ("step", "count", _REPORT + "The campaign's step (1 for the first message)."),
    (
        "status",
        "term",
        _REPORT + "finished: only customers whose whole --window has passed are counted; so "
        "far: no one in a group has a finished window yet, so what is known up to now is "
        "shown, with no verdict.",
    ),
    ("window_days", "days", _REPORT + "--window in days."),
    (
        "days_passed",
        "days",
        _REPORT + "Days of the window passed since the last message (the whole window once "
        "finished).",
    ),
    (
        "still_in_window",
        "count",
        _REPORT + "Customers (both groups) not counted yet because their window has not passed.",
    ),
    (
        "currency",
        "term",
        _REPORT + "The currency of the money columns: the shop's (its most used one).",
    ),
    (
        "recipients",
        "count",
        _REPORT + "Customers the step was sent to (and not held out), counted in this row; "
        "their clock starts at their first message of the step.",
    ),
    (
        "held_out",
        "count",
        _REPORT + "Customers of the campaign's holdout counted in this row; their clock "
        "starts when they were held out (for a later step, plus the usual time from step 1 "
        "to it).",
    ),
    ("sent", "count", _REPORT + "Messages of the step the mail server accepted."),
    ("failed", "count", _REPORT + "Messages of the step that could not be sent."),
    (
        "ambiguous",
        "count",
        _REPORT + "Messages handed over without a reply: they may or may not have arrived "
        "('retain sends resolve' settles them).",
    ),
    *(
        (f"{prefix}_{name}", unit, _REPORT + text.format(group=group))
        for prefix, group in (
            ("recipient", "the recipients"),
            ("holdout", "the held-out customers"),
        )
        for name, unit, text in (
            ("orders", "count", "Countable orders of {group} within their window."),
            (
                "revenue",
                "money",
                "Revenue (total less refunds) of the countable orders of {group} within "
                "their window.",
            ),
            (
                "conversion",
                "rate",
                "Share of {group} with at least one countable order within their window.",
            ),
            (
                "revenue_per_customer",
                "money",
                "Revenue of {group} within their window / their number.",
            ),
            (
                "offer_orders",
                "count",
                "Orders of {group} within their window that used the campaign's offer_code.",
            ),
        )
    ),
    *(
        (f"{what}_{end}", unit, _REPORT + _CI.format(end=word, what=text))
        for what, unit, text in (
            ("conversion", "rate", "conversion_difference (Newcombe's hybrid score interval)"),
            (
                "revenue_per_customer",
                "money",
                "revenue_per_customer_difference (Welch's t interval)",
            ),
            ("incremental_orders", "number", "incremental_orders"),
            ("incremental_revenue", "money", "incremental_revenue"),
        )
        for end, word in (("low", "lower end"), ("high", "upper end"))
    ),
    (
        "conversion_difference",
        "rate",
        _REPORT + "recipient_conversion - holdout_conversion: what the messages added to the "
        "share of customers who ordered (the holdout shows what would have happened anyway).",
    ),
    (
        "revenue_per_customer_difference",
        "money",
        _REPORT + "recipient_revenue_per_customer - holdout_revenue_per_customer.",
    ),
    (
        "incremental_orders",
        "number",
        _REPORT + "The difference in orders per customer times the recipients: the orders "
        "the messages added.",
    ),
    (
        "incremental_revenue",
        "money",
        _REPORT + "revenue_per_customer_difference times the recipients: the revenue the "
        "messages added (already net of any discount, since totals are what customers paid).",
    ),
    *(
        (
            f"{name}_verdict" if name == "conversion" else "revenue_verdict",
            "term",
            _REPORT + f"Better or worse when the 95% interval of the {label} difference leaves "
            "out zero, else inconclusive; only on a finished window with 30 customers in each "
            "group (empty while so far).",
        )
        for name, label in (("conversion", "conversion"), ("revenue", "revenue per customer"))
    ),
    (
        "conversion_detectable",
        "rate",
        _REPORT + "The smallest difference in conversion a comparison of this size detects "
        "(two-sided 5%, power 80%), at the two groups' pooled conversion.",
    ),
    (
        "revenue_per_customer_detectable",
        "money",
        _REPORT + "The smallest difference in revenue per customer a comparison of this size "
        "detects (two-sided 5%, power 80%), with each group's spread.",
    ),
    *(
        (
            f"{name}_recipients_needed",
            "count",
            _REPORT + f"Recipients needed to tell a {label} difference as large as the one "
            "seen from chance (two-sided 5%, power 80%) with the configured holdout share.",
        )
        for name, label in (("conversion", "conversion"), ("revenue", "revenue per customer"))
    ),
    ("revenue_interval", "term", _REPORT + "How revenue is compared: welch."),
    ("no_verdict", "term", _REPORT + "Why there is no verdict (or none yet)."),
    ("offer_code", "term", _REPORT + "The campaign file's offer_code."),
    (
        "discount_given",
        "money",
        _REPORT + "The discount on the recipients' orders that used the offer code within "
        "their window.",
    ),
    ("coupon_pool", "term", _REPORT + "The pool whose codes the step's messages carried."),
    (
        "coupons_sent",
        "count",
        _REPORT + "Messages of the step sent with a code of the campaign's coupon_pool (one "
        "code each).",
    ),
    (
        "coupons_redeemed",
        "count",
        _REPORT + "Codes of coupons_sent used on a countable order by the customer each was "
        "sent to, at any time after it was sent (not only within the window).",
    ),
    ("coupon_redemption_rate", "rate", _REPORT + "coupons_redeemed / coupons_sent."),
    (
        "coupon_discount",
        "money",
        _REPORT + "The discount on the orders that redeemed the codes: what the coupons cost.",
    ),
    (
        "coupons_used_by_others",
        "count",
        _REPORT + "Countable orders of other customers that used a code sent to someone else "
        "(a forwarded code): never counted as redeemed.",
    ),
    (
        "coupon_discount_by_others",
        "money",
        _REPORT + "The discount on coupons_used_by_others' orders (not in coupon_discount).",
    ),
    (
        "expected_holdout",
        "rate",
        _REPORT + "The holdout share the campaign file sets (empty without a campaign file).",
    ),
    (
        "realised_holdout",
        "rate",
        _REPORT + "Held-out customers / everyone the first step was planned for.",
    ),
    (
        "ratio_p_value",
        "number",
        _REPORT + "The p-value of the split check (sample ratio mismatch) against "
        "expected_holdout.",
    ),
    (
        "ratio_test",
        "term",
        _REPORT + "The split check's test: chi-square, or binomial (exact) when an expected "
        "count is below 5.",
    ),
    (
        "sample_ratio_mismatch",
        "term",
        _REPORT + "true when ratio_p_value < 0.001: the split is broken and the comparison "
        "means nothing until the cause is found.",
    ),
    (
        "window",
        "term",
        _REPORT + "--window (14d, 2w, 48h): how long after each customer's reference time "
        "(written to, or held out) their orders count.",
    ),
    (
        "variant",
        "term",
        _REPORT + "The A/B variant whose recipients the row counts (variants: in the campaign "
        "file); empty on the campaign's own row, which counts every recipient. A variant's row "
        "compares its recipients with the same holdout, by the same rules.",
    ),
    ("variant_share", "rate", _REPORT + "The variant's share in the campaign file."),
    (
        "variant_realised_share",
        "rate",
        _REPORT + "The variant's customers / everyone the first step was planned for who was "
        "not held out, among the campaign's variants.",
    ),
    (
        "variant_split_p_value",
        "number",
        _REPORT + "The p-value of the split check between the variants against their shares "
        "(binomial or chi-square with one degree of freedom fewer than variants); empty when "
        "an expected count is below 5 (too few to check).",
    ),
    (
        "variant_split_mismatch",
        "term",
        _REPORT + "true when variant_split_p_value < 0.001: the split between the variants is "
        "broken and comparing them means nothing until the cause is found.",
    ),
    (
        "versus_variant",
        "term",
        _REPORT + "The variant this one is compared with: the first in the campaign file "
        "(empty on the first variant's own row).",
    ),
    (
        "versus_status",
        "term",
        _REPORT + _VERSUS + "finished or so far, by the rule of the status column.",
    ),
    (
        "versus_conversion_difference",
        "rate",
        _REPORT + _VERSUS + "this variant's conversion minus the first variant's.",
    ),
    ("versus_conversion_low", "rate", _REPORT + _CI.format(end="low end", what="it") + "."),
    ("versus_conversion_high", "rate", _REPORT + _CI.format(end="high end", what="it") + "."),
    (
        "versus_conversion_verdict",
        "term",
        _REPORT + _VERSUS + "better or worse when the interval of the difference in conversion "
        "leaves out zero, else inconclusive; only on a finished window with 30 customers in "
        "each variant.",
    ),
    (
        "versus_conversion_detectable",
        "rate",
        _REPORT + _VERSUS + "the smallest difference in conversion this comparison detects "
        "(two-sided 5%, power 80%).",
    ),
    (
        "versus_revenue_per_customer_difference",
        "money",
        _REPORT + _VERSUS + "this variant's revenue per customer minus the first variant's.",
    ),
    (
        "versus_revenue_per_customer_low",
        "money",
        _REPORT + _CI.format(end="low end", what="it") + " (Welch's t).",
    ),
    (
        "versus_revenue_per_customer_high",
        "money",
        _REPORT + _CI.format(end="high end", what="it") + " (Welch's t).",
    ),
    (
        "versus_revenue_verdict",
        "term",
        _REPORT + _VERSUS + "the verdict on revenue per customer, by the rule of "
        "versus_conversion_verdict.",
    ),
    (
        "versus_revenue_per_customer_detectable",
        "money",
        _REPORT + _VERSUS + "the smallest difference in revenue per customer this comparison "
        "detects (two-sided 5%, power 80%).",
    ),
    (
        "versus_no_verdict",
        "term",
        _REPORT + _VERSUS + "why there is no verdict (the window has not ended, fewer than 30 "
        "customers in a variant), if there is none.",
    ),
]
