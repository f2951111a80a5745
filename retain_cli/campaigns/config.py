"""The campaign file: YAML read with ``yaml.safe_load``, validated into frozen dataclasses.

Every problem is a :class:`ConfigError` naming the file, the campaign (by name, else its
position) and the key, e.g. ``campaigns.yaml: campaign 'win-back': key 'holdout': ...``.
Unknown keys are rejected with a "did you mean" hint; a ``password`` key anywhere is
rejected (secrets come from the environment or the system keyring, never from the file).
Template paths are resolved relative to the folder of the campaign file. The objects it
builds, and the text forms of their values (``90d``, ``10%``, ``21:00-08:00``), are in
:mod:`retain_cli.campaigns.model`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from retain_cli.analytics.segment_names import qualified
from retain_cli.campaigns.config_loyalty import loyalty_campaigns, parse_loyalty
from retain_cli.campaigns.config_owner import (
    check_owner_keys,
    parse_approval,
    parse_channel,
    parse_survey,
)
from retain_cli.campaigns.config_timing import campaign_timing, step_stop_when
from retain_cli.campaigns.config_variants import parse_variants
from retain_cli.campaigns.coupons import parse_coupon_pool
from retain_cli.campaigns.model import (
    DEFAULT_MAX_RUN_MINUTES,
    TRIGGER_EVENTS,
    Audience,
    Campaign,
    CampaignConfig,
    Limits,
    Sender,
    Shop,
    Step,
    TransportKind,
    Trigger,
    TriggerEvent,
    format_interval,
    parse_interval,
    parse_percentage,
    parse_quiet_hours,
)
from retain_cli.campaigns.program import parse_kind
from retain_cli.campaigns.yamlcheck import (
    Where,
    as_email,
    as_int,
    as_mapping,
    as_number,
    as_text,
    check_keys,
    find_password,
    kind_of,
    path_from,
    valid_timezone,
)
from retain_cli.errors import ConfigError
from retain_cli.transports.base import Security, SmtpSettings

DEFAULT_CONFIG = Path("campaigns.yaml")
SECURITY_VALUES: tuple[str, ...] = ("starttls", "ssl", "none")
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "none": 25}

TOP_KEYS = ("shop", "sender", "transport", "limits", "campaigns", "mailbox", "loyalty")
SHOP_KEYS = ("locale", "timezone")
SENDER_KEYS = ("from", "reply_to", "address", "unsubscribe", "bounce_address")
TRANSPORT_KEYS = (
    "type",
    "outbox",
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "keyring_service",
    "timeout",
    "tls_ca_file",
    "tls_verify",
)
LIMIT_KEYS = (
    "per_minute",
    "per_day",
    "batch_size",
    "quiet_hours",
    "min_hours_between_messages",
    "timezone",
    "max_run_minutes",
)
CAMPAIGN_KEYS = (
    "name",
    "description",
    "audience",
    "trigger",
    "subject",
    "template",
    "html_template",
    "steps",
    "holdout",
    "repeat",
    "enabled",
    "priority",
    "fresh_for",
    "offer_code",
    "approval",
    "survey",
    "channel",
    "kind",
    "coupon_pool",
    "variants",
    "variant_salt",
)
AUDIENCE_KEYS = ("segment", "where")
TRIGGER_KEYS = ("after", "days", "segment")
STEP_KEYS = ("days", "subject", "template", "html_template", "stop_when", "channel")

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
OFFER_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: words `retain report` reads as reports of their own, so no campaign may be called so
REPORT_WORDS = ("goals", "program")


def config_path(explicit: Path | None) -> Path:
    """--config, else $RETAIN_CONFIG, else ./campaigns.yaml."""
    if explicit is not None:
        return explicit
    env = os.environ.get("RETAIN_CONFIG")
    if env:
        return Path(env)
    return DEFAULT_CONFIG


# --- parsing -----------------------------------------------------------------------------


def _parse_sender(data: Any, where: Where) -> Sender:
    if data is None:
        raise where.error("sender", "is required (from, address, unsubscribe)")
    mapping = as_mapping(data, where, "sender")
    check_keys(mapping, SENDER_KEYS, where, "sender.")
    from_addr = as_email(mapping.get("from"), where, "sender.from", required=True)
    reply_to = as_email(mapping.get("reply_to"), where, "sender.reply_to", required=False)
    address = as_text(mapping.get("address"), where, "sender.address")
    unsubscribe = as_text(mapping.get("unsubscribe"), where, "sender.unsubscribe")
    assert from_addr is not None and address is not None and unsubscribe is not None
    if "\n" in address.strip() or "\r" in address:
        address = " ".join(line.strip() for line in address.splitlines() if line.strip())
    if unsubscribe.startswith("mailto:"):
        if "@" not in unsubscribe or any(c in unsubscribe for c in " \r\n<>"):
            raise where.error("sender.unsubscribe", f"{unsubscribe!r} is not a mailto: address")
    elif unsubscribe.startswith("https://"):
        if any(c in unsubscribe for c in " \r\n<>") or len(unsubscribe) <= len("https://"):
            raise where.error("sender.unsubscribe", f"{unsubscribe!r} is not a URL")
    else:
        raise where.error(
            "sender.unsubscribe",
            f"{unsubscribe!r} must start with mailto: or https:// "
            "(mail providers require a working unsubscribe link)",
        )
    return Sender(
        from_addr=from_addr,
        reply_to=reply_to,
        address=address,
        unsubscribe=unsubscribe,
        bounce_address=_bounce_address(mapping.get("bounce_address"), where),
    )


def _bounce_address(value: Any, where: Where) -> str | None:
    """``sender.bounce_address``: an address with ``{token}`` in its local part (VERP)."""
    text = as_text(value, where, "sender.bounce_address", required=False)
    if text is None:
        return None
    local, _, domain = text.partition("@")
    if (
        local.count("{token}") != 1
        or "{token}" in domain
        or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+", local.replace("{token}", "x"))
        or not re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z0-9-]+", domain)
    ):
        raise where.error(
            "sender.bounce_address",
            f"{text!r} must be a plain address with {{token}} once in the part before @, "
            "e.g. hello+bounce-{token}@shop.example (each message's bounces then name it)",
        )
    return text


def _parse_transport(
    data: Any, where: Where, base: Path
) -> tuple[TransportKind, Path, SmtpSettings | None]:
    if data is None:
        data = {"type": "outbox"}
    elif isinstance(data, str):
        data = {"type": data}
    mapping = as_mapping(data, where, "transport")
    check_keys(mapping, TRANSPORT_KEYS, where, "transport.")
    kind = mapping.get("type", "smtp" if "host" in mapping else "outbox")
    if kind not in ("smtp", "outbox"):
        raise where.error("transport.type", f"must be smtp or outbox, not {kind!r}")
    outbox_text = as_text(mapping.get("outbox"), where, "transport.outbox", required=False)
    outbox_dir = path_from(outbox_text or "outbox", base)
    smtp: SmtpSettings | None = None
    if kind == "smtp" or "host" in mapping:
        host = as_text(mapping.get("host"), where, "transport.host")
        assert host is not None
        security = mapping.get("security", "starttls")
        if security is False:  # YAML reads a bare `none`-like `no`/`off` as false
            security = "none"
        if security not in SECURITY_VALUES:
            raise where.error(
                "transport.security",
                f"must be one of {', '.join(SECURITY_VALUES)}, not {security!r}",
            )
        port = mapping.get("port", DEFAULT_PORTS[security])
        port = as_int(port, where, "transport.port", minimum=1, maximum=65535)
        timeout = as_number(mapping.get("timeout", 30), where, "transport.timeout", minimum=0.1)
        env = as_text(mapping.get("password_env"), where, "transport.password_env", required=False)
        if env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
            raise where.error(
                "transport.password_env",
                f"{env!r} is not an environment variable name; "
                "name the variable that holds the password (e.g. RETAIN_SMTP_PASSWORD)",
            )
        smtp = SmtpSettings(
            host=host,
            port=port,
            security=cast(Security, security),
            username=as_text(mapping.get("username"), where, "transport.username", required=False),
            password_env=env,
            keyring_service=as_text(
                mapping.get("keyring_service"), where, "transport.keyring_service", required=False
            ),
            timeout=timeout,
            tls_ca_file=_ca_file(mapping.get("tls_ca_file"), where, base),
            tls_verify=_tls_verify(mapping.get("tls_verify", True), where),
        )
    return cast(TransportKind, kind), outbox_dir, smtp


def _ca_file(value: Any, where: Where, base: Path) -> str | None:
    """``transport.tls_ca_file``: a PEM bundle of the CA that signed the server's certificate
    (a private CA), relative to the campaign file's folder."""
    text = as_text(value, where, "transport.tls_ca_file", required=False)
    if text is None:
        return None
    path = path_from(text, base)
    if not path.is_file():
        raise where.error(
            "transport.tls_ca_file",
            f"{path} does not exist; name a PEM file with the certificate of the CA that signed "
            "the server's certificate",
        )
    return str(path)


def _tls_verify(value: Any, where: Where) -> bool:
    if not isinstance(value, bool):
        raise where.error("transport.tls_verify", f"must be true or false, not {kind_of(value)}")
    return value


def _parse_shop(data: Any, limits: Any, where: Where) -> Shop:
    """``shop.locale`` and ``shop.timezone``; ``limits.timezone`` (the older key) still counts."""
    from retain_cli.money import DEFAULT_LOCALE, check_locale

    mapping = as_mapping(data, where, "shop")
    check_keys(mapping, SHOP_KEYS, where, "shop.")
    locale = as_text(mapping.get("locale"), where, "shop.locale", required=False) or DEFAULT_LOCALE
    try:
        locale = check_locale(locale)
    except ValueError as exc:
        raise where.error("shop.locale", str(exc)) from None
    zones: dict[str, str] = {
        key: value["timezone"]
        for key, value in (("shop", mapping), ("limits", limits))
        if isinstance(value, Mapping) and value.get("timezone") is not None
    }
    for key, zone in zones.items():
        if not isinstance(zone, str) or not valid_timezone(zone):
            raise where.error(
                f"{key}.timezone",
                f"{zone!r} is not a time zone; use an IANA name such as Europe/London",
            )
    if len(set(zones.values())) > 1:
        raise where.error(
            "limits.timezone",
            f"{zones['limits']!r} differs from shop.timezone {zones['shop']!r}; the shop has "
            "one time zone: keep shop.timezone and remove limits.timezone",
        )
    return Shop(locale=locale, timezone=next(iter(zones.values()), "UTC"))


def _parse_limits(data: Any, where: Where, timezone: str) -> Limits:
    mapping = as_mapping(data, where, "limits")
    check_keys(mapping, LIMIT_KEYS, where, "limits.")

    def optional_int(key: str) -> int | None:
        value = mapping.get(key)
        return None if value is None else as_int(value, where, f"limits.{key}", minimum=1)

    quiet = None
    if mapping.get("quiet_hours") is not None:
        try:
            quiet = parse_quiet_hours(mapping["quiet_hours"])
        except ValueError as exc:
            raise where.error("limits.quiet_hours", str(exc)) from None
    gap = mapping.get("min_hours_between_messages")
    run = mapping.get("max_run_minutes")
    return Limits(
        per_minute=optional_int("per_minute"),
        per_day=optional_int("per_day"),
        batch_size=optional_int("batch_size"),
        quiet_hours=quiet,
        min_hours_between_messages=None
        if gap is None
        else as_number(gap, where, "limits.min_hours_between_messages"),
        timezone=timezone,
        max_run_minutes=DEFAULT_MAX_RUN_MINUTES
        if run is None
        else as_number(run, where, "limits.max_run_minutes", minimum=0.01),
    )


def _parse_audience(data: Any, where: Where) -> Audience:
    if data is None or data == "all":
        return Audience(kind="all")
    if isinstance(data, str):
        raise where.error(
            "audience",
            f'{data!r} is not an audience; write `all` or {{segment: NAME, where: "..."}}',
        )
    mapping = as_mapping(data, where, "audience")
    check_keys(mapping, AUDIENCE_KEYS, where, "audience.")
    segment = as_text(mapping.get("segment"), where, "audience.segment", required=False)
    where_text = as_text(mapping.get("where"), where, "audience.where", required=False)
    if segment is None and where_text is None:
        raise where.error("audience", "needs a segment, a where filter, or the word `all`")
    if segment == "all":
        segment = None
    segment = segment and qualified(segment, lambda text: where.error("audience.segment", text))
    return Audience(kind="segment" if segment else "all", segment=segment, where=where_text)


def _parse_trigger(data: Any, where: Where) -> Trigger | None:
    if data is None:
        return None
    mapping = as_mapping(data, where, "trigger")
    check_keys(mapping, TRIGGER_KEYS, where, "trigger.")
    event = mapping.get("after")
    if event not in TRIGGER_EVENTS:
        raise where.error(
            "trigger.after",
            f"must be one of {', '.join(TRIGGER_EVENTS)}, not {event!r}",
        )
    days = as_int(mapping.get("days", 0), where, "trigger.days", minimum=0, maximum=3650)
    segment = as_text(mapping.get("segment"), where, "trigger.segment", required=False)
    if event == "entered_segment" and segment is None:
        raise where.error("trigger.segment", "is required with after: entered_segment")
    if event != "entered_segment" and segment is not None:
        raise where.error("trigger.segment", "only applies with after: entered_segment")
    segment = segment and qualified(segment, lambda text: where.error("trigger.segment", text))
    return Trigger(event=cast(TriggerEvent, event), days=days, segment=segment)


def html_sibling(template: Path) -> Path:
    """``x.txt.j2`` -> ``x.html.j2`` (``x.j2`` -> ``x.html.j2``)."""
    name = template.name
    if name.endswith(".txt.j2"):
        return template.with_name(name[: -len(".txt.j2")] + ".html.j2")
    if name.endswith(".j2"):
        return template.with_name(name[: -len(".j2")] + ".html.j2")
    return template.with_name(name + ".html.j2")


def _template_path(value: Any, where: Where, key: str, base: Path) -> Path:
    text = as_text(value, where, key)
    assert text is not None
    path = path_from(text, base)
    if not path.is_file():
        raise where.error(
            key,
            f"template {text!r} not found (looked for {path}; paths are relative to "
            "the campaign file's folder)",
        )
    return path


def _parse_step(index: int, data: Mapping[str, Any], where: Where, prefix: str, base: Path) -> Step:
    template = _template_path(data.get("template"), where, f"{prefix}template", base)
    explicit_html = data.get("html_template")
    if explicit_html is not None:
        html: Path | None = _template_path(explicit_html, where, f"{prefix}html_template", base)
    else:
        sibling = html_sibling(template)
        html = sibling if sibling.is_file() and sibling != template else None
    subject = as_text(data.get("subject"), where, f"{prefix}subject")
    assert subject is not None
    if "\n" in subject or "\r" in subject:
        raise where.error(f"{prefix}subject", "must be on one line")
    return Step(
        index=index,
        days=as_int(data.get("days", 0), where, f"{prefix}days", minimum=0, maximum=3650),
        subject=subject,
        template=template,
        html_template=html,
        channel=parse_channel(data.get("channel"), where.error, prefix),
    )


def _parse_campaign(data: Any, position: int, where: Where, base: Path) -> Campaign:
    if not isinstance(data, Mapping):
        raise where.in_campaign(str(position)).error(
            None, f"must be a mapping with name, subject and template, not {kind_of(data)}"
        )
    raw_name = data.get("name")
    label = repr(raw_name) if isinstance(raw_name, str) and raw_name.strip() else str(position)
    here = where.in_campaign(label)
    check_keys(data, CAMPAIGN_KEYS, here, "")
    name = as_text(raw_name, here, "name")
    assert name is not None
    if not NAME_RE.match(name):
        raise here.error(
            "name", "use letters, digits, '-', '_' or '.' only (it is used in send keys)"
        )
    if name in REPORT_WORDS:
        raise here.error(
            "name", f"{name!r} is the name of a report ('retain report {name}'); pick another"
        )
    steps: list[Step] = []
    if data.get("steps") is not None:
        for key in ("subject", "template", "html_template", "channel"):
            if key in data:
                raise here.error(key, "goes inside each step when a campaign has steps")
        raw_steps = data["steps"]
        if not isinstance(raw_steps, list) or not raw_steps:
            raise here.error("steps", "must be a non-empty list of {days, subject, template}")
        previous = -1
        for i, raw in enumerate(raw_steps, start=1):
            prefix = f"steps[{i}]."
            if not isinstance(raw, Mapping):
                raise here.error(f"steps[{i}]", f"must be a mapping, not {kind_of(raw)}")
            check_keys(raw, STEP_KEYS, here, prefix)
            step = _parse_step(i, raw, here, prefix, base)
            step = step_stop_when(step, raw, data.get("trigger"), here.error, prefix)
            if step.days < previous:
                raise here.error(
                    f"{prefix}days",
                    f"steps must be in order of days ({step.days} comes after {previous})",
                )
            previous = step.days
            steps.append(step)
    else:
        steps.append(_parse_step(1, data, here, "", base))
    holdout = 0.0
    if data.get("holdout") is not None:
        try:
            holdout = parse_percentage(data["holdout"])
        except ValueError as exc:
            raise here.error("holdout", str(exc)) from None
    repeat: timedelta | None = None
    raw_repeat = data.get("repeat")
    if raw_repeat not in (None, "never", False):
        try:
            repeat = parse_interval(raw_repeat)
        except ValueError as exc:
            raise here.error("repeat", f"{exc}, or never") from None
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise here.error("enabled", f"must be true or false, not {kind_of(enabled)}")
    trigger = _parse_trigger(data.get("trigger"), here)
    priority, fresh = campaign_timing(data, trigger.event if trigger else None, here.error)
    survey = parse_survey(data.get("survey"), here.error)
    check_owner_keys(survey, [s.channel for s in steps], here.error)
    try:
        kind = parse_kind(data.get("kind"))
    except ValueError as exc:
        raise here.error("kind", str(exc)) from None
    offer_code = _offer_code(data.get("offer_code"), here)
    variants, salt = parse_variants(
        data,
        steps,
        here,
        lambda value, key: _template_path(value, here, key, base),
        html_sibling,
    )
    return Campaign(
        name=name,
        audience=_parse_audience(data.get("audience"), here),
        trigger=trigger,
        steps=tuple(steps),
        holdout=holdout,
        repeat=repeat,
        enabled=enabled,
        description=as_text(data.get("description"), here, "description", required=False),
        priority=priority,
        fresh_days=fresh,
        offer_code=offer_code,
        approval=parse_approval(data.get("approval"), here.error),
        survey=survey,
        kind=kind,
        coupon_pool=parse_coupon_pool(data.get("coupon_pool"), offer_code, here.error),
        variants=variants,
        variant_salt=salt,
    )


def _offer_code(value: Any, where: Where) -> str | None:
    """``offer_code: WINBACK10``: the discount code the campaign's messages offer."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    code = as_text(value, where, "offer_code", required=False)
    if code is not None and not OFFER_CODE_RE.match(code):
        raise where.error(
            "offer_code",
            f"{code!r} is not a discount code; write it as the shop does, e.g. WINBACK10 "
            "(letters, digits, '-', '_' or '.')",
        )
    return code


def parse_config(data: Any, path: Path) -> CampaignConfig:
    """Validate an already-parsed YAML document (see :func:`load_config`)."""
    where = Where(path)
    if not isinstance(data, Mapping):
        raise where.error(None, "must be a mapping with sender, transport, limits and campaigns")
    secret = find_password(data, "")
    if secret:
        raise where.error(
            secret,
            "passwords never go in the campaign file; set transport.password_env to the "
            "name of an environment variable that holds it (e.g. RETAIN_SMTP_PASSWORD), "
            "or transport.keyring_service to read it from the system keyring",
        )
    check_keys(data, TOP_KEYS, where, "")
    base = path.absolute().parent
    sender = _parse_sender(data.get("sender"), where)
    transport, outbox_dir, smtp = _parse_transport(data.get("transport"), where, base)
    shop = _parse_shop(data.get("shop"), data.get("limits"), where)
    limits = _parse_limits(data.get("limits"), where, shop.timezone)
    raw_campaigns = data.get("campaigns")
    if raw_campaigns is None:
        raw_campaigns = []
    if not isinstance(raw_campaigns, list):
        raise where.error("campaigns", f"must be a list, not {kind_of(raw_campaigns)}")
    campaigns: list[Campaign] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_campaigns, start=1):
        campaign = _parse_campaign(raw, position, where, base)
        if campaign.name in seen:
            raise where.in_campaign(repr(campaign.name)).error(
                "name", "is used by another campaign; names must be unique"
            )
        seen.add(campaign.name)
        campaigns.append(campaign)
    loyalty = parse_loyalty(data.get("loyalty"), where, shop.timezone)
    campaigns = loyalty_campaigns(campaigns, raw_campaigns, loyalty, where)
    return CampaignConfig(
        path=path,
        sender=sender,
        transport=transport,
        outbox_dir=outbox_dir,
        smtp=smtp,
        limits=limits,
        campaigns=tuple(campaigns),
        shop=shop,
        loyalty=loyalty,
    )


def load_config(path: Path) -> CampaignConfig:
    """Read and validate a campaign file. Raises ConfigError naming file, campaign and key."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no campaign file at {path}; copy campaigns.example.yaml to campaigns.yaml "
            "(or run 'retain init'), or pass --config PATH (or set RETAIN_CONFIG)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the campaign file ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is not None:
            raise ConfigError(
                f"{path}: line {mark.line + 1}, column {mark.column + 1}: "
                f"YAML syntax error: {problem}"
            ) from None
        raise ConfigError(f"{path}: YAML syntax error: {problem}") from None
    return parse_config(data, path)


def shop_settings(path: Path) -> Shop:
    """The campaign file's ``shop`` (locale, time zone) for commands that only format, such
    as ``retain report``; the defaults when there is no campaign file."""
    return load_config(path).shop if path.is_file() else Shop()


# --- what the commands show -------------------------------------------------------------


def summary_rows(config: CampaignConfig) -> list[dict[str, Any]]:
    """One row per campaign for ``retain campaigns list``."""
    return [
        {
            "name": c.name,
            "audience": c.audience.describe(),
            "trigger": c.trigger.describe() if c.trigger else "",
            "steps": len(c.steps),
            "holdout": f"{c.holdout:.0%}"
            if c.holdout * 100 == round(c.holdout * 100)
            else f"{c.holdout:.1%}",
            "repeat": format_interval(c.repeat),
            "enabled": c.enabled,
        }
        for c in config.campaigns
    ]
