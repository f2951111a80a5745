"""A whole ``retain send`` run: lock, recover, plan, record, send.

:func:`run_send` takes the send lock (:func:`send_lock`), marks what a crashed run left
claimed as ambiguous, records the plan in the ledger (:func:`record_plan`), opens the
transport the campaign file names (:func:`make_transport`) and hands the ledger's planned rows
to :func:`retain_cli.campaigns.dispatch.dispatch`, with :func:`message_builder` to build each
message (template contexts for a batch, compiled templates, our headers).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from retain_cli.campaigns.coupons import CouponDesk, NoCode, pool_warnings, with_coupon
from retain_cli.campaigns.dispatch import (
    Builder,
    Progress,
    RetryPolicy,
    SendResult,
    Waiting,
    dispatch,
)
from retain_cli.campaigns.limits import (
    RunDeadline,
    daily_limit_text,
    effective_limits,
    in_quiet_hours,
    quiet_hours_text,
)
from retain_cli.campaigns.owner import (
    hand_over_tasks,
    pause_check,
    paused,
    queue_for_approval,
    with_approved,
)
from retain_cli.campaigns.program import draw_new_customers
from retain_cli.campaigns.survey import with_survey
from retain_cli.errors import SendError
from retain_cli.store.ledger import LedgerRow
from retain_cli.timeutil import Clock, current_clock, to_iso, use_clock, utc_now
from retain_cli.transports.base import TemporaryFailure, Transport

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.campaigns.planner import Plan
    from retain_cli.store import Store


# --- lock ----------------------------------------------------------------------------------


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".send.lock")


@contextmanager
def send_lock(db_path: Path) -> Iterator[None]:
    """Keep a second ``retain send`` on the same database out while one runs.

    An ``fcntl`` lock on ``<db>.send.lock``: the operating system releases it when the process
    ends in any way (even SIGKILL), so a lock file left by a dead process is simply taken over.
    The file holds the holder's pid, host and start time for the error message.
    """
    import fcntl

    path = lock_path(db_path)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise SendError(
                f"another 'retain send' is already running on {db_path} ({holder}); "
                "wait for it to finish (it holds the lock file "
                f"{path.name}, released automatically when that process ends)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {to_iso(utc_now())}")
        handle.flush()
        yield
    finally:
        handle.close()


# --- a whole run -----------------------------------------------------------------------------


class _LazyMessages(Mapping[int, "EmailMessage | str"]):
    """A batch's messages, each built the first time it is asked for (then kept); the
    dispatcher has each built while the server takes in the message before it. A message that
    cannot be built is the error text instead (it fails alone).
    """

    def __init__(
        self, rows: Sequence[LedgerRow], make: Callable[[LedgerRow], EmailMessage]
    ) -> None:
        self._rows = {row.id: row for row in rows}
        self._make = make
        self._built: dict[int, EmailMessage | str] = {}

    def __getitem__(self, key: int) -> EmailMessage | str:
        if key not in self._built:
            row = self._rows[key]
            try:
                self._built[key] = self._make(row)
            except NoCode as exc:  # its pool has no code left: it waits for a later run
                self._built[key] = Waiting(str(exc), exc.pool)
            except Exception as exc:  # one bad template or customer never stops the batch
                self._built[key] = f"cannot build the message: {type(exc).__name__}: {exc}"
        return self._built[key]

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def message_builder(
    store: Store, config: CampaignConfig, as_of: datetime, desk: CouponDesk | None = None
) -> Builder:
    """The real builder: batch template contexts, compiled templates, our headers; the
    coupon code of a campaign with a pool set aside by ``desk`` (a new one by default) and
    named on the message (``coupon_ref``: the claim writes it to the ledger).

    Called in the sending thread (messages are built while the server takes in the previous
    one), so it uses the caller's connection."""
    from retain_cli.campaigns.context import load_contexts, shop_currency
    from retain_cli.campaigns.message import build_message
    from retain_cli.campaigns.offers import ProductOffers, with_replenishment
    from retain_cli.campaigns.templating import Renderer

    renderer = Renderer(config)
    offers = ProductOffers(store, config, as_of)  # the product model: once per run
    currency: list[str] = []
    secret = _survey_secret(store, config)
    desk = desk or CouponDesk(store)

    def build(rows: Sequence[LedgerRow]) -> Mapping[int, EmailMessage | str]:
        if not currency:
            currency.append(shop_currency(store))  # once per run: it scans every order
        refs = [row.customer_ref for row in rows]
        contexts = load_contexts(
            store, config, refs, as_of, default_currency=currency[0], offers=offers
        )

        def make(row: LedgerRow) -> EmailMessage:
            campaign = config.campaign(row.campaign)
            step = campaign.message_step(row.step, row.variant)
            context = contexts.get(row.customer_ref)
            if context is None:
                raise SendError("the customer no longer exists or has no e-mail address")
            context = with_survey(context, config, campaign, row.send_key, secret)
            context = with_replenishment(
                context, offers, campaign, row.customer_ref, row.occurrence
            )
            context, coupon = with_coupon(context, campaign, row, desk)
            rendered = renderer.render(campaign, step, context)
            message = build_message(
                config,
                campaign,
                step,
                rendered,
                to_email=row.email,
                to_name=_full_name(context),
                send_key=row.send_key,
            )
            message.coupon_ref = coupon.ref if coupon is not None else None
            return message

        return _LazyMessages(rows, make)

    return build


def _survey_secret(store: Store, config: CampaignConfig) -> bytes:
    """The key survey tokens are signed with (kept in the database; only asked for when a
    survey campaign exists)."""
    from retain_cli.campaigns.survey import SECRET_NAME

    if not any(c.survey for c in config.campaigns):
        return b""
    return store.secret(SECRET_NAME)


def _full_name(context: Mapping[str, object]) -> str | None:
    customer = context.get("customer")
    if not isinstance(customer, Mapping):
        return None
    parts = [str(customer.get(k) or "").strip() for k in ("first_name", "last_name")]
    name = " ".join(p for p in parts if p)
    return name or None


def make_transport(config: CampaignConfig, kind: str | None = None) -> Transport:
    """The transport the campaign file names (or ``kind`` to override it)."""
    from retain_cli.secrets import smtp_password
    from retain_cli.transports.outbox import OutboxTransport
    from retain_cli.transports.smtp import SmtpTransport

    kind = kind or config.transport
    if kind == "outbox":
        return OutboxTransport(config.outbox_dir)
    if config.smtp is None:
        raise SendError(
            f"{config.path}: transport.host is not set; add the SMTP server under transport "
            "(host, port, security, username, password_env), or use --transport outbox"
        )
    return SmtpTransport(config.smtp, smtp_password(config.smtp))


def run_send(
    store: Store,
    config: CampaignConfig,
    *,
    campaigns: Sequence[str] = (),
    as_of: datetime | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    transport: Transport | str | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
    now: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
    progress: Progress | None = None,
) -> SendResult:
    """Everything ``retain send`` does: lock, recover, plan, record, send.

    ``transport``: a Transport object, or "smtp"/"outbox" to override the campaign file.
    ``clock`` is the run's time (default: ``RETAIN_NOW``, else the real one): limits, ledger
    times and the messages' Date use it. A simulated clock is a rehearsal (every limit
    applies, whatever the transport); it may not be in the future for a real SMTP send.
    ``as_of`` is the moment triggers are evaluated at (default: the clock's now).
    """
    from retain_cli.campaigns.planner import make_plan, selected_campaigns

    clock = clock or current_clock()
    now = now or clock.now
    chosen = [c.name for c in selected_campaigns(config, campaigns)]
    if isinstance(transport, str) or transport is None:
        kind = transport or config.transport
        if kind not in ("smtp", "outbox"):
            raise SendError(f"unknown transport {kind!r}; use smtp or outbox")
    else:
        kind = transport.name
    stop_all, chosen, result_paused = _paused(store, chosen)
    if stop_all is not None or not chosen:
        why = stop_all or result_paused
        return SendResult(dry_run=dry_run, transport=kind, stopped=why, paused=why)
    if kind == "smtp" and not dry_run:
        from retain_cli.campaigns.placeholders import refuse_placeholders

        refuse_placeholders(config)  # real mail never goes out as the example shop
        _refuse_the_future(config, clock, as_of)
    if sleep is None:
        sleep = clock.sleep
        if clock.simulated and kind == "smtp":  # a real server: really wait, and move on
            sleep = _really(clock)
    limits = effective_limits(config.limits, kind, rehearsal=clock.simulated)
    deadline = RunDeadline(limits, clock)  # limits.max_run_minutes, from now
    moment = as_of or now()
    if dry_run:
        plan = make_plan(
            store, config, campaigns=chosen, as_of=moment, transport=kind, now=now(), clock=clock
        )
        result = SendResult(dry_run=True, transport=f"{kind} (dry run: nothing sent)")
        result.paused = result_paused
        result.held_out = plan.count("held_out")
        result.program_held = _program_held(plan)
        result.deferred = plan.count("deferred")
        result.skipped = plan.count("skipped")
        result.tasks, result.queued = _owner_counts(store, config, plan)
        result.would_send = plan.count("due") - result.tasks - result.queued
        result.stopped = plan.quiet
        result.held_back = plan.held_back
        if result.would_send:  # render them all: a template error shows up now, not at 3am
            build = message_builder(store, config, moment)
            rows = [
                LedgerRow(
                    i,
                    it.send_key,
                    it.campaign,
                    it.step,
                    it.customer_ref,
                    it.occurrence,
                    it.email or "",
                    "planned",
                    0,
                    variant=it.variant,
                )
                for i, it in enumerate(plan.items)
                if it.status == "due"
            ]
            with use_clock(clock):
                for message in build(rows).values():
                    if isinstance(message, Waiting):
                        result.no_code[message.pool] = result.no_code.get(message.pool, 0) + 1
                    elif isinstance(message, str):
                        result.failed += 1
                        result.errors.append(message)
            result.would_send -= sum(result.no_code.values())
        result.warnings = pool_warnings(store, config, chosen, waited=result.no_code)
        return result
    chosen_transport = make_transport(config, kind) if not _is_transport(transport) else transport
    assert chosen_transport is not None and not isinstance(chosen_transport, str)
    with send_lock(store.path), use_clock(clock):
        result = SendResult(transport=chosen_transport.name, paused=result_paused)
        result.recovered = store.ledger_recover_claimed(to_iso(now()))
        draw_new_customers(store, now())  # customers who arrived since: drawn and recorded
        plan = make_plan(
            store,
            config,
            campaigns=chosen,
            as_of=moment,
            transport=kind,
            now=now(),
            clock=clock,
            record_snapshots=True,
        )
        result.planned, result.held_out = record_plan(store, plan, now)
        result.program_held = _program_held(plan)
        result.skipped = store.ledger_skip(plan.skipped(), to_iso(now()))
        result.tasks = hand_over_tasks(store, config, chosen, moment, now())
        desk = CouponDesk(store)  # one per run: the queue's codes are given when queued
        result.queued, errors = queue_for_approval(
            store, config, chosen, message_builder(store, config, moment, desk), now(), desk
        )
        result.failed += len(errors)
        result.errors += errors
        if in_quiet_hours(limits, now()):
            result.stopped = quiet_hours_text(limits)
            result.deferred = sum(store.ledger_pending_counts(chosen).values())
            result.held_back = result.stopped if result.deferred else None
            return result
        if not store.ledger_pending_counts(chosen):
            return result
        try:
            chosen_transport.open()
        except TemporaryFailure as exc:
            result.transport_down = True
            result.stopped = str(exc)
            result.deferred = sum(store.ledger_pending_counts(chosen).values())
            return result
        result = dispatch(
            store,
            chosen_transport,
            with_approved(store, config, message_builder(store, config, moment, desk)),
            sender=config.sender.from_email,
            limits=limits,
            campaigns=chosen,
            limit=limit,
            retry=retry,
            now=now,
            sleep=sleep,
            progress=progress,
            result=result,
            order=plan.rank,
            deadline=deadline,
            paused=pause_check(store),
        )
        if result.deferred and result.stopped in (
            quiet_hours_text(limits) if limits.quiet_hours else None,
            daily_limit_text(limits),
            deadline.text(),
        ):
            result.held_back = result.stopped
        result.warnings = pool_warnings(store, config, chosen, waited=result.no_code)
        return result


def _program_held(plan: Plan) -> int | None:
    """Messages the program holdout left out of the plan (None when none is in force)."""
    return None if plan.program_share is None else plan.program_left_out()[0]


def _paused(store: Store, chosen: list[str]) -> tuple[str | None, list[str], str | None]:
    """(why every campaign is paused, the chosen campaigns not paused, what is paused)."""
    stop_all, names = paused(store, chosen)
    if stop_all is not None:
        return stop_all, [], stop_all
    if not names:
        return None, chosen, None
    text = f"campaign{'s' if len(names) > 1 else ''} {', '.join(names)} paused ('retain resume')"
    return None, [c for c in chosen if c not in names], text


def _owner_counts(store: Store, config: CampaignConfig, plan: Plan) -> tuple[int, int]:
    """A dry run: (due task steps, due messages that would wait for approval)."""
    due = [i for i in plan.items if i.status == "due"]
    steps = {(c.name, s.index): s.is_task for c in config.campaigns for s in c.steps}
    needs = {c.name for c in config.campaigns if c.approval}
    tasks = sum(1 for i in due if steps.get((i.campaign, i.step)))
    waiting = [
        i.send_key for i in due if i.campaign in needs and not steps.get((i.campaign, i.step))
    ]
    approved = store.queue_approved(waiting) if waiting else {}
    return tasks, len(waiting) - len(approved)


def _really(clock: Clock) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        time.sleep(seconds)
        clock.sleep(seconds)

    return sleep


def _refuse_the_future(config: CampaignConfig, clock: Clock, as_of: datetime | None) -> None:
    """A real SMTP send happens now: a simulated clock or an as-of in the future would send
    real mail about days that have not come (and stamp the ledger with them)."""
    from retain_cli.errors import UsageError
    from retain_cli.timeutil import local_day, real_now, zone

    real = real_now()
    tz = zone(config.timezone)
    hint = "rehearse it with --dry-run or --transport outbox"
    if clock.start is not None and clock.start > real:
        raise UsageError(
            f"{clock.describe()} is in the future, and a real SMTP send happens now; {hint}"
        )
    if as_of is not None and local_day(as_of, tz) > local_day(clock.now(), tz):
        raise UsageError(
            f"--as-of {local_day(as_of, tz)} is after today ({local_day(clock.now(), tz)} in "
            f"{config.timezone}), and a real SMTP send happens now; {hint}"
        )


def _is_transport(value: object) -> bool:
    return value is not None and not isinstance(value, str)


def record_plan(store: Store, plan: Plan, now: Callable[[], datetime]) -> tuple[int, int]:
    """Record the plan's due rows (planned) and holdout rows (held_out) in the ledger."""
    rows = plan.ledger_rows()
    planned = store.ledger_record([r for r in rows if r["state"] == "planned"], to_iso(now()))
    held = store.ledger_record([r for r in rows if r["state"] == "held_out"], to_iso(now()))
    return planned, held
