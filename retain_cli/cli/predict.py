"""Commands: ``predict`` (per-customer predictions), ``predict fit`` and ``predict check``."""

from __future__ import annotations

import enum
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from retain_cli.cli.options import AsOfOption, DbOption, FormatOption, OutputFormat, open_store
from retain_cli.cli.output import (
    WideOption,
    console,
    err_console,
    raw_csv,
    render_mapping,
    render_rows,
    render_table,
)
from retain_cli.csvsafe import safe_row, write_rows
from retain_cli.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# the help is the callback's docstring (with its definitions and example)
predict_app = typer.Typer()

# a table is for reading: without --limit it stops here (csv and json give every row)
TABLE_LIMIT = 100

RISK_STYLES = {"high": "red", "medium": "yellow", "low": "green"}
# at 80 columns the identifying columns and the answer stay, the model's inputs go first
PREDICT_DROP = (
    "T",
    "recency",
    "frequency",
    "monetary_value",
    "method",
    "expected_orders",
    "p_alive",
    "customer_id",
)


class TimeUnit(enum.StrEnum):
    day = "day"
    week = "week"


class SortColumn(enum.StrEnum):
    predicted_clv = "predicted_clv"
    expected_orders = "expected_orders"
    p_alive = "p_alive"
    churn_risk = "churn_risk"
    monetary_value = "monetary_value"
    frequency = "frequency"
    recency = "recency"
    T = "T"
    customer_id = "customer_id"
    email = "email"


class Risk(enum.StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


TimeUnitOption = Annotated[
    TimeUnit,
    typer.Option(
        "--time-unit",
        help="Unit of recency and T, and of the fitted alpha (the results do not depend on it).",
    ),
]
HorizonOption = Annotated[
    float,
    typer.Option("--horizon", min=1, help="Days ahead for expected_orders and predicted_clv."),
]


def write_csv_columns(columns: dict[str, Any], names: list[str]) -> None:
    """The CSV ``render_rows`` writes, built a column at a time from numpy arrays (or lists,
    each of one type): this command can print hundreds of thousands of rows, and
    ``csv.writer`` spends most of its time deciding per cell whether to quote. Cells that
    would need quoting send everything through it. Text that would run as a spreadsheet
    formula is quoted as in ``render_rows`` (unless ``--raw-csv``)."""
    safe = not raw_csv()
    texts: list[list[str]] = []
    for name in names:
        column = columns[name]
        kind = None if isinstance(column, list) else column.dtype.kind
        if kind is None and column:
            first = column[0]
            kind = "f" if isinstance(first, float) else "i" if isinstance(first, int) else "O"
        if kind == "f":
            texts.append(float_texts(column))
        elif kind in ("i", "u"):
            texts.append(int_texts(column))
        else:
            values = _as_list(column)
            text = ["" if v is None else str(v) for v in values] if None in values else values
            if safe:
                text = safe_row(text)
            joined = "".join(text)
            if any(mark in joined for mark in (",", '"', "\n", "\r")):
                rows = zip(*(_as_list(columns[n]) for n in names), strict=True)
                write_rows(sys.stdout, names, rows, safe=safe)
                return
            texts.append(text)
    sys.stdout.write(",".join(names) + "\n")
    if texts and texts[0]:
        sys.stdout.write("\n".join(map(",".join, zip(*texts, strict=True))) + "\n")


def _as_list(column: Any) -> list[Any]:
    return column if isinstance(column, list) else list(column.tolist())


def float_texts(values: list[float] | npt.NDArray[np.float64]) -> list[str]:
    """``repr`` of each value, ten times faster for values rounded to 2 or 4 decimals.

    Such a value is the double nearest k / 10**d for an integer k; when |k| < 10**15 (at
    most 15 significant digits) no shorter decimal gives the same double, so its ``repr`` is
    k / 10**d written out with the trailing zeros dropped (at least one decimal: "12.0").
    Anything else (not rounded, too large, not finite) takes ``repr``.
    """
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    for digits in (2, 4):
        scale = 10.0**digits
        with np.errstate(invalid="ignore", over="ignore"):
            k = np.rint(array * scale)
            exact = bool(np.all((k / scale == array) & (np.abs(k) < 1e15)))
        if exact:
            break
    else:
        return list(map(repr, array.tolist()))
    magnitude = np.abs(k).astype(np.int64)
    whole, part = np.divmod(magnitude, 10**digits)
    fractions = np.array(_fraction_texts(digits), dtype=object)
    texts = np.array(int_texts(whole), dtype=object) + fractions[part]
    negative = np.signbit(array)
    if negative.any():
        texts[negative] = "-" + texts[negative]
    return list(texts.tolist())


def int_texts(values: list[int] | npt.NDArray[np.int64]) -> list[str]:
    """``str`` of each integer; looked up in a table when they are small and many."""
    import numpy as np

    array = np.asarray(values, dtype=np.int64)
    if len(array) and int(array.min()) >= 0 and int(array.max()) < len(array):
        table = np.array(list(map(str, range(int(array.max()) + 1))), dtype=object)
        return list(table[array].tolist())
    return list(map(str, array.tolist() if isinstance(values, np.ndarray) else values))


def _fraction_texts(digits: int) -> list[str]:
    """ ".5", ".25", ".0" ...: the decimals of 0 .. 10**digits - 1 as ``repr`` writes them."""
    return ["." + (f"{n:0{digits}d}".rstrip("0") or "0") for n in range(10**digits)]


def _notices(notices: list[str]) -> None:
    for notice in notices:
        err_console.print(f"[yellow]Notice:[/yellow] {escape(notice)}", soft_wrap=True)


def _risk_style(value: Any) -> str:
    return RISK_STYLES.get(str(value), "")


@predict_app.callback(invoke_without_command=True)
def predict_command(
    ctx: typer.Context,
    as_of: AsOfOption = None,
    horizon: HorizonOption = 90,
    time_unit: TimeUnitOption = TimeUnit.day,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", min=0, help="Only the first N customers (after --sort)."),
    ] = None,
    sort: Annotated[
        SortColumn,
        typer.Option(
            "--sort",
            help="Order by this column: numbers highest first, except p_alive (lowest first); "
            "churn_risk puts high first; customer_id and email A to Z.",
        ),
    ] = SortColumn.predicted_clv,
    risk: Annotated[
        Risk | None,
        typer.Option("--risk", help="Only customers with this churn_risk.", show_default=False),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
    db: DbOption = None,
) -> None:
    """Predict each customer's orders, churn risk and value (BG/NBD + Gamma-Gamma).

    One row per customer with an order by --as-of, highest predicted_clv first (--sort
    changes that, --risk high keeps only the customers most likely gone): frequency (repeat
    purchase days), recency and T (age at the last purchase and at --as-of),
    monetary_value (mean repeat purchase), p_alive, expected_orders and predicted_clv
    (undiscounted) over --horizon days, churn_risk (low p_alive >= 0.7 > medium >= 0.3 >
    high), method. BG/NBD would give every one-time buyer p_alive 1.0, so theirs comes from
    the rules (method model+rules) and churn_risk always matches p_alive. With too little
    data for the models, a notice says so and method is 'rules'. 'retain explain COLUMN'
    defines each column. Example:

        retain predict --risk high --sort predicted_clv --limit 20
    """
    if ctx.invoked_subcommand is not None:
        given = [
            option
            for option, value, default in (
                ("--as-of", as_of, None),
                ("--horizon", horizon, 90),
                ("--time-unit", time_unit, TimeUnit.day),
                ("--limit", limit, None),
                ("--sort", sort, SortColumn.predicted_clv),
                ("--risk", risk, None),
                ("--format", fmt, OutputFormat.table),
                ("--wide", wide, False),
            )
            if value != default
        ]
        if given:
            raise UsageError(
                f"{', '.join(given)} before '{ctx.invoked_subcommand}' would be ignored; "
                f"write {'it' if len(given) == 1 else 'them'} after: retain predict "
                f"{ctx.invoked_subcommand} {given[0]} ..."
            )
        root = ctx.find_root()
        if db is not None and isinstance(root.obj, dict):
            root.obj["db"] = db  # the sub-command's own --db, when not given, falls back to it
        return
    from retain_cli.analytics.predict import PREDICT_COLUMNS, predict, preload_scipy

    preload_scipy()
    store = open_store(ctx, db)
    wanted = limit
    if fmt is OutputFormat.table and limit is None:
        wanted = TABLE_LIMIT + 1
    result = predict(
        store,
        as_of=as_of,
        horizon_days=horizon,
        time_unit=time_unit.value,
        limit=wanted,
        sort=sort.value,
        risk=risk.value if risk else None,
    )
    _notices(result.notices)
    if fmt is OutputFormat.csv:
        write_csv_columns(result.columns, PREDICT_COLUMNS)
        return
    rows = result.records()
    more = fmt is OutputFormat.table and limit is None and len(rows) > TABLE_LIMIT
    rows = rows[:TABLE_LIMIT] if more else rows
    render_table(
        rows,
        PREDICT_COLUMNS,
        fmt,
        keys=("customer_id", "email", "churn_risk"),
        drop=PREDICT_DROP,
        wide=wide,
        styles={"churn_risk": _risk_style},
        empty="No customers to predict." if risk is None else f"No customer at {risk} risk.",
    )
    if fmt is not OutputFormat.table:
        return
    if more:
        console.print(
            f"[dim]First {TABLE_LIMIT} shown; use --limit N, or --format csv for all.[/dim]"
        )
    if any(r["method"] == "model+rules" for r in rows):
        console.print(
            "[dim]model+rules: a one-time buyer. BG/NBD would say p_alive 1.0 (in it people "
            "drop out only after a repeat purchase), so p_alive and churn_risk come from the "
            "rules: the shop's usual gap / days since their order.[/dim]"
        )


@predict_app.command("fit")
def fit_command(
    ctx: typer.Context,
    as_of: AsOfOption = None,
    time_unit: TimeUnitOption = TimeUnit.day,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Fit the models and show their parameters, log-likelihood and any reason not to trust them.

    bgnbd: r and alpha (purchase rate ~ Gamma(r, alpha), alpha in --time-unit), a and b
    (drop-out after each purchase ~ Beta(a, b)). gamma_gamma: p, q, v (order value). method is
    'rules' when the fit is not trustworthy; problems says why. Example:

        retain predict fit --as-of 1997-09-30 --time-unit week --format json
    """
    from retain_cli.analytics.predict import fit

    store = open_store(ctx, db)
    result = fit(store, as_of=as_of, time_unit=time_unit.value)
    _notices(result.problems + result.gamma_gamma_problems)
    data = result.as_dict()
    if fmt is OutputFormat.json:
        render_mapping(data, fmt)
        return
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{name}": v for name, v in value.items()})
        elif isinstance(value, list):
            flat[key] = "; ".join(value) if value else "none"
        elif value is None and key in ("bgnbd", "gamma_gamma"):
            flat[key] = "not fitted"
        else:
            flat[key] = value
    render_mapping(flat, fmt, title="Fitted models")


@predict_app.command("check")
def check_command(
    ctx: typer.Context,
    holdout_from: Annotated[
        str,
        typer.Option(
            "--holdout-from",
            help="First day of the holdout, YYYY-MM-DD; the models are fitted on earlier orders.",
        ),
    ],
    holdout_to: Annotated[
        str | None,
        typer.Option("--holdout-to", help="Last day of the holdout (default: the last order)."),
    ] = None,
    time_unit: TimeUnitOption = TimeUnit.day,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Test the predictions on the past: fit before a date, compare with what happened after.

    Fits on orders up to the day before --holdout-from, predicts each of those customers'
    purchase days from --holdout-from to --holdout-to, and compares with the real ones: the
    totals, the mean per customer by calibration repeat purchases (0..7+), and the error per
    customer: mean absolute (mae) and root mean squared (rmse), with the same for the simple
    rules beside them as a baseline. --format csv gives the bucket table. Example:

        retain predict check --holdout-from 2025-01-01
    """
    from retain_cli.analytics.predict import CHECK_BUCKET_COLUMNS, check

    store = open_store(ctx, db)
    result = check(
        store, holdout_from=holdout_from, holdout_to=holdout_to, time_unit=time_unit.value
    )
    _notices(result.notices)
    if fmt is OutputFormat.json:
        render_mapping({**result.totals, "buckets": result.buckets}, fmt)
        return
    if fmt is OutputFormat.csv:
        render_rows(result.buckets, CHECK_BUCKET_COLUMNS, fmt)
        return
    render_mapping(result.totals, fmt, title="Holdout check")
    render_rows(
        result.buckets,
        CHECK_BUCKET_COLUMNS,
        fmt,
        title="Mean holdout purchases per customer, by calibration repeat purchases",
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(predict_app, name="predict")
