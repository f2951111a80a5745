"""A ``retain inbox`` run: read the new messages batch by batch, classify each, record them
(messages, opt-outs, soft-bounce counts) :data:`RECORD` at a time in one transaction, then
mark those processed.

Safe to kill at any point: what is recorded is recorded wholly or not at all, and marked only
after it is committed. A message recorded but not yet marked (killed in between) is read again
next time, found by its key (its Message-ID, else a hash of its bytes) and only marked, so the
same message twice changes nothing. Bad input never stops a run: a message that cannot be read
is recorded as ``malformed`` with the reason, stays in the mailbox, and is reported.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from retain_cli.errors import UsageError
from retain_cli.mailbox.classify import Rules, SentMessage, Verdict, classify
from retain_cli.mailbox.config import MailboxSettings, parse_mailbox
from retain_cli.mailbox.parse import Mail
from retain_cli.timeutil import to_iso, utc_now, utc_now_iso

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.store import Store

BATCH = 500  # messages fetched and classified at a time
RECORD = 2000  # messages recorded in one transaction, then marked (fewer commits and stores)
SURVEY_DAYS = 30  # a reply outside any thread answers a survey sent this recently
ORDER = ("unsubscribe", "hard_bounce", "soft_bounce", "auto_reply", "survey_answer", "reply")
LABELS = {
    "unsubscribe": "unsubscribe requests",
    "hard_bounce": "hard bounces",
    "soft_bounce": "soft bounces",
    "auto_reply": "auto-replies (ignored)",
    "survey_answer": "survey answers",
    "reply": "replies",
    "unmatched_bounce": "bounces not matched",
    "malformed": "malformed",
}


class Source(Protocol):
    name: str

    def start(self, size: int) -> None: ...
    def batches(self, size: int) -> Iterable[list[tuple[str, bytes]]]: ...
    def mark(self, refs: list[str]) -> None: ...
    def close(self) -> None: ...


@dataclass
class InboxResult:
    """What a run read and did; ``problems`` are the messages it could not use."""

    source: str
    read: int = 0
    already: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    linked: int = 0  # replies (and requests) linked to a campaign message
    suppressed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    answers: int = 0  # survey answers recorded (new or newer)

    @property
    def exit_code(self) -> int:
        """3 when some messages could not be used (reported in ``problems``), else 0."""
        return 3 if self.problems else 0

    def summary(self) -> dict[str, object]:
        data: dict[str, object] = {"read": self.read, "already processed": self.already}
        for name in ORDER:
            data[LABELS[name]] = self.counts.get(name, 0)
        data["linked to a campaign"] = self.linked
        for name in ("unmatched_bounce", "malformed"):
            if self.counts.get(name):
                data[LABELS[name]] = self.counts[name]
        data["newly suppressed"] = len(self.suppressed)
        data["source"] = self.source
        return data


class StoreLookup:
    """:class:`retain_cli.mailbox.classify.Lookup` over the store: customers fetched a batch
    at a time, the ledger's Message-IDs read once (on first need) into memory."""

    def __init__(self, store: Store, surveys: Iterable[str] = ()) -> None:
        self.store = store
        self.surveys = set(surveys)
        self._customers: dict[str, int | None] = {}
        self._sent: dict[str, SentMessage] | None = None
        self._tokens: dict[str, SentMessage] = {}

    def prefetch(self, emails: Iterable[str]) -> None:
        wanted = {e for e in emails if e and e not in self._customers}
        if wanted:
            found = self.store.inbox_customers(wanted)
            for email in wanted:
                self._customers[email] = found.get(email)

    def customer(self, email: str) -> int | None:
        if email not in self._customers:
            self.prefetch([email])
        return self._customers[email]

    def _ledger(self) -> dict[str, SentMessage]:
        if self._sent is None:
            self._sent = {}
            for message_id, key, campaign, ref, email in self.store.inbox_sent_messages():
                sent = SentMessage(message_id, key, campaign, ref, email)
                self._sent[message_id] = sent
                self._tokens[message_id[1:17]] = sent  # <digest...@domain>: see verp_token
        return self._sent

    def sent(self, message_id: str) -> SentMessage | None:
        return self._ledger().get(message_id)

    def sent_by_token(self, token: str) -> SentMessage | None:
        self._ledger()
        return self._tokens.get(token.lower())

    def survey_sent(self, customer_ref: int) -> SentMessage | None:
        """The customer's latest survey message of the last :data:`SURVEY_DAYS` days."""
        if not self.surveys:
            return None
        since = to_iso(utc_now() - timedelta(days=SURVEY_DAYS))
        found = self.store.survey_latest_sent(customer_ref, sorted(self.surveys), since)
        return None if found is None else self.sent(found[0])


def message_key(mail: Mail) -> str:
    message_id = mail.message_id
    if message_id:
        return f"mid:{message_id}"
    return "sha256:" + hashlib.sha256(mail.raw).hexdigest()


def rules_for(config: CampaignConfig, settings: MailboxSettings) -> Rules:
    unsubscribe = settings.unsubscribe_address
    if unsubscribe is None and config.sender.unsubscribe.startswith("mailto:"):
        unsubscribe = config.sender.unsubscribe[len("mailto:") :].partition("?")[0].lower()
    return Rules(
        unsubscribe_address=unsubscribe or None,
        bounce_pattern=Rules.bounce_regex(config.sender.bounce_address),
        languages=settings.languages,
        surveys={c.name: c.survey.kind for c in config.campaigns if c.survey is not None},
    )


@dataclass
class _Pending:
    """Classified messages waiting to be recorded (and then marked) together."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    suppress: list[tuple[str, str]] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)


def process(
    store: Store,
    source: Source,
    rules: Rules,
    *,
    soft_bounce_limit: int,
    batch_size: int = BATCH,
    record_size: int = RECORD,
    progress: Callable[[int], None] | None = None,
) -> InboxResult:
    """Read every new message of ``source``; see the module's doc."""
    result = InboxResult(source=source.name)
    lookup = StoreLookup(store, rules.surveys)
    pending = _Pending()
    seen: set[str] = set()
    try:
        source.start(batch_size)  # the server is asked while the ledger is read
        lookup.sent("")
        for batch in source.batches(batch_size):
            _one_batch(store, source.name, rules, lookup, batch, result, pending, seen)
            if len(pending.refs) >= record_size:
                _record(store, source, pending, soft_bounce_limit, result)
            if progress is not None:
                progress(len(batch))
        _record(store, source, pending, soft_bounce_limit, result)
    finally:
        source.close()
        if rules.surveys:  # answers recorded here become survey answers (also after a kill)
            from retain_cli.feedback.answers import sync_inbox_answers

            result.answers = sync_inbox_answers(store, rules.surveys)
    return result


def _one_batch(
    store: Store,
    source: str,
    rules: Rules,
    lookup: StoreLookup,
    batch: list[tuple[str, bytes]],
    result: InboxResult,
    pending: _Pending,
    seen: set[str],
) -> None:
    result.read += len(batch)
    mails = [(ref, Mail(raw)) for ref, raw in batch]
    keys = [message_key(mail) for _, mail in mails]
    known = store.inbox_known(keys)
    lookup.prefetch(mail.from_email for _, mail in mails)
    now = utc_now_iso()
    for (ref, mail), key in zip(mails, keys, strict=True):
        pending.refs.append(ref)
        if key in known or key in seen:
            result.already += 1
            continue
        seen.add(key)
        verdict = _classify(mail, rules, lookup)
        result.counts[verdict.classification] += 1
        result.linked += verdict.send_key is not None
        if verdict.problem:
            result.problems.append(f"{_where(ref, mail, source)}: {verdict.problem}")
        if verdict.note:
            result.notes.append(f"{_where(ref, mail, source)}: {verdict.note}")
        pending.suppress += verdict.suppress
        pending.rows.append(_row(key, mail, verdict, source, now))


def _record(
    store: Store, source: Source, pending: _Pending, soft_bounce_limit: int, result: InboxResult
) -> None:
    """Record what is pending in one transaction, then mark it processed."""
    if pending.refs:
        _, newly = store.inbox_record(
            pending.rows, pending.suppress, soft_bounce_limit=soft_bounce_limit
        )
        result.suppressed += newly
        source.mark(pending.refs)
        pending.rows, pending.suppress, pending.refs = [], [], []


def _classify(mail: Mail, rules: Rules, lookup: StoreLookup) -> Verdict:
    try:
        return classify(mail, rules, lookup)
    except Exception as exc:  # odd input must never stop a run or lose the message
        why = f"could not be read ({type(exc).__name__}: {str(exc)[:100]})"
        return Verdict("malformed", why, "none", problem=why)


def _where(ref: str, mail: Mail, source: str) -> str:
    place = f"UID {ref}" if source.startswith("imap") else ref
    detail = mail.message_id or (f"subject {mail.subject[:60]!r}" if mail.subject else "")
    return f"{place} {detail}".strip()


def _row(key: str, mail: Mail, verdict: Verdict, source: str, now: str) -> dict[str, Any]:
    return {
        "message_key": key,
        "message_id": mail.message_id,
        "source": source,
        "received_at": mail.received_at,
        "processed_at": now,
        "from_email": mail.from_email or None,
        "subject": mail.subject[:300] or None,
        "classification": verdict.classification,
        "reason": verdict.reason[:1000],
        "email": verdict.email,
        "customer_ref": verdict.customer_ref,
        "campaign": verdict.campaign,
        "send_key": verdict.send_key,
        "action": verdict.action,
        "excerpt": verdict.excerpt,
        "score": verdict.score,
    }


# --- the command's entry points -------------------------------------------------------------


def load_settings(config_file: Path) -> tuple[CampaignConfig, MailboxSettings]:
    """The campaign file (validated as ``retain send`` does) and its ``mailbox:`` section."""
    import yaml

    from retain_cli.campaigns.config import load_config

    config = load_config(config_file)
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    return config, parse_mailbox(data.get("mailbox"), config_file)


def run_inbox(
    store: Store,
    config_file: Path,
    *,
    maildir: Path | None = None,
    batch_size: int = BATCH,
    record_size: int = RECORD,
    progress: Callable[[int], None] | None = None,
) -> InboxResult:
    """``retain inbox``: the campaign file's mailbox over IMAP, or ``maildir``. Each run is
    recorded (``inbox_runs``) with how it ended, for the digest."""
    from retain_cli.errors import RetainError
    from retain_cli.mailbox.source import ImapSource, MaildirSource
    from retain_cli.secrets import imap_password

    config, settings = load_settings(config_file)
    if maildir is None and (not settings.host or not settings.username):
        raise UsageError(
            f"{config_file} has no mailbox to read: add a mailbox: section with host and "
            "username, or pass --from-maildir DIR"
        )
    where = (
        f"maildir:{maildir}"
        if maildir is not None
        else (f"imap://{settings.username}@{settings.host}/{settings.folder}")
    )
    run = store.inbox_run_started(where)
    error: str | None = "stopped before the end"
    result: InboxResult | None = None
    try:
        source: Source
        if maildir is not None:
            source = MaildirSource(maildir)
        else:
            source = ImapSource(settings, imap_password(settings))  # connects in process()
        result = process(
            store,
            source,
            rules_for(config, settings),
            soft_bounce_limit=settings.soft_bounce_limit,
            batch_size=batch_size,
            record_size=record_size,
            progress=progress,
        )
        error = None
        return result
    except RetainError as exc:
        error = str(exc)
        raise
    finally:
        store.inbox_run_ended(run, result.read if result else 0, error)


def explain(store: Store, email: str) -> dict[str, Any]:
    """Why an address is (or is not) suppressed, and every message about it."""
    return store.inbox_explain(email)
