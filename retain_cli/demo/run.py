"""``retain demo``: a folder set up with ``retain init``, the demo exports written and imported."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from retain_cli.demo.exports import (
    birthdays_csv,
    coupon_codes_csv,
    customers_csv,
    orders_csv,
    signups_csv,
    unsubscribes_csv,
)
from retain_cli.demo.history import record_history, record_program_holdout
from retain_cli.demo.shop import (
    BIRTHDAYS_FILE,
    COUPON_POOL,
    COUPONS_FILE,
    CUSTOMERS_FILE,
    EXPORTS_DIR,
    ORDERS_FILE,
    SIGNUPS_FILE,
    UNSUBSCRIBES_FILE,
    generate_shop,
    utc_text,
)
from retain_cli.errors import RetainError, UsageError
from retain_cli.project import InitResult, init_project
from retain_cli.resources import CONFIG_NAME, DB_NAME


@dataclass(frozen=True)
class DemoResult:
    """What ``retain demo`` made: the folder, the exports and what their import did."""

    directory: Path
    database: Path
    init: InitResult
    exports: list[Path]
    today: date
    customers: int
    orders: int
    cancelled: int
    refunded: int
    line_items: int
    first_order_at: str | None
    last_order_at: str | None
    imports: list[Any] = field(default_factory=list)
    next_commands: list[str] = field(default_factory=list)
    coupons: Any = None  # the coupon pool's import (CouponImport)

    @property
    def rejected(self) -> int:
        return sum(int(getattr(r, "rejected", 0)) for r in self.imports)

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "folder": str(self.directory),
            "today": self.today.isoformat(),
            "customers": self.customers,
            "orders": self.orders,
            "cancelled": self.cancelled,
            "refunded": self.refunded,
            "line_items": self.line_items,
            "first_order_at": self.first_order_at,
            "last_order_at": self.last_order_at,
        }
        for result in self.imports:
            text = f"{result.inserted} new, {result.updated} updated, {result.unchanged} unchanged"
            if result.rejected:
                text += f", {result.rejected} rejected"
            data[f"imported {result.file.name}"] = text
        if self.coupons is not None:
            data[f"imported {self.coupons.file.name}"] = (
                f"{self.coupons.total} codes in coupon pool {self.coupons.pool}"
            )
        return data


def run_demo(
    directory: Path,
    *,
    customers: int = 500,
    seed: int = 1,
    today: date | None = None,
) -> DemoResult:
    """Set ``directory`` up (``init``), write the demo exports and import them.

    Running it again with the same seed, size and day rewrites the same files and the import
    changes nothing. If the folder's database already holds other data, it refuses rather
    than mixing two shops.
    """
    from retain_cli.imports import ImportOptions, import_file
    from retain_cli.imports.coupons import import_coupons
    from retain_cli.store import Store
    from retain_cli.timeutil import utc_now_iso

    if today is None:
        today = datetime.now(UTC).date()
    shop = generate_shop(customers, seed, today)
    texts = {
        CUSTOMERS_FILE: customers_csv(shop),
        ORDERS_FILE: orders_csv(shop),
        BIRTHDAYS_FILE: birthdays_csv(shop),
        UNSUBSCRIBES_FILE: unsubscribes_csv(shop),
        SIGNUPS_FILE: signups_csv(shop),
        COUPONS_FILE: coupon_codes_csv(seed),
    }

    init = init_project(directory)
    database = directory / DB_NAME
    exports_dir = directory / EXPORTS_DIR
    paths = [exports_dir / name for name in texts]
    same_files = all(p.exists() and p.read_text(encoding="utf-8") == texts[p.name] for p in paths)
    with Store.open(database) as store:
        held = store.customer_count()
        if held and not same_files:
            raise UsageError(
                f"{database} already holds {held} customers that are not this demo's "
                "(another seed, size or day); pass another folder, or delete this one first"
            )
        try:
            exports_dir.mkdir(exist_ok=True)
            for path in paths:
                path.write_text(texts[path.name], encoding="utf-8", newline="")
        except OSError as exc:
            raise RetainError(f"cannot write the demo exports in {exports_dir}: {exc}") from exc
        results = [
            import_file(store, paths[0], "customers", ImportOptions(source="shopify_customers")),
            import_file(store, paths[1], "orders", ImportOptions(source="shopify_orders")),
            import_file(store, paths[2], "customers", ImportOptions(source="generic_customers")),
            import_file(store, paths[3], "suppressions", ImportOptions(source="suppressions")),
            import_file(store, paths[4], "customers", ImportOptions(source="generic_customers")),
        ]
        coupons = import_coupons(store, exports_dir / COUPONS_FILE, COUPON_POOL, utc_now_iso())
        top = store.customer_list(sort="total_spent", limit=1)
        # the history first: the mailbox answers the messages the first send will send
        record_program_holdout(store, today)
        record_history(store, directory / CONFIG_NAME, today)
        mailbox = _demo_mailbox(directory, store, today)

    counted = [o for o in shop.orders if o.cancelled_at is None]
    example = top[0]["email"] if top and top[0]["email"] else "<email>"
    return DemoResult(
        directory=directory,
        database=database,
        init=init,
        exports=paths,
        today=today,
        customers=len(shop.customers) + len(shop.signups),
        orders=len(shop.orders),
        cancelled=len(shop.orders) - len(counted),
        refunded=sum(1 for o in counted if o.refunded_minor),
        line_items=shop.line_items,
        first_order_at=utc_text(shop.orders[0].created_at) if shop.orders else None,
        last_order_at=utc_text(shop.orders[-1].created_at) if shop.orders else None,
        imports=results,
        coupons=coupons,
        next_commands=[
            "retain status",
            "retain customers list --limit 10",
            f"retain customers show {example}",
            "retain metrics",
            "retain cohorts",
            "retain segments",
            "retain predict",
            "retain campaigns check",
            "retain coupons",
            "retain plan",
            "retain send --yes",
            *([f"retain inbox --from-maildir {mailbox.name}"] if mailbox else []),
            "retain report",
            "retain report program",
        ],
    )


def _demo_mailbox(directory: Path, store: Any, today: date) -> Path | None:
    """The demo's maildir of replies and bounces (retain_cli/demo/inbox.py); None when the
    folder's campaign file is not usable (a campaign file kept from before, being edited)."""
    from retain_cli.campaigns.config import load_config
    from retain_cli.demo.inbox import write_demo_mailbox
    from retain_cli.errors import ConfigError
    from retain_cli.resources import CONFIG_NAME

    try:
        config = load_config(directory / CONFIG_NAME)
    except ConfigError:
        return None
    return write_demo_mailbox(directory, store, config, today)
