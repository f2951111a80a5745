"""Sending what the ledger says is due: claim -> send -> mark, durably, in that order.

The protocol, per message (every write is committed before the next step happens):

1. the audience is recorded first (``planned``, or ``held_out`` for the control group);
2. the row is ``claimed`` (committed) before any of the message reaches the server (while
   the server answers MAIL FROM, so the commit costs no wall time);
3. the server's reply is recorded right after it: ``sent`` (with the reply and Message-ID),
   ``failed`` (5xx), ``ambiguous`` (handed over, no reply), or back to ``planned`` (4xx or a
   dropped connection before the message was handed over, after retries with back-off).
   A ``sent`` outcome is committed in the same statement as the next message's claim (or at
   the end of the batch, or before the pacer sleeps): one commit per message.

A run that dies leaves at most the one message it was sending ``claimed``; the next run marks
it ``ambiguous`` (it may or may not have gone out: killed between the claim and the end of
DATA looks the same as killed while waiting for the reply), and never sends it again by itself:
``retain sends resolve`` settles it by hand. Only one run sends at a time (:class:`SendLock`).

Messages are built in the sending thread, one ahead: message k+1 while the server takes in
message k (between the end of its DATA and the reply), so rendering costs little wall time;
a worker thread would compete for the GIL with the protocol and slow every reply down.

Limits come from the ledger, so they hold across runs and campaigns: per day is a rolling
24 hours of ``sent_at``, per minute paces the run (it waits), the frequency cap looks at every
campaign's sends to the customer; quiet hours stop a run (the rest stays planned for later).
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from retain_cli.campaigns.limits import effective_limits, in_quiet_hours, quiet_hours_text
from retain_cli.errors import SendError
from retain_cli.store.ledger import LedgerRow, Settle
from retain_cli.timeutil import from_iso, to_iso, utc_now
from retain_cli.transports.base import (
    AmbiguousFailure,
    PermanentFailure,
    TemporaryFailure,
    Transport,
)

if TYPE_CHECKING:
    from retain_cli.campaigns.config import CampaignConfig, Limits
    from retain_cli.campaigns.planner import Plan
    from retain_cli.store import Store

DEFAULT_BATCH_SIZE = 100  # messages per SMTP connection (a new one costs a few round trips)
MAX_TOTAL_ATTEMPTS = 10  # a message deferred this many times (over all runs) is given up

# Builds the messages for a batch of ledger rows: row id -> message, or an error text
# (a Mapping, so that messages may be built lazily, when first asked for).
Builder = Callable[[Sequence[LedgerRow]], Mapping[int, EmailMessage | str]]
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Temporary failures: ``attempts`` tries per message per run, waiting ``backoff``
    seconds before the first retry and doubling up to ``max_backoff``."""

    attempts: int = 4
    backoff: float = 2.0
    max_backoff: float = 60.0

    def delay(self, retry: int) -> float:
        return float(min(self.backoff * (2**retry), self.max_backoff))


@dataclass(slots=True)
class SendResult:
    """What one run did. Counts are messages (ledger rows) touched by this run."""

    planned: int = 0  # new rows recorded by this run
    held_out: int = 0  # new holdout rows recorded by this run
    sent: int = 0
    failed: int = 0
    ambiguous: int = 0
    recovered: int = 0  # rows a crashed run left claimed, now ambiguous
    skipped: int = 0  # no longer mailable when their turn came
    suppressed: int = 0  # addresses suppressed because the mailbox does not exist
    deferred: int = 0  # still planned at the end (limits, retries, stopped early)
    would_send: int = 0  # dry run: messages that would go out now
    dry_run: bool = False
    transport: str = ""
    stopped: str | None = None  # why the run stopped before the queue was empty
    transport_down: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """3 when some messages failed or their outcome is unknown; else 0."""
        problems = self.failed or self.ambiguous or self.recovered or self.transport_down
        return 3 if problems else 0

    def summary(self) -> dict[str, object]:
        data: dict[str, object] = {}
        if self.dry_run:
            data["would send"] = self.would_send
        else:
            data["sent"] = self.sent
            data["failed"] = self.failed
            data["ambiguous"] = self.ambiguous + self.recovered
        data["deferred"] = self.deferred
        data["held out"] = self.held_out
        data["skipped"] = self.skipped
        if self.suppressed:
            data["suppressed (bounced)"] = self.suppressed
        data["newly planned"] = self.planned
        data["transport"] = self.transport
        data["stopped"] = self.stopped or ""
        return data


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


class _Pacer:
    """Per-minute pacing and the per-day budget, counted from the ledger's sent_at."""

    def __init__(
        self,
        store: Store,
        limits: Limits,
        now: Callable[[], datetime],
        sleep: Callable[[float], None],
    ) -> None:
        self.limits = limits
        self.now = now
        self.sleep = sleep
        moment = now()
        self.recent: deque[datetime] = deque()
        if limits.per_minute:
            for text in store.ledger_sent_since(to_iso(moment - timedelta(seconds=60))):
                self.recent.append(from_iso(text))
        self.day_left: int | None = None
        if limits.per_day:
            used = store.ledger_count_sent_since(to_iso(moment - timedelta(hours=24)))
            self.day_left = max(limits.per_day - used, 0)

    def day_exhausted(self) -> bool:
        return self.day_left is not None and self.day_left <= 0

    def wait_for_slot(self) -> None:
        per_minute = self.limits.per_minute
        if not per_minute:
            return
        while True:
            moment = self.now()
            while self.recent and self.recent[0] <= moment - timedelta(seconds=60):
                self.recent.popleft()
            if len(self.recent) < per_minute:
                return
            wait = (self.recent[0] + timedelta(seconds=60) - moment).total_seconds()
            self.sleep(max(wait, 0.05))

    def record(self, moment: datetime) -> None:
        if self.limits.per_minute:
            self.recent.append(moment)
        if self.day_left is not None:
            self.day_left -= 1


# --- the engine ----------------------------------------------------------------------------


def dispatch(
    store: Store,
    transport: Transport,
    build: Builder,
    *,
    sender: str,
    limits: Limits,
    campaigns: Sequence[str],
    limit: int | None = None,
    retry: RetryPolicy | None = None,
    now: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress | None = None,
    result: SendResult | None = None,
) -> SendResult:
    """Send the planned rows of ``campaigns`` (oldest first) within the limits.

    The caller holds the send lock and has recovered crashed claims. Returns the counts;
    raises SendError only when sending cannot start (e.g. the SMTP login is refused).
    """
    retry = retry or RetryPolicy()
    result = result or SendResult()
    result.transport = transport.name
    queue = store.ledger_pending(campaigns)
    total = len(queue) if limit is None else min(len(queue), limit)
    pacer = _Pacer(store, limits, now, sleep)
    gap = limits.min_hours_between_messages
    last_sent: dict[int, datetime] = {}
    if gap:
        since = to_iso(now() - timedelta(hours=gap))
        refs = sorted({row.customer_ref for row in queue})
        last_sent = {ref: from_iso(t) for ref, t in store.ledger_last_sent(refs, since).items()}
    batch_size = limits.batch_size or DEFAULT_BATCH_SIZE
    attempted = 0
    position = 0
    daily = (
        f"daily limit of {limits.per_day} messages reached (rolling 24 hours); "
        "the rest goes out on the next run"
    )

    def next_batch() -> list[LedgerRow]:
        """The next rows whose customer is not inside the frequency cap right now."""
        nonlocal position
        batch: list[LedgerRow] = []
        moment = now()
        while position < len(queue) and len(batch) < batch_size:
            row = queue[position]
            position += 1
            previous = last_sent.get(row.customer_ref)
            if gap and previous is not None and moment - previous < timedelta(hours=gap):
                continue  # stays planned: frequency cap
            batch.append(row)
        return batch

    outcome: list[Settle] = []  # the last message's outcome, not committed yet
    stamp = _Stamp(now)

    def flush_with() -> Settle | None:
        return outcome.pop() if outcome else None

    def flush() -> None:
        if outcome:
            store.ledger_advance(outcome.pop(), None, stamp())

    # Messages are built in this thread while the server works: the next message of the
    # batch while the server takes in the current one (between the end of DATA and its
    # reply), so rendering costs little wall time and no thread competes for the GIL.
    with store.ledger_sending():  # checkpoints the WAL once, at the end
        try:
            upcoming = next_batch()
            while upcoming and result.stopped is None:
                batch = _drop_unmailable(store, upcoming, now, result)
                upcoming = next_batch()
                messages = build(batch) if batch else {}
                for index, row in enumerate(batch):
                    if limit is not None and attempted >= limit:
                        result.stopped = f"--limit {limit} reached"
                    elif pacer.day_exhausted():
                        result.stopped = daily
                    elif limits.quiet_hours is not None and in_quiet_hours(limits, now()):
                        result.stopped = quiet_hours_text(limits)
                    if result.stopped is not None:
                        break
                    message = messages.get(row.id)
                    if not isinstance(message, EmailMessage):
                        error = message if isinstance(message, str) else "message was not built"
                        store.ledger_settle(row.id, "failed", stamp(), error=error)
                        result.failed += 1
                        result.errors.append(f"{row.send_key}: {error}")
                        attempted += 1
                        continue
                    previous = last_sent.get(row.customer_ref)
                    if gap and previous is not None and now() - previous < timedelta(hours=gap):
                        continue  # stays planned: frequency cap (sent earlier in this batch)
                    if limits.per_minute:
                        flush()  # nothing waits uncommitted while the pacer sleeps
                        pacer.wait_for_slot()
                    attempted += 1
                    claim = _Claim(store, row, stamp, flush_with)
                    ahead = (
                        _Ahead(messages, batch[index + 1].id) if index + 1 < len(batch) else None
                    )
                    state, sent = _deliver(
                        store,
                        transport,
                        message,
                        row,
                        sender,
                        retry,
                        sleep,
                        stamp,
                        result,
                        claim,
                        ahead,
                    )
                    if sent is not None:
                        # committed together with the next claim (one commit per message), or
                        # at the end of the batch, whichever comes first
                        outcome.append(sent)
                    if state == "sent" and (gap or limits.per_minute or limits.per_day):
                        sent_at = now()
                        pacer.record(sent_at)
                        last_sent[row.customer_ref] = sent_at
                    if progress is not None:
                        progress(attempted, total)
                flush()
                transport.close()  # one connection per batch
        finally:
            flush()
            transport.close()
    result.deferred = sum(store.ledger_pending_counts(campaigns).values())
    return result


def _drop_unmailable(
    store: Store, batch: list[LedgerRow], now: Callable[[], datetime], result: SendResult
) -> list[LedgerRow]:
    """Consent is checked again right before sending: an opt-out since planning wins."""
    status = store.mailability([(row.customer_ref, row.email) for row in batch])
    keep = []
    for row in batch:
        has_email, accepts, suppressed = status.get(row.customer_ref, (False, False, False))
        reason = None
        if not has_email:
            reason = "customer no longer exists or has no e-mail address"
        elif suppressed:
            reason = "opted out (suppressed) after it was planned"
        elif not accepts:
            reason = "no marketing consent any more"
        if reason is None:
            keep.append(row)
            continue
        store.ledger_settle(row.id, "skipped", to_iso(now()), error=reason)
        result.skipped += 1
    return keep


class _Stamp:
    """``to_iso(now())``, formatted once per second of the clock (a ledger write needs two
    or three timestamps per message; ``now`` has whole seconds)."""

    __slots__ = ("moment", "now", "text")

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.moment: datetime | None = None
        self.text = ""

    def __call__(self) -> str:
        moment = self.now()
        if moment != self.moment:
            self.moment, self.text = moment, to_iso(moment)
        return self.text


class _Ahead:
    """Builds the batch's next message (lazily built mappings keep it) while the server
    takes in the current one: called between the end of DATA and its reply."""

    __slots__ = ("key", "messages")

    def __init__(self, messages: Mapping[int, EmailMessage | str], key: int) -> None:
        self.messages = messages
        self.key = key

    def __call__(self) -> None:
        self.messages.get(self.key)  # a message that cannot be built is kept as its error


class _Claim:
    """Claims a row (planned -> claimed, committed) when the transport is about to hand the
    message over, together with the previous message's outcome: one commit per message."""

    def __init__(
        self,
        store: Store,
        row: LedgerRow,
        stamp: Callable[[], str],
        previous: Callable[[], Settle | None],
    ) -> None:
        self.store = store
        self.row = row
        self.stamp = stamp
        self.previous = previous
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        if not self.store.ledger_advance(self.previous(), self.row.id, self.stamp()):
            raise SendError(
                f"send {self.row.send_key} changed in the ledger during this run; "
                "is another program writing to the database?"
            )
        self.done = True


def _deliver(
    store: Store,
    transport: Transport,
    message: EmailMessage,
    row: LedgerRow,
    sender: str,
    retry: RetryPolicy,
    sleep: Callable[[float], None],
    stamp: Callable[[], str],
    result: SendResult,
    claim: _Claim,
    ahead: Callable[[], None] | None = None,
) -> tuple[str, Settle | None]:
    """Send one message (claimed by ``claim`` just before it is handed over), retrying
    temporary failures. Failures are recorded at once; a success is returned for the caller
    to record together with its next claim."""
    message_id = str(message.get("Message-ID") or "") or None
    last: TemporaryFailure | None = None
    tries = 0

    def settle(state: str, error: str | None) -> None:
        extra = tries - 1 if claim.done else tries  # the claim counted one attempt
        store.ledger_settle(row.id, state, stamp(), error=error, extra_attempts=extra)

    for attempt in range(max(retry.attempts, 1)):
        if attempt:
            sleep(retry.delay(attempt - 1))
        tries += 1
        try:
            reply = transport.send(
                message, sender, row.email, before_data=claim, awaiting_reply=ahead
            )
        except TemporaryFailure as exc:
            last = exc
            transport.close()  # reconnect for the next try
            continue
        except PermanentFailure as exc:
            settle("failed", str(exc))
            result.failed += 1
            result.errors.append(f"{row.email}: {exc}")
            if exc.mailbox_unknown and store.suppress(
                row.email, f"mailbox does not exist ({exc})"[:300], "bounce"
            ):
                result.suppressed += 1
            return "failed", None
        except AmbiguousFailure as exc:
            settle("ambiguous", str(exc))
            result.ambiguous += 1
            result.errors.append(f"{row.email}: {exc}")
            return "ambiguous", None
        result.sent += 1
        sent = Settle(
            row.id,
            "sent",
            stamp(),
            reply=reply,
            message_id=message_id,
            extra_attempts=tries - 1,
        )
        return "sent", sent
    assert last is not None
    total_attempts = row.attempts + tries
    if total_attempts >= MAX_TOTAL_ATTEMPTS:
        error = f"gave up after {total_attempts} attempts: {last}"
        settle("failed", error)
        result.failed += 1
        result.errors.append(f"{row.email}: {error}")
        return "failed", None
    settle("planned", f"deferred: {last}")
    if last.connection:
        result.transport_down = True
        result.stopped = str(last)
    return "deferred", None


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
            except Exception as exc:  # one bad template or customer never stops the batch
                self._built[key] = f"cannot build the message: {type(exc).__name__}: {exc}"
        return self._built[key]

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def message_builder(store: Store, config: CampaignConfig, as_of: datetime) -> Builder:
    """The real builder: batch template contexts, compiled templates, our headers.

    Called in the sending thread (messages are built while the server takes in the previous
    one), so it uses the caller's connection."""
    from retain_cli.campaigns.templating import (
        Renderer,
        build_message,
        load_contexts,
        shop_currency,
    )

    renderer = Renderer(config)
    currency: list[str] = []

    def build(rows: Sequence[LedgerRow]) -> Mapping[int, EmailMessage | str]:
        if not currency:
            currency.append(shop_currency(store))  # once per run: it scans every order
        refs = [row.customer_ref for row in rows]
        contexts = load_contexts(store, config, refs, as_of, default_currency=currency[0])

        def make(row: LedgerRow) -> EmailMessage:
            campaign = config.campaign(row.campaign)
            step = campaign.step(row.step)
            context = contexts.get(row.customer_ref)
            if context is None:
                raise SendError("the customer no longer exists or has no e-mail address")
            rendered = renderer.render(campaign, step, context)
            return build_message(
                config,
                campaign,
                step,
                rendered,
                to_email=row.email,
                to_name=_full_name(context),
                send_key=row.send_key,
            )

        return _LazyMessages(rows, make)

    return build


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
    now: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress | None = None,
) -> SendResult:
    """Everything ``retain send`` does: lock, recover, plan, record, send.

    ``transport``: a Transport object, or "smtp"/"outbox" to override the campaign file.
    ``as_of`` is the moment triggers are evaluated at (default: now); limits always use the
    real clock ``now``.
    """
    from retain_cli.campaigns.planner import make_plan, selected_campaigns

    chosen = [c.name for c in selected_campaigns(config, campaigns)]
    if isinstance(transport, str) or transport is None:
        kind = transport or config.transport
        if kind not in ("smtp", "outbox"):
            raise SendError(f"unknown transport {kind!r}; use smtp or outbox")
    else:
        kind = transport.name
    limits = effective_limits(config.limits, kind)
    moment = as_of or now()
    if dry_run:
        plan = make_plan(
            store, config, campaigns=campaigns, as_of=moment, transport=kind, now=now()
        )
        result = SendResult(dry_run=True, transport=f"{kind} (dry run: nothing sent)")
        result.held_out = plan.count("held_out")
        result.deferred = plan.count("deferred")
        result.would_send = plan.count("due")
        result.stopped = plan.quiet
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
                )
                for i, it in enumerate(plan.items)
                if it.status == "due"
            ]
            for message in build(rows).values():
                if isinstance(message, str):
                    result.failed += 1
                    result.errors.append(message)
        return result
    chosen_transport = make_transport(config, kind) if not _is_transport(transport) else transport
    assert chosen_transport is not None and not isinstance(chosen_transport, str)
    with send_lock(store.path):
        result = SendResult(transport=chosen_transport.name)
        result.recovered = store.ledger_recover_claimed(to_iso(now()))
        plan = make_plan(
            store, config, campaigns=campaigns, as_of=moment, transport=kind, now=now()
        )
        result.planned, result.held_out = record_plan(store, plan, now)
        if in_quiet_hours(limits, now()):
            result.stopped = quiet_hours_text(limits)
            result.deferred = sum(store.ledger_pending_counts(chosen).values())
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
        return dispatch(
            store,
            chosen_transport,
            message_builder(store, config, moment),
            sender=config.sender.from_email,
            limits=limits,
            campaigns=chosen,
            limit=limit,
            retry=retry,
            now=now,
            sleep=sleep,
            progress=progress,
            result=result,
        )


def _is_transport(value: object) -> bool:
    return value is not None and not isinstance(value, str)


def record_plan(store: Store, plan: Plan, now: Callable[[], datetime]) -> tuple[int, int]:
    """Record the plan's due rows (planned) and holdout rows (held_out) in the ledger."""
    rows = plan.ledger_rows()
    planned = store.ledger_record([r for r in rows if r["state"] == "planned"], to_iso(now()))
    held = store.ledger_record([r for r in rows if r["state"] == "held_out"], to_iso(now()))
    return planned, held


# --- settling by hand, unsubscribing, cron ---------------------------------------------------

RESOLVE_STATES = {"sent": "sent", "failed": "failed", "retry": "planned"}


def resolve_sends(
    store: Store,
    *,
    key: str | None,
    campaign: str | None,
    outcome: str,
    now: datetime | None = None,
) -> int:
    """Settle ambiguous sends by hand (a key, or every ambiguous send of a campaign).

    ``sent``: it did arrive (counts for limits and reports); ``failed``: it did not, leave it;
    ``retry``: it did not, send it on the next run. A single key may also be a failed send
    (to retry it). Returns the number of rows changed.
    """
    if outcome not in RESOLVE_STATES:
        raise SendError(f"--as {outcome!r}: use sent, failed or retry")
    if (key is None) == (campaign is None):
        from retain_cli.errors import UsageError

        raise UsageError("give either a send KEY or --campaign NAME (see 'retain sends')")
    moment = to_iso(now or utc_now())
    if key is not None:
        state = store.ledger_key_state(key)
        if state is None:
            from retain_cli.errors import NotFound

            raise NotFound(f"no send with key {key!r}; keys are listed by 'retain sends'")
        allowed = ("ambiguous", "failed") if outcome == "retry" else ("ambiguous",)
        if state not in allowed:
            from retain_cli.errors import UsageError

            raise UsageError(
                f"send {key!r} is {state}, not ambiguous; only ambiguous sends are settled "
                "by hand (a failed one may be retried with --as retry)"
            )
        rows = store.ledger_find(key=key, states=allowed)
    else:
        rows = store.ledger_find(campaign=campaign, states=("ambiguous",))
    note = f"resolved by hand as {outcome} at {moment}"
    return store.ledger_resolve([r.id for r in rows], RESOLVE_STATES[outcome], moment, note)


def unsubscribe(store: Store, email: str, reason: str | None) -> bool:
    """Suppress an address for every campaign at once. False if it already was."""
    address = email.strip().lower()
    if "@" not in address or any(c.isspace() for c in address):
        from retain_cli.errors import UsageError

        raise UsageError(f"{email!r} is not an e-mail address")
    text = reason or "unsubscribed by hand"
    return store.suppress(address, text, "cli")


def cron_advice(config: Path) -> list[str]:
    """What a cron run needs that an interactive shell has: cron starts with an empty
    environment, so a password kept in an environment variable is not there. Returns comment
    lines for the crontab (never the password itself)."""
    from retain_cli.campaigns.config import load_config
    from retain_cli.secrets import DEFAULT_KEYRING_SERVICE, DEFAULT_PASSWORD_ENV

    if not config.exists():
        return [f"# note: {config} does not exist yet; 'retain init' writes one"]
    settings = load_config(config)
    smtp = settings.smtp
    if settings.transport != "smtp" or smtp is None or smtp.username is None:
        return []
    env = smtp.password_env or DEFAULT_PASSWORD_ENV
    service = smtp.keyring_service or DEFAULT_KEYRING_SERVICE
    return [
        f"# cron does not see your shell's {env}: store the SMTP password in the system",
        f"# keyring once ('keyring set {service} {smtp.username}'), or set {env}=... at the",
        "# top of this crontab (then keep the crontab private: crontab files are yours only).",
    ]


def cron_entry(
    *,
    at: str,
    db: Path,
    config: Path,
    log: Path | None = None,
    executable: str | None = None,
) -> str:
    """A crontab line for a nightly run: snapshot segments (for entered_segment triggers),
    then send, appending both outputs to a log file. Absolute paths throughout."""
    import shlex
    import sys

    from retain_cli.errors import UsageError

    try:
        hour, minute = (int(part) for part in at.split(":"))
        if not (0 <= hour <= 23 and 0 <= minute <= 59) or len(at.split(":")[1]) != 2:
            raise ValueError
    except ValueError:
        raise UsageError(f"--at {at!r} is not a time; write HH:MM such as 06:30") from None
    db = db.expanduser().absolute()
    config = config.expanduser().absolute()
    log = (log or db.with_name("retain-send.log")).expanduser().absolute()
    if executable is None:
        script = Path(sys.executable).with_name("retain")
        command = (
            shlex.quote(str(script))
            if script.exists()
            else f"{shlex.quote(sys.executable)} -m retain_cli"
        )
    else:
        command = shlex.quote(executable)
    q = shlex.quote
    base = f"{command} --db {q(str(db))}"
    return (
        f"{minute} {hour} * * * cd {q(str(db.parent))} && "
        f"{base} segments --format csv > /dev/null 2>> {q(str(log))}; "
        f"{base} send --config {q(str(config))} --yes >> {q(str(log))} 2>&1"
    )
