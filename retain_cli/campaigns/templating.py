"""Message templates: sandboxed Jinja2, the template context, and building the e-mail.

Templates run in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` (no access to Python
internals, no changing lists or dicts) with ``StrictUndefined``, so a
misspelt variable is an error, never an empty string (also under ``default``). ``None``
values (a customer without a first name) render as an empty string and count as missing for
``default``: ``{{ customer.first_name | default('friend') }}``. HTML templates (``*.html.j2``) are
autoescaped; text templates and subjects are not.

Filters: ``money`` (ints are minor units, floats major units; the currency is the filter's
argument, else the context's ``currency``) and ``date`` (a ``strftime`` format; default
``"%-d %B %Y"`` style, e.g. ``7 October 2025``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from email.utils import parseaddr as _parseaddr
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from retain_cli.campaigns.config import Campaign, CampaignConfig, Sender, Step
from retain_cli.errors import ConfigError, NotFound, SendError
from retain_cli.timeutil import from_iso, to_iso, utc_now

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

    from retain_cli.store import Store

# how an amount reads in an e-mail: symbol, decimals (as in retain_cli.money), decimal
# separator, thousands separator, symbol after the amount. Others: "KWD 1,234.500".
CURRENCIES: dict[str, tuple[str, int, str, str, bool]] = {
    "USD": ("$", 2, ".", ",", False),
    "CAD": ("CA$", 2, ".", ",", False),
    "AUD": ("A$", 2, ".", ",", False),
    "NZD": ("NZ$", 2, ".", ",", False),
    "GBP": ("£", 2, ".", ",", False),
    "EUR": ("€", 2, ",", ".", False),
    "CHF": ("CHF ", 2, ".", "'", False),
    "SEK": (" kr", 2, ",", " ", True),
    "NOK": (" kr", 2, ",", " ", True),
    "DKK": (" kr", 2, ",", ".", True),
    "PLN": (" zł", 2, ",", " ", True),
    "JPY": ("¥", 0, ".", ",", False),
    "KRW": ("₩", 0, ".", ",", False),
    "INR": ("₹", 2, ".", ",", False),
    "BRL": ("R$", 2, ",", ".", False),
    "MXN": ("MX$", 2, ".", ",", False),
}
DEFAULT_CURRENCY = "USD"


@lru_cache(maxsize=64)
def parseaddr(text: str) -> tuple[str, str]:
    """email.utils.parseaddr, remembered (the sender's address is parsed for every message)."""
    return _parseaddr(text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None


# --- filters -----------------------------------------------------------------------------


def minor_digits(currency: str) -> int:
    """Decimals of a currency, as the database stores it (see :mod:`retain_cli.money`)."""
    from retain_cli.money import minor_units

    return minor_units(currency)


def format_money(amount: Any, currency: str | None = None, *, minor: bool | None = None) -> str:
    """Format an amount: ints are minor units (1250 -> $12.50) unless ``minor=False``."""
    if amount is None:
        return ""
    kind = type(amount)
    if kind is int or kind is float:
        return _money_cached(kind is int, amount, currency or DEFAULT_CURRENCY, minor)
    if isinstance(amount, bool):
        raise TypeError("money: expected a number, got true/false")
    return _money(amount, currency or DEFAULT_CURRENCY, minor)


@lru_cache(maxsize=8192)
def _money_cached(_is_int: bool, amount: Any, currency: str, minor: bool | None) -> str:
    return _money(amount, currency, minor)


def _money(amount: Any, currency: str, minor: bool | None) -> str:
    code = currency.upper()
    digits = minor_digits(code)
    is_minor = isinstance(amount, int) if minor is None else minor
    try:
        value = float(amount)
    except (TypeError, ValueError):
        raise TypeError(f"money: expected a number, got {amount!r}") from None
    major = value / (10**digits) if is_minor else value
    negative = major < 0
    text = f"{abs(major):,.{digits}f}"
    symbol, _, point, thousands, after = CURRENCIES.get(code, (f"{code} ", digits, ".", ",", False))
    text = text.replace(",", "\x00").replace(".", point).replace("\x00", thousands)
    text = f"{text}{symbol}" if after else f"{symbol}{text}"
    return f"-{text}" if negative else text


def format_date(value: Any, fmt: str | None = None) -> str:
    """Format a date, datetime or ISO text; the default looks like ``7 October 2025``."""
    if value is None or value == "":
        return ""
    if type(value) is str:
        return _date_cached(value, fmt)
    return _date(value, fmt)


@lru_cache(maxsize=8192)
def _date_cached(value: str, fmt: str | None) -> str:
    return _date(value, fmt)


def _date(value: Any, fmt: str | None) -> str:
    moment: date
    if isinstance(value, datetime | date):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = date.fromisoformat(text) if len(text) == 10 else from_iso(text)
        except ValueError:
            if text.startswith("--") and len(text) == 7:  # birthday without a year
                moment = date(2000, int(text[2:4]), int(text[5:7]))
                return moment.strftime(fmt) if fmt else f"{moment.day} {moment:%B}"
            raise TypeError(f"date: {value!r} is not a date") from None
    else:
        raise TypeError(f"date: {value!r} is not a date")
    if fmt:
        return moment.strftime(fmt)
    return f"{moment.day} {moment:%B %Y}"


def one_line(text: str) -> str:
    """Header-safe text: control characters (CR, LF, tab ...) become single spaces, and
    ``=?`` is broken up so customer data cannot smuggle in an RFC 2047 encoded word."""
    if text.isprintable() and "=?" not in text and "  " not in text and text.strip() == text:
        return text  # the usual case, already clean
    return " ".join(_CONTROL.sub(" ", text).replace("=?", "= ?").split())


# --- context ------------------------------------------------------------------------------


def unsubscribe_url(sender: Sender, email: str) -> str:
    """The recipient's own unsubscribe link (mailto: with their address, or https ?email=)."""
    base = sender.unsubscribe
    quoted = email if _URL_SAFE.fullmatch(email) else quote(email, safe="@")
    joiner = "&" if "?" in base else "?"
    if base.startswith("mailto:"):
        return f"{base}{joiner}subject=unsubscribe%20{quoted}"
    return f"{base}{joiner}email={quoted}"


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~@-]+")  # what quote(..., safe="@") leaves as it is


def shop_context(config: CampaignConfig) -> dict[str, Any]:
    sender = config.sender
    name, email = parseaddr(sender.from_addr)
    return {
        "name": name or email,
        "email": email,
        "reply_to": sender.reply_to,
        "address": sender.address,
    }


def _days_between(earlier: str | None, as_of: datetime) -> int | None:
    if not earlier:
        return None
    return max((as_of.astimezone(UTC).date() - from_iso(earlier).date()).days, 0)


def _major(minor: int | None, currency: str) -> float | None:
    if minor is None:
        return None
    return minor / (10 ** minor_digits(currency))


def customer_context(
    customer: Mapping[str, Any],
    stats: Mapping[str, Any] | None,
    last_order: Mapping[str, Any] | None,
    items: Sequence[Mapping[str, Any]],
    *,
    shop: Mapping[str, Any],
    sender: Sender,
    as_of: datetime,
    default_currency: str,
    segment: str | None = None,
) -> dict[str, Any]:
    """One customer's template context from plain rows (see :func:`load_contexts`)."""
    first = customer.get("first_name")
    last = customer.get("last_name")
    full = " ".join(p for p in (first, last) if p) or None
    currency = (last_order or {}).get("currency") or default_currency
    orders = int((stats or {}).get("orders") or 0)
    spent_minor = int((stats or {}).get("total_spent_minor") or 0)
    digits = minor_digits(currency)
    email = str(customer["email"])
    order_ctx: dict[str, Any] | None = None
    if last_order is not None:
        order_currency = last_order.get("currency") or currency
        order_ctx = {
            "order_id": last_order["order_id"],
            "ordered_at": last_order["ordered_at"],
            "currency": order_currency,
            "total_minor": last_order["net_minor"],
            "total": _major(last_order["net_minor"], order_currency),
            "items": [
                {
                    "name": item.get("name") or item.get("sku") or "item",
                    "sku": item.get("sku"),
                    "quantity": item.get("quantity") or 1,
                    "price_minor": item.get("price_minor"),
                    "price": _major(item.get("price_minor"), order_currency),
                }
                for item in items
            ],
        }
    return {
        "customer": {
            "customer_id": customer["customer_id"],
            "email": email,
            "first_name": first,
            "last_name": last,
            "name": full,
            "birthday": customer.get("birthday"),
            "city": customer.get("city"),
            "country": customer.get("country"),
            "company": customer.get("company"),
            "tags": customer.get("tags"),
            "since": customer.get("source_created_at") or customer.get("created_at"),
        },
        "metrics": {
            "orders": orders,
            "total_spent_minor": spent_minor,
            "total_spent": spent_minor / (10**digits),
            "average_order": (spent_minor / orders) / (10**digits) if orders else None,
            "first_order_at": (stats or {}).get("first_order_at"),
            "last_order_at": (stats or {}).get("last_order_at"),
            "days_since_last_order": _days_between((stats or {}).get("last_order_at"), as_of),
            "days_since_first_order": _days_between((stats or {}).get("first_order_at"), as_of),
        },
        "segment": segment,
        "last_order": order_ctx,
        "currency": currency,
        "unsubscribe_url": unsubscribe_url(sender, email),
        "shop": dict(shop),
        "today": as_of.date().isoformat(),
    }


def shop_currency(store: Store) -> str:
    """The currency amounts without one are shown in: the shop's most used one."""
    return store.shop_currency() or DEFAULT_CURRENCY


def load_contexts(
    store: Store,
    config: CampaignConfig,
    customer_refs: Sequence[int],
    as_of: datetime,
    *,
    segments: Mapping[int, str] | None = None,
    default_currency: str | None = None,
) -> dict[int, dict[str, Any]]:
    """Template contexts for a batch of customers (by internal id), in a few queries.

    Customers without an e-mail address are left out. ``segments`` optionally maps a
    customer to their segment name (the audience knows it); otherwise ``segment`` is None.
    ``default_currency``: the shop's currency when the caller knows it already (looking it
    up scans every order; a sender asks once per run, not once per batch).
    """
    refs = list(dict.fromkeys(int(r) for r in customer_refs))
    if not refs:
        return {}
    as_of_iso = to_iso(as_of)
    customers = store.template_customers(refs)
    stats = {row["customer_ref"]: row for row in store.template_order_stats(refs, as_of_iso)}
    last_orders = {row["customer_ref"]: row for row in store.template_last_orders(refs, as_of_iso)}
    items: dict[int, list[dict[str, Any]]] = {}
    for item in store.template_order_items([o["order_ref"] for o in last_orders.values()]):
        items.setdefault(item["order_ref"], []).append(item)
    default_currency = default_currency or shop_currency(store)
    shop = shop_context(config)
    out: dict[int, dict[str, Any]] = {}
    for customer in customers:
        if not customer.get("email"):
            continue
        ref = customer["customer_ref"]
        order = last_orders.get(ref)
        out[ref] = customer_context(
            customer,
            stats.get(ref),
            order,
            items.get(order["order_ref"], []) if order else [],
            shop=shop,
            sender=config.sender,
            as_of=as_of,
            default_currency=default_currency,
            segment=(segments or {}).get(ref),
        )
    return {ref: out[ref] for ref in refs if ref in out}


def sample_context(config: CampaignConfig, as_of: datetime | None = None) -> dict[str, Any]:
    """A realistic made-up customer, for ``campaigns check`` and the benchmark."""
    moment = as_of or utc_now()
    first_at = to_iso(moment - timedelta(days=400))
    customer = {
        "customer_id": "sample-1001",
        "email": "sam.sample@example.com",
        "first_name": "Sam",
        "last_name": "Sample",
        "birthday": "1990-06-15",
        "city": "Springfield",
        "country": "US",
        "company": None,
        "tags": "newsletter",
        "created_at": first_at,
        "source_created_at": first_at,
    }
    last_at = to_iso(moment - timedelta(days=75))
    stats = {
        "orders": 3,
        "total_spent_minor": 8450,
        "first_order_at": first_at,
        "last_order_at": last_at,
    }
    order = {
        "order_id": "#1042",
        "ordered_at": last_at,
        "currency": "USD",
        "net_minor": 3150,
    }
    items = [
        {"name": "Sourdough loaf", "sku": "SD-1", "quantity": 2, "price_minor": 750},
        {"name": "Cinnamon buns (box of 4)", "sku": "CB-4", "quantity": 1, "price_minor": 1650},
    ]
    return customer_context(
        customer,
        stats,
        order,
        items,
        shop=shop_context(config),
        sender=config.sender,
        as_of=moment,
        default_currency="USD",
        segment="at_risk",
    )


# --- rendering ----------------------------------------------------------------------------


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """``default`` for retain's contexts: every field is always there (None when empty), so
    None takes the default and a name that does not exist at all is a typo, reported."""
    from jinja2 import Undefined

    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None or (boolean and not value):
        return default_value
    return value


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def make_environment(search: Sequence[Path] = ()) -> SandboxedEnvironment:
    """The sandboxed environment every template and subject is compiled in."""
    from jinja2 import FileSystemLoader, StrictUndefined, pass_context
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def autoescape(name: str | None) -> bool:
        return bool(name) and str(name).endswith((".html.j2", ".html", ".htm"))

    @pass_context
    def money(ctx: Any, amount: Any, currency: str | None = None, minor: bool | None = None) -> str:
        code = currency or ctx.get("currency") or DEFAULT_CURRENCY
        return format_money(amount, code, minor=minor)

    class DictFirstEnvironment(ImmutableSandboxedEnvironment):
        """``order.items`` means the key ``items``, not the dict method."""

        def getattr(self, obj: Any, attribute: str) -> Any:
            if type(obj) is dict and attribute in obj:
                return obj[attribute]
            return super().getattr(obj, attribute)

    env = DictFirstEnvironment(
        loader=FileSystemLoader([str(p) for p in search]) if search else None,
        undefined=StrictUndefined,
        autoescape=autoescape,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["money"] = money
    env.filters["date"] = format_date
    env.filters["default"] = _default
    env.filters["d"] = _default
    return env


def _display(path: Path, config: CampaignConfig) -> str:
    try:
        return str(path.relative_to(config.path.absolute().parent))
    except ValueError:
        return str(path)


@dataclass(slots=True)
class _Compiled:
    subject: Template
    text: Template
    html: Template | None
    labels: dict[str, str]  # jinja file name -> what to call it in errors
    campaign: dict[str, Any]  # the ``campaign`` variable


class Renderer:
    """Compiles each campaign step's templates once, then renders many contexts fast."""

    def __init__(self, config: CampaignConfig) -> None:
        self.config = config
        base = config.path.absolute().parent
        folders = {base}
        for campaign in config.campaigns:
            for step in campaign.steps:
                folders.add(step.template.parent)
        self.env = make_environment(sorted(folders))
        self._cache: dict[tuple[str, int], _Compiled] = {}
        # a plain dict, not Jinja's ChainMap: every render copies the globals
        self._globals: Any = dict(self.env.make_globals(None))

    def _where(self, campaign: Campaign, step: Step) -> str:
        label = f"{self.config.path}: campaign {campaign.name!r}"
        return f"{label}: step {step.index}" if len(campaign.steps) > 1 else label

    def _compile_file(self, path: Path, campaign: Campaign, step: Step) -> Template:
        from jinja2 import TemplateSyntaxError

        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{self._where(campaign, step)}: cannot read {path} ({exc})"
            ) from None
        try:
            code = self.env.compile(source, name=path.name, filename=str(path))
        except TemplateSyntaxError as exc:
            raise ConfigError(
                f"{self._where(campaign, step)}: {_display(path, self.config)} line "
                f"{exc.lineno}: template syntax error: {exc.message}"
            ) from None
        return self.env.template_class.from_code(self.env, code, self._globals)

    def compile(self, campaign: Campaign, step: Step) -> _Compiled:
        """The step's compiled subject, text and HTML templates (cached)."""
        from jinja2 import TemplateSyntaxError

        key = (campaign.name, step.index)
        compiled = self._cache.get(key)
        if compiled is not None:
            return compiled
        subject_name = f"<subject of {campaign.name}>"
        try:
            code = self.env.compile(step.subject, name=None, filename=subject_name)
        except TemplateSyntaxError as exc:
            raise ConfigError(
                f"{self._where(campaign, step)}: key 'subject': template syntax error: "
                f"{exc.message}"
            ) from None
        subject = self.env.template_class.from_code(self.env, code, self._globals)
        text = self._compile_file(step.template, campaign, step)
        html = (
            self._compile_file(step.html_template, campaign, step) if step.html_template else None
        )
        labels = {subject_name: "subject", str(step.template): _display(step.template, self.config)}
        if step.html_template:
            labels[str(step.html_template)] = _display(step.html_template, self.config)
        about = {"name": campaign.name, "step": step.index, "steps": len(campaign.steps)}
        compiled = _Compiled(subject, text, html, labels, about)
        self._cache[key] = compiled
        return compiled

    def render(self, campaign: Campaign, step: Step, context: Mapping[str, Any]) -> Rendered:
        """Subject, text and HTML for one customer. Template errors raise ConfigError."""
        compiled = self.compile(campaign, step)
        # one shared namespace for the three templates (Template.render would copy it each time)
        values = {**self._globals, **context, "campaign": compiled.campaign}
        part = "subject"
        try:
            try:
                subject = one_line(_run(compiled.subject, values))
                part = str(step.template)
                text = _run(compiled.text, values)
                html = None
                if compiled.html is not None:
                    part = str(step.html_template)
                    html = _run(compiled.html, values)
            except Exception:
                self.env.handle_exception()  # re-raises with template file names and lines
        except Exception as exc:  # undefined names, sandbox violations, filter errors
            raise self._render_error(exc, campaign, step, compiled, part) from None
        return Rendered(subject=subject, text=text, html=html)

    def _render_error(
        self, exc: Exception, campaign: Campaign, step: Step, compiled: _Compiled, part: str
    ) -> ConfigError:
        from jinja2 import UndefinedError
        from jinja2.sandbox import SecurityError

        line = None
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename in compiled.labels:
                line = tb.tb_lineno
                part = tb.tb_frame.f_code.co_filename
            tb = tb.tb_next
        where = compiled.labels.get(part, part)
        place = f"{where} line {line}" if line else where
        if where == "subject":
            place = "key 'subject'"
        if isinstance(exc, UndefinedError):
            detail = f"undefined: {_undefined_name(str(exc))}"
        elif isinstance(exc, SecurityError):
            detail = f"not allowed in a template: {exc}"
        else:
            detail = f"{type(exc).__name__}: {exc}"
        return ConfigError(f"{self._where(campaign, step)}: {place}: {detail}")


def _run(template: Template, values: dict[str, Any]) -> str:
    return "".join(template.root_render_func(template.new_context(values, shared=True)))


def _undefined_name(message: str) -> str:
    """Jinja's "'dict object' has no attribute 'frist_name'" -> "'frist_name' ..."."""
    match = re.search(r"^'([^']*)' has no attribute '([^']+)'", message)
    if match and match.group(1) == "None":
        return (
            f"{match.group(2)!r} of an empty value (this customer has no value there; "
            "guard it with {% if ... %} or | default(...))"
        )
    if match:
        return f"{match.group(2)!r} (no such field; check the spelling)"
    match = re.search(r"'([^']+)' is undefined", message)
    if match:
        return f"{match.group(1)!r} (no such variable; check the spelling)"
    return message


# --- the message --------------------------------------------------------------------------


def message_id(send_key: str, from_addr: str) -> str:
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "retain.invalid"
    digest = hashlib.sha256(send_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


@lru_cache(maxsize=16)
def _footers(sender: Sender) -> tuple[str, str, str, str]:
    """Text and HTML footer, each split around the recipient's unsubscribe link."""
    from markupsafe import escape

    name, email = parseaddr(sender.from_addr)
    shop = name or email
    text = (
        f"\n\n-- \n{shop}\n{sender.address}\n"
        f"You receive this because you are a customer of {shop}.\nUnsubscribe: ",
        "\n",
    )
    html = (
        '<hr><p style="font-size:12px;color:#666">'
        f"{escape(shop)}<br>{escape(sender.address)}<br>"
        f"You receive this because you are a customer of {escape(shop)}. "
        '<a href="',
        '">Unsubscribe</a></p>',
    )
    return text[0], text[1], html[0], html[1]


def text_footer(config: CampaignConfig, unsubscribe: str) -> str:
    before, after, _, _ = _footers(config.sender)
    return f"{before}{unsubscribe}{after}"


def html_footer(config: CampaignConfig, unsubscribe: str) -> str:
    from markupsafe import escape

    _, _, before, after = _footers(config.sender)
    return f"{before}{escape(unsubscribe)}{after}"


@lru_cache(maxsize=16)
def _sender_headers(sender: Sender) -> tuple[tuple[str, str], ...]:
    from_name, from_email = parseaddr(sender.from_addr)
    headers = [("From", _address(from_name, from_email))]
    if sender.reply_to:
        reply_name, reply_email = parseaddr(sender.reply_to)
        headers.append(("Reply-To", _address(reply_name, reply_email)))
    return tuple(headers)


_DATE_CACHE: list[Any] = [None, ""]


def _date_header() -> str:
    """RFC 5322 date of now, computed once a second."""
    now = utc_now()
    if _DATE_CACHE[0] != now:
        _DATE_CACHE[:] = [now, format_datetime(now)]
    return str(_DATE_CACHE[1])


_EMAIL_OK = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
_MAX_LINE = 998


class BuiltMessage(EmailMessage):
    """An :class:`EmailMessage` whose wire form was built once, directly as bytes.

    The standard library's header objects and generator cost milliseconds per message; this
    keeps the headers readable (``msg["Message-ID"]``, ``msg.get("Subject")``) as plain
    strings and returns the prepared bytes from :meth:`as_bytes` (CRLF line endings, pure
    ASCII: non-ASCII text is quoted-printable or RFC 2047 encoded). Use :meth:`parsed` for a
    fully parsed copy (parts, ``get_body``).
    """

    def __init__(self, raw: bytes, headers: Sequence[tuple[str, str]]) -> None:
        from email.policy import compat32

        super().__init__(policy=compat32)
        self._headers = list(headers)  # compat32 keeps (name, str) pairs as they are
        self._raw = raw

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        linesep = getattr(policy, "linesep", "\r\n")
        return self._raw if linesep == "\r\n" else self._raw.replace(b"\r\n", linesep.encode())

    def __bytes__(self) -> bytes:
        return self._raw

    def as_string(
        self, unixfrom: bool = False, maxheaderlen: int | None = None, policy: Any = None
    ) -> str:
        return self.as_bytes(policy=policy).decode("ascii")

    def __str__(self) -> str:
        return self._raw.decode("ascii")

    def parsed(self) -> EmailMessage:
        from email import policy as policies
        from email.parser import BytesParser

        message = BytesParser(policy=policies.default).parsebytes(self._raw)
        assert isinstance(message, EmailMessage)
        return message


def _header_text(value: str) -> str:
    """One-line header text, RFC 2047 encoded (and folded) only when it is not ASCII."""
    value = one_line(value)
    if value.isascii() and len(value) < 900:
        return value
    from email.header import Header

    return Header(value, "utf-8" if not value.isascii() else "us-ascii").encode(
        linesep="\r\n", maxlinelen=78
    )


def _address(name: str | None, email: str) -> str:
    name = one_line(name) if name else ""
    if not name:
        return email
    try:
        return formataddr((name, email), charset="utf-8")
    except (ValueError, UnicodeError):  # a name the formatter cannot take: send without it
        return email


def _part(text: str, subtype: str) -> bytes:
    """Headers and body of one text part, CRLF line endings."""
    import binascii

    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n") if text.isascii() else None
    if lines is not None and max(map(len, lines)) <= _MAX_LINE:
        encoding = "7bit"
        body = "\r\n".join(lines).encode("ascii")
    else:
        encoding = "quoted-printable"
        body = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode("ascii")
    return head + body + (b"" if body.endswith(b"\r\n") else b"\r\n")


def build_message(
    config: CampaignConfig,
    campaign: Campaign,
    step: Step,
    rendered: Rendered,
    *,
    to_email: str,
    to_name: str | None,
    send_key: str,
) -> BuiltMessage:
    """The e-mail for one recipient, ready for ``as_bytes()`` (CRLF line endings).

    Every header value made from data (names, subject) is flattened to one line, so no
    customer field can add a header.
    """
    if not _EMAIL_OK.match(to_email) or _CONTROL.search(to_email) or not to_email.isascii():
        raise SendError(f"cannot send to {to_email!r}: not a valid e-mail address")
    sender = config.sender
    unsubscribe = unsubscribe_url(sender, to_email)
    sender_headers = _sender_headers(sender)
    headers: list[tuple[str, str]] = [
        sender_headers[0],
        ("To", _address(to_name, to_email)),
        *sender_headers[1:],
        ("Subject", _header_text(rendered.subject)),
        ("Date", _date_header()),
        ("Message-ID", message_id(send_key, sender.from_addr)),
        ("List-Unsubscribe", f"<{unsubscribe}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("X-Retain-Campaign", campaign.name),
        ("X-Retain-Step", str(step.index)),
        ("MIME-Version", "1.0"),
    ]
    text = _part(rendered.text.rstrip("\n") + text_footer(config, unsubscribe), "plain")
    if rendered.html is None:
        head, _, body = text.partition(b"\r\n\r\n")
        for line in head.decode("ascii").split("\r\n"):
            name, _, value = line.partition(": ")
            headers.append((name, value))
    else:
        footer = html_footer(config, unsubscribe)
        html_text = rendered.html
        at = html_text.rfind("</body>")
        if at < 0:
            at = html_text.rfind("</BODY>")
        html_text = html_text[:at] + footer + html_text[at:] if at >= 0 else html_text + footer
        html = _part(html_text, "html")
        seed = hashlib.sha256(f"{send_key}/boundary".encode()).hexdigest()
        boundary = f"=_retain_{seed[:24]}"
        while boundary.encode() in text or boundary.encode() in html:
            seed = hashlib.sha256(seed.encode()).hexdigest()
            boundary = f"=_retain_{seed[:24]}"
        headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
        mark = f"--{boundary}\r\n".encode()
        body = mark + text + mark + html + f"--{boundary}--\r\n".encode()
    raw = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
    return BuiltMessage(raw + b"\r\n" + body, headers)


# --- preview ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Preview:
    email: str
    consent: bool
    step: int
    message: BuiltMessage
    not_sent: str | None = None  # why send would not write to them (None: it would)


def preview_messages(
    store: Store,
    config: CampaignConfig,
    campaign_name: str,
    *,
    as_of: datetime,
    email: str | None = None,
    limit: int = 3,
    step: int | None = None,
) -> list[Preview]:
    """Rendered messages for the first ``limit`` consenting audience members (or ``email``).

    Uses the same :class:`Renderer` and :func:`build_message` as sending; the send key is
    ``<campaign>:<step>:<customer_id>:preview``.
    """
    from retain_cli.campaigns.audience import audience_members, trigger_applies_first

    campaign = config.campaign(campaign_name)
    steps = [campaign.step(step)] if step is not None else list(campaign.steps)
    if email is not None:
        ref = store.campaign_customer_ref(email)
        if ref is None:
            raise NotFound(f"no customer with e-mail {email.strip().lower()!r}")
        members = audience_members(store, config, campaign, as_of)
        if ref not in members.index:
            chosen = [(ref, False)]
            not_sent: str | None = f"not in the audience of {campaign.name!r}"
        else:
            chosen = [(ref, bool(members.loc[ref, "consent"]))]
            not_sent = None if chosen[0][1] else "no consent or opted out"
        segments: dict[int, str] = {}
        if ref in members.index and members.loc[ref, "segment"]:
            segments[ref] = str(members.loc[ref, "segment"])
    else:
        members = audience_members(store, config, campaign, as_of)
        members = trigger_applies_first(members[members["consent"]], campaign)
        members = members.head(max(limit, 0))
        chosen = [(int(r), True) for r in members.index]
        not_sent = None
        segments = {int(str(r)): str(s) for r, s in members["segment"].items() if s}
    contexts = load_contexts(store, config, [r for r, _ in chosen], as_of, segments=segments)
    renderer = Renderer(config)
    out: list[Preview] = []
    for ref, consent in chosen:
        context = contexts.get(ref)
        if context is None:
            continue
        customer = context["customer"]
        for current in steps:
            rendered = renderer.render(campaign, current, context)
            message = build_message(
                config,
                campaign,
                current,
                rendered,
                to_email=customer["email"],
                to_name=customer["name"],
                send_key=f"{campaign.name}:{current.index}:{customer['customer_id']}:preview",
            )
            out.append(Preview(customer["email"], consent, current.index, message, not_sent))
    return out
