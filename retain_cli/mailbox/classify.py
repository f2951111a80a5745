"""What one message from the shop's mailbox is, and what retain should do about it.

In this order (the first that applies wins):

1. malformed: no header block or no sender address: kept as it is, reported;
2. a delivery report (RFC 3464 ``multipart/report``, or a message from a mailer daemon, or to
   the VERP bounce address): read by flufl.bounce. A permanent failure is a hard bounce (the
   address is suppressed, if retain knows it); a temporary one a soft bounce (counted; the
   address is suppressed after ``mailbox.soft_bounce_limit`` of them). With VERP the address
   comes from the token in the bounce address (the ledger knows whose message it was), even
   when the report is unreadable or names a rewritten address;
3. an auto-reply (RFC 3834 ``Auto-Submitted``, ``X-Autoreply``, ``Precedence: auto_reply``
   ...): ignored;
4. an unsubscribe request: sent to the unsubscribe address, or a subject or first line that is
   an unsubscribe phrase (:mod:`retain_cli.mailbox.words`): the sender, the address the
   subject names, and the address the answered campaign went to are suppressed;
5. anything else is a reply: linked to the campaign message it answers (In-Reply-To and
   References against the ledger's Message-IDs) and to the customer (that message's, else
   the sender's address).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Protocol

from retain_cli.mailbox.parse import Mail, Malformed, own_lines
from retain_cli.mailbox.words import asks_to_unsubscribe, without_prefixes

DAEMONS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "bounce"})
EXCERPT = 500
_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message in the ledger, as the mailbox finds it again."""

    message_id: str
    send_key: str
    campaign: str
    customer_ref: int
    email: str


class Lookup(Protocol):
    """What classification asks the database (see :class:`retain_cli.mailbox.process`)."""

    def customer(self, email: str) -> int | None: ...
    def sent(self, message_id: str) -> SentMessage | None: ...
    def sent_by_token(self, token: str) -> SentMessage | None: ...
    def survey_sent(self, customer_ref: int) -> SentMessage | None: ...


@dataclass(frozen=True, slots=True)
class Rules:
    """The shop's side: its unsubscribe address, VERP pattern and languages."""

    unsubscribe_address: str | None
    bounce_pattern: re.Pattern[str] | None
    languages: tuple[str, ...] | None
    surveys: dict[str, str] = field(default_factory=dict)  # survey campaign -> nps | csat

    @staticmethod
    def bounce_regex(bounce_address: str | None) -> re.Pattern[str] | None:
        """``hello+bounce-{token}@shop.example`` -> a pattern whose group 1 is the token."""
        if not bounce_address:
            return None
        before, _, after = bounce_address.lower().partition("{token}")
        return re.compile(re.escape(before) + r"([a-z0-9]{1,64})" + re.escape(after) + "$")


@dataclass(slots=True)
class Verdict:
    """One message's classification; ``suppress`` lists (address, reason) to opt out."""

    classification: str
    reason: str
    action: str
    email: str | None = None
    customer_ref: int | None = None
    campaign: str | None = None
    send_key: str | None = None
    excerpt: str | None = None
    suppress: list[tuple[str, str]] = field(default_factory=list)
    problem: str | None = None  # bad input: reported, the command exits 3
    note: str | None = None  # worth a look, not an error (a reply from an unknown address)
    score: int | None = None  # a survey answer's score


def classify(mail: Mail, rules: Rules, lookup: Lookup) -> Verdict:
    try:
        mail.check()
    except Malformed as exc:
        return Verdict("malformed", f"malformed: {exc}", "none", problem=f"malformed: {exc}")
    kind, params = mail.content_type
    report = kind == "multipart/report" and params.get("report-type", "").lower() in (
        "delivery-status",
        "",
    )
    recipients = mail.recipients()
    token = _token(rules, recipients)
    if report:
        return _bounce(mail, token, lookup)
    auto = auto_reply(mail)
    if auto is not None:
        sender = mail.from_email
        return Verdict(
            "auto_reply",
            f"auto-reply ({auto}): ignored",
            "ignored",
            sender,
            lookup.customer(sender),
        )
    if token is not None or _from_daemon(mail):
        return _bounce(mail, token, lookup)
    return _request_or_reply(mail, rules, lookup, recipients)


def _token(rules: Rules, recipients: list[str]) -> tuple[str, str] | None:
    """(address, token) when the message went to the VERP bounce address."""
    if rules.bounce_pattern is None:
        return None
    for address in recipients:
        match = rules.bounce_pattern.match(address)
        if match:
            return address, match.group(1)
    return None


def _from_daemon(mail: Mail) -> bool:
    local = mail.from_email.partition("@")[0]
    return local in DAEMONS or "x-failed-recipients" in mail.headers


def auto_reply(mail: Mail) -> str | None:
    """Why this is an automatic reply (RFC 3834 and the common vendor headers, or a vacation
    reply's subject), or None."""
    submitted = (mail.header("auto-submitted") or "").strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted.split(';')[0]}"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if name in mail.headers:
            return name.title()
    precedence = (mail.header("precedence") or "").strip().lower()
    if precedence in ("auto_reply", "auto-reply"):
        return f"Precedence: {precedence}"
    if _VACATION.match(mail.subject):
        return "a vacation reply's subject"
    return None


_VACATION = re.compile(
    r"^\s*(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?reply|autoreply|"
    r"abwesenheitsnotiz|automatische antwort|abwesend|absence|r[ée]ponse automatique|"
    r"respuesta autom[aá]tica|fuera de la oficina|risposta automatica|afwezig|"
    r"automatisch antwoord)\b",
    re.I,
)


def _failures(mail: Mail) -> tuple[list[str], list[str], str | None]:
    """(temporary, permanent) failed addresses by flufl.bounce, and an error if it failed.

    An RFC 3464 report's delivery-status part is handed over alone first (parsing the whole
    report costs ten times more); the whole message when that finds nothing."""
    from flufl.bounce import all_failures

    try:
        status = mail.delivery_status()
        none: frozenset[bytes] = frozenset()
        temporary, permanent = all_failures(status) if status is not None else (none, none)
        if not (temporary or permanent):
            temporary, permanent = all_failures(mail.message())
    except Exception as exc:  # a detector choking on odd input must not stop the run
        return [], [], f"flufl.bounce could not read the report ({type(exc).__name__})"

    def clean(found: frozenset[bytes]) -> list[str]:
        out = {a.decode("ascii", "replace").strip().lower() for a in found}
        return sorted(a for a in out if "@" in a)

    return clean(temporary), clean(permanent), None


def _status(mail: Mail) -> str:
    """The report's Status and Diagnostic-Code (RFC 3464), for the reason text."""
    report = mail.delivery_status() or mail.message()
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():
            if not isinstance(block, Message):
                continue
            status = block.get("Status")
            if status:
                code = " ".join(str(block.get("Diagnostic-Code", "")).split())[:160]
                return f"{status.strip()}" + (f" ({code})" if code else "")
    return ""


def _bounce(mail: Mail, token: tuple[str, str] | None, lookup: Lookup) -> Verdict:
    temporary, permanent, error = _failures(mail)
    status = _status(mail) if mail.content_type[0] == "multipart/report" else ""
    detail = f": {status}" if status else ""
    sent = lookup.sent_by_token(token[1]) if token else None
    if token is not None and sent is None:
        named = ", ".join(permanent or temporary) or "no address"
        return Verdict(
            "unmatched_bounce",
            f"bounce to {token[0]}: no sent message has the token {token[1]} "
            f"(the report names {named})",
            "none",
            problem=f"wrong token: bounce to {token[0]} matches no sent message",
        )
    if sent is not None:
        hard = bool(permanent) or (not temporary and status.startswith("5"))
        others = sorted(set(permanent or temporary) - {sent.email})
        extra = f"; the report names {', '.join(others)}" if others else ""
        if not (permanent or temporary or status):
            extra += "; the report is unreadable: counted as soft"
        reason = (
            f"{'hard' if hard else 'soft'} bounce{detail} of {sent.send_key} "
            f"(VERP token {token[1] if token else ''}{extra})"
        )
        return _bounced(hard, sent.email, reason, sent.customer_ref, sent)
    addresses = permanent or temporary
    if not addresses:
        why = error or "flufl.bounce found no failed address in it"
        return Verdict(
            "unmatched_bounce",
            f"delivery report from {mail.from_email}: {why}",
            "none",
            problem=f"unreadable bounce: {why}",
        )
    hard = bool(permanent)
    email = addresses[0]
    also = f" (with {', '.join(addresses[1:])})" if len(addresses) > 1 else ""
    reason = f"{'hard' if hard else 'soft'} bounce{detail}{also}"
    customer = lookup.customer(email)
    verdict = _bounced(hard, email, reason, customer, None)
    if customer is None:
        verdict.action = "ignored"
        verdict.reason += ": not an address retain writes to"
        verdict.suppress = []
    else:
        for other in addresses[1:]:
            if lookup.customer(other) is not None and hard:
                verdict.suppress.append((other, reason))
    return verdict


def _bounced(
    hard: bool, email: str, reason: str, customer: int | None, sent: SentMessage | None
) -> Verdict:
    return Verdict(
        "hard_bounce" if hard else "soft_bounce",
        reason,
        "suppressed" if hard else "counted",
        email,
        customer,
        sent.campaign if sent else None,
        sent.send_key if sent else None,
        suppress=[(email, reason)] if hard else [],
    )


def _request_or_reply(mail: Mail, rules: Rules, lookup: Lookup, recipients: list[str]) -> Verdict:
    sender = mail.from_email
    sent = next((s for s in map(lookup.sent, mail.thread_ids()) if s is not None), None)
    lines = own_lines(mail.text())
    subject = mail.subject
    why: str | None = None
    if rules.unsubscribe_address and rules.unsubscribe_address in recipients:
        why = f"sent to the unsubscribe address {rules.unsubscribe_address}"
    elif (phrase := asks_to_unsubscribe(subject, rules.languages)) is not None:
        why = f"the subject says {phrase!r}"
    elif lines and (phrase := asks_to_unsubscribe(lines[0], rules.languages)) is not None:
        why = f"the first line says {phrase!r}"
    customer = sent.customer_ref if sent else lookup.customer(sender)
    excerpt = "\n".join(lines)[:EXCERPT] or None
    if why is not None:
        named = [a.lower() for a in _ADDRESS.findall(without_prefixes(subject))]
        targets = list(dict.fromkeys([*named, *([sent.email] if sent else []), sender]))
        reason = f"unsubscribe request from {sender}: {why}"
        return Verdict(
            "unsubscribe",
            reason,
            "suppressed",
            sender,
            customer,
            sent.campaign if sent else None,
            sent.send_key if sent else None,
            excerpt,
            suppress=[(address, reason) for address in targets],
        )
    answer = _survey_answer(lines, rules, lookup, sent, customer)
    if answer is not None:
        return answer
    if sent is not None:
        reason = f"reply to {sent.campaign} ({sent.send_key})"
        if sent.email != sender:
            reason += f", sent to {sent.email}"
        return Verdict(
            "reply", reason, "recorded", sender, customer, sent.campaign, sent.send_key, excerpt
        )
    if customer is not None:
        return Verdict(
            "reply",
            "reply from a customer (no campaign in its thread)",
            "recorded",
            sender,
            customer,
            excerpt=excerpt,
        )
    return Verdict(
        "reply",
        "from an address that is not a customer",
        "recorded",
        sender,
        excerpt=excerpt,
        note=f"reply from {sender}, not a customer",
    )


def _survey_answer(
    lines: list[str],
    rules: Rules,
    lookup: Lookup,
    sent: SentMessage | None,
    customer: int | None,
) -> Verdict | None:
    """A survey answer: a reply that starts with a score on the survey's scale, in the thread
    of a survey message (or, outside any thread, from a customer a survey went to lately)."""
    from retain_cli.campaigns.survey import leading_score

    if not lines or not rules.surveys or not lines[0].lstrip()[:1].isdigit():
        return None  # only a reply that starts with a number can be an answer
    survey = sent
    if survey is None and customer is not None:
        survey = lookup.survey_sent(customer)
    if survey is None or survey.campaign not in rules.surveys:
        return None
    kind = rules.surveys[survey.campaign]
    found = leading_score("\n".join(lines), kind)
    if found is None:
        return None
    score, comment = found
    how = "in its thread" if sent is not None else "its latest survey, no thread"
    return Verdict(
        "survey_answer",
        f"survey answer to {survey.campaign} ({survey.send_key}, {how}): {kind.upper()} {score}",
        "recorded",
        survey.email,
        survey.customer_ref,
        survey.campaign,
        survey.send_key,
        comment[:EXCERPT] or None,
        score=score,
    )


Classifier = Callable[[Mail], Verdict]
