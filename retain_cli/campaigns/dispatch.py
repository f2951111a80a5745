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

Whose fault a failure is decides what it costs (:mod:`retain_cli.transports.replies` sorts
the replies). The message's (a 4xx to RCPT TO, a 5xx about this mailbox): an attempt is
counted, and a message deferred :data:`MAX_TOTAL_ATTEMPTS` times over all runs fails. The
server's (unreachable, 421, a 4xx to MAIL FROM, the connection lost before the message was
handed over): the message is retried with back-off, then the run stops (exit 3) with the
message planned and no attempt counted, so an outage of any length burns nothing. A policy
refusal (relay denied, a block list, the sender address: :class:`PolicyRefusal`): nobody is
suppressed and nothing is counted; the message goes back to ``planned`` with the reason. One
that can only be about the shop (MAIL FROM refused) stops the run at once; another stops it
if the next message is refused too, and if a later message goes through instead it was
about that recipient alone: that message fails (still nobody suppressed).

``limits.max_run_minutes`` bounds the run (:class:`retain_cli.campaigns.limits.RunDeadline`):
checked between messages and before every wait, it lets the message in hand finish (each SMTP
reply is bounded by ``transport.timeout``) and leaves the rest planned.

A run that dies leaves at most the one message it was sending ``claimed``; the next run marks
it ``ambiguous`` (it may or may not have gone out: killed between the claim and the end of
DATA looks the same as killed while waiting for the reply), and never sends it again by itself:
``retain sends resolve`` settles it by hand. Only one run sends at a time
(:func:`retain_cli.campaigns.send.send_lock`).

Messages are built in the sending thread, one ahead: message k+1 while the server takes in
message k (between the end of its DATA and the reply), so rendering costs little wall time;
a worker thread would compete for the GIL with the protocol and slow every reply down.

Limits come from the ledger, so they hold across runs and campaigns: per day counts the
``sent_at`` of the shop's calendar day, per minute paces the run (it waits), the frequency cap
looks at every campaign's sends to the customer; quiet hours stop a run (the rest stays
planned for later). The limits themselves and the per-minute pacer are in
:mod:`retain_cli.campaigns.limits`. Each message goes to the customer's current address (an
import may have changed it since the message was planned); the ledger row says which.

This module owns the engine only: :func:`dispatch` and the delivery of one message
(:func:`_deliver`), with what they take and give (:class:`RetryPolicy`, :class:`SendResult`,
``Builder``). A whole ``retain send`` run (lock, recovery, plan, transport, builder) is
:func:`retain_cli.campaigns.send.run_send`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING

from retain_cli.campaigns.limits import (
    Pacer,
    RunDeadline,
    cap_since,
    daily_limit_text,
    in_quiet_hours,
    quiet_hours_text,
)
from retain_cli.errors import SendError
from retain_cli.store.ledger import LedgerRow, Settle
from retain_cli.timeutil import from_iso, to_iso, utc_now
from retain_cli.transports.base import (
    AmbiguousFailure,
    PermanentFailure,
    PolicyRefusal,
    TemporaryFailure,
    Transport,
)

if TYPE_CHECKING:
    from retain_cli.campaigns.model import Limits
    from retain_cli.store import Store

DEFAULT_BATCH_SIZE = 100  # messages per SMTP connection (a new one costs a few round trips)
MAX_TOTAL_ATTEMPTS = 10  # a message deferred this many times (over all runs) is given up

# Builds the messages for a batch of ledger rows: row id -> message, or an error text
# (a Mapping, so that messages may be built lazily, when first asked for).
Builder = Callable[[Sequence[LedgerRow]], Mapping[int, EmailMessage | str]]
Progress = Callable[[int, int], None]


class Waiting(str):
    """What a builder gives instead of a message that cannot go now but may later (its
    coupon pool has no code left): the reason. The row stays planned, the run exits 3."""

    pool: str

    def __new__(cls, reason: str, pool: str) -> Waiting:
        text = super().__new__(cls, reason)
        text.pool = pool
        return text


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
    transport_down: bool = False  # stopped: the server is unavailable (nothing charged)
    refused: bool = False  # stopped: the server refuses mail from the shop (policy)
    held: int = 0  # messages back to planned after a policy refusal (nobody suppressed)
    held_back: str | None = None  # due messages wait: quiet hours or the daily limit
    errors: list[str] = field(default_factory=list)
    queued: int = 0  # approval: required: rendered and waiting in 'retain queue'
    tasks: int = 0  # channel: task steps handed to the owner as tasks
    paused: str | None = None  # retain pause: why nothing (or not everything) was sent
    # messages the program holdout left out (None: no program holdout in force)
    program_held: int | None = None
    no_code: dict[str, int] = field(default_factory=dict)  # pool -> messages left waiting
    warnings: list[str] = field(default_factory=list)  # coupon pools running low or out

    @property
    def exit_code(self) -> int:
        """3 when some messages failed, their outcome is unknown, the server was unavailable
        or refused the shop's mail, or due messages were held back by quiet hours, the daily
        limit or max_run_minutes, or waited for a coupon code (so cron mails the owner);
        else 0."""
        problems = self.failed or self.ambiguous or self.recovered or self.transport_down
        waiting = self.held or self.held_back or self.no_code
        return 3 if problems or self.refused or waiting else 0

    def notice(self) -> str | None:
        """What the owner must know when the server stopped the run (or refused messages)."""
        waiting = f"{self.deferred:,} message{'s' if self.deferred != 1 else ''}"
        if self.refused:
            return (
                f"Stopped: the SMTP server refused mail from the shop ({self.stopped}). Nobody "
                f"was suppressed for it and nothing was counted against the messages: {waiting} "
                "wait for the next run. Read the server's reason: the login (transport.username), "
                "the sender address (sender.from), or the server's address on a block list."
            )
        if self.transport_down:
            return (
                f"Stopped: the SMTP server is not taking mail now ({self.stopped}). Nothing "
                f"was counted against the messages: {waiting} wait for the next run."
            )
        if self.held:
            count = f"{self.held:,} message{'s' if self.held != 1 else ''}"
            return (
                f"{count} refused by the server's policy went back to the queue (nobody was "
                "suppressed for it): tried again on the next run."
            )
        return None

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
        if self.program_held is not None:
            data["left out (program holdout)"] = self.program_held
        data["skipped"] = self.skipped
        if self.no_code:
            label = "would wait for a coupon code" if self.dry_run else "waiting for a coupon code"
            data[label] = sum(self.no_code.values())
        if self.suppressed:
            data["suppressed (bounced)"] = self.suppressed
        if self.queued:
            data["waiting for approval" if not self.dry_run else "would wait for approval"] = (
                self.queued
            )
        if self.tasks:
            data["tasks for you" if not self.dry_run else "would be tasks for you"] = self.tasks
        if self.paused:
            data["paused"] = self.paused
        data["newly planned"] = self.planned
        data["transport"] = self.transport
        data["stopped"] = self.stopped or ""
        return data


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
    order: Mapping[str, int] | None = None,
    deadline: RunDeadline | None = None,
    paused: Callable[[], str | None] | None = None,
) -> SendResult:
    """Send the planned rows of ``campaigns`` within the limits: in ``order`` (send key ->
    rank, from the plan: priority first), the rest oldest first, until ``deadline`` (default:
    ``limits.max_run_minutes`` from now).

    The caller holds the send lock and has recovered crashed claims. Returns the counts;
    raises SendError only when sending cannot start (e.g. the SMTP login is refused).
    ``paused`` is asked before each batch: a reason (``retain pause --all``) stops the run.
    """
    retry = retry or RetryPolicy()
    deadline = deadline or RunDeadline(limits)
    result = result or SendResult()
    result.transport = transport.name
    queue = store.ledger_pending(campaigns)
    if order:
        last = len(order)
        queue.sort(key=lambda row: (order.get(row.send_key, last), row.id))
    total = len(queue) if limit is None else min(len(queue), limit)
    pacer = Pacer(store, limits, now, sleep)
    gap = limits.min_hours_between_messages
    last_sent: dict[int, datetime] = {}
    since = cap_since(limits, now())
    if since is not None:
        refs = sorted({row.customer_ref for row in queue})
        found = store.ledger_last_sent(refs, to_iso(since))
        last_sent = {ref: from_iso(t) for ref, t in found.items()}
    batch_size = limits.batch_size or DEFAULT_BATCH_SIZE
    attempted = 0
    position = 0
    daily = daily_limit_text(limits)

    def capped(ref: int) -> bool:
        """Inside the frequency cap right now (sent a message in its window)."""
        previous = last_sent.get(ref)
        if previous is None:
            return False
        window = cap_since(limits, now())
        return window is not None and previous >= window

    def next_batch() -> list[LedgerRow]:
        """The next rows whose customer is not inside the frequency cap right now."""
        nonlocal position
        batch: list[LedgerRow] = []
        while position < len(queue) and len(batch) < batch_size:
            row = queue[position]
            position += 1
            if capped(row.customer_ref):
                continue  # stays planned: frequency cap
            batch.append(row)
        return batch

    outcome: list[Settle] = []  # the last message's outcome, not committed yet
    stamp = _Stamp(now)
    hold: list[tuple[LedgerRow, PolicyRefusal]] = []  # a policy refusal the next send judges

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
                if paused is not None and (why := paused()) is not None:
                    result.stopped = result.paused = why
                    break
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
                    elif deadline.passed():
                        result.stopped = deadline.text()
                    if result.stopped is not None:
                        break
                    message = messages.get(row.id)
                    if isinstance(message, Waiting):  # no coupon code left: stays planned
                        store.ledger_settle(row.id, "planned", stamp(), error=str(message))
                        result.no_code[message.pool] = result.no_code.get(message.pool, 0) + 1
                        continue
                    if not isinstance(message, EmailMessage):
                        error = message if isinstance(message, str) else "message was not built"
                        store.ledger_settle(row.id, "failed", stamp(), error=error)
                        result.failed += 1
                        result.errors.append(f"{row.send_key}: {error}")
                        attempted += 1
                        continue
                    if capped(row.customer_ref):
                        continue  # stays planned: frequency cap (sent earlier in this batch)
                    if limits.per_minute:
                        flush()  # nothing waits uncommitted while the pacer sleeps
                        if not pacer.wait_for_slot(deadline):
                            result.stopped = deadline.text()
                            break
                    attempted += 1
                    claim = _Claim(store, row, stamp, flush_with, _coupon_of(message))
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
                        deadline,
                    )
                    if isinstance(sent, PolicyRefusal):
                        _judge_refusal(row, sent, hold, result)
                    elif sent is not None:
                        # committed together with the next claim (one commit per message), or
                        # at the end of the batch, whichever comes first
                        outcome.append(sent)
                        if hold:  # the server takes mail from the shop: it was that recipient
                            _fail_held(store, hold.pop(), stamp(), result)
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
    """Consent is checked again right before sending: an opt-out since planning wins (of the
    current address or the one the message was planned for). A message planned for an
    address the customer no longer has goes to the current one, and its ledger row says so."""
    status = store.mailability(
        [(row.customer_ref, row.planned_email or row.email) for row in batch]
    )
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
            if row.readdressed:
                store.ledger_readdress(row.id, row.email)
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
        coupon: int | None = None,
    ) -> None:
        self.store = store
        self.row = row
        self.stamp = stamp
        self.previous = previous
        self.coupon = coupon  # the coupon code the message carries, given with the claim
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        if not self.store.ledger_advance(self.previous(), self.row.id, self.stamp(), self.coupon):
            raise SendError(
                f"send {self.row.send_key} changed in the ledger during this run; "
                "is another program writing to the database?"
            )
        self.done = True


def _coupon_of(message: EmailMessage) -> int | None:
    """The coupon code a built message carries (:class:`retain_cli.campaigns.message.
    BuiltMessage`), if any."""
    return getattr(message, "coupon_ref", None)


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
    deadline: RunDeadline | None = None,
) -> tuple[str, Settle | PolicyRefusal | None]:
    """Send one message (claimed by ``claim`` just before it is handed over), retrying
    temporary failures. Failures are recorded at once; a success is returned for the caller
    to record together with its next claim, a policy refusal for the caller to judge (the
    row is back to planned).

    Only the message's own failures count as attempts; the server's (``connection``) and
    policy refusals cost it nothing."""
    message_id = str(message.get("Message-ID") or "") or None
    last: TemporaryFailure | None = None
    counted = 0  # tries charged to the message
    outages = 0  # tries the server failed (unreachable, 421, connection lost): not charged
    tries = max(retry.attempts, 1)

    def settle(state: str, error: str | None) -> None:
        extra = counted - 1 if claim.done else counted  # the claim counted one attempt
        store.ledger_settle(row.id, state, stamp(), error=error, extra_attempts=extra)

    while counted < tries and outages < tries:
        if counted or outages:
            pause = retry.delay(counted + outages - 1)
            if deadline is not None and deadline.passed(pause):
                result.stopped = deadline.text()
                break
            sleep(pause)
        try:
            reply = transport.send(
                message, sender, row.email, before_data=claim, awaiting_reply=ahead
            )
        except TemporaryFailure as exc:
            last = exc
            transport.close()  # reconnect for the next try
            if exc.connection:
                outages += 1
            else:
                counted += 1
            continue
        except PolicyRefusal as exc:
            settle("planned", f"held: {exc} (a policy refusal: nobody suppressed, not counted)")
            result.held += 1
            result.errors.append(f"{row.email}: held, not counted: {exc}")
            return "refused", exc
        except PermanentFailure as exc:
            counted += 1
            settle("failed", str(exc))
            result.failed += 1
            result.errors.append(f"{row.email}: {exc}")
            if exc.mailbox_unknown and store.suppress(
                row.email, f"mailbox does not exist ({exc})"[:300], "bounce"
            ):
                result.suppressed += 1
            return "failed", None
        except AmbiguousFailure as exc:
            counted += 1
            settle("ambiguous", str(exc))
            result.ambiguous += 1
            result.errors.append(f"{row.email}: {exc}")
            return "ambiguous", None
        counted += 1
        result.sent += 1
        sent = Settle(
            row.id,
            "sent",
            stamp(),
            reply=reply,
            message_id=message_id,
            extra_attempts=counted - 1,
        )
        return "sent", sent
    assert last is not None
    if last.connection:  # the server's trouble: the message waits, charged nothing
        settle("planned", f"deferred, not counted (the server's trouble): {last}")
        result.transport_down = True
        result.stopped = result.stopped or str(last)
        return "deferred", None
    total_attempts = row.attempts + counted
    if total_attempts >= MAX_TOTAL_ATTEMPTS:
        error = f"gave up after {total_attempts} attempts: {last}"
        settle("failed", error)
        result.failed += 1
        result.errors.append(f"{row.email}: {error}")
        return "failed", None
    settle("planned", f"deferred: {last}")
    return "deferred", None


def _judge_refusal(
    row: LedgerRow,
    refusal: PolicyRefusal,
    hold: list[tuple[LedgerRow, PolicyRefusal]],
    result: SendResult,
) -> None:
    """A policy refusal (the row is back to planned): stop the run when it can only be
    about the shop, or when it is the second in a row; else hold it until the next message
    tells whether the server refuses the shop or only that recipient."""
    if refusal.about_shop or hold:
        result.refused = True
        result.stopped = str(refusal)
        hold.clear()  # the earlier one was about the shop too: it stays planned
    else:
        hold.append((row, refusal))


def _fail_held(
    store: Store, held: tuple[LedgerRow, PolicyRefusal], now: str, result: SendResult
) -> None:
    """A message refused by policy while the next one went through: the refusal was about
    that recipient alone, so that message fails (nobody is suppressed)."""
    row, refusal = held
    error = f"{refusal} (refused for this recipient only: later messages went through)"
    store.ledger_settle(row.id, "failed", now, error=error, extra_attempts=1)
    result.held -= 1
    result.failed += 1
