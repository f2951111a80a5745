"""The campaign file: loading, validation and its error messages."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from retain_cli.campaigns.config import config_path, load_config, summary_rows
from retain_cli.campaigns.model import format_interval, parse_interval, parse_percentage
from retain_cli.errors import ConfigError, NotFound

REPO = Path(__file__).resolve().parents[2]

ISSUE_EXAMPLE = """\
sender:
  from: "Rosie's Bakery <hello@rosies.example>"
  reply_to: hello@rosies.example
  address: "12 Baker St, Springfield"            # postal footer the law asks for
  unsubscribe: "mailto:unsubscribe@rosies.example"
transport:
  type: smtp                     # smtp | outbox (writes .eml files; the demo default)
  host: smtp.example.com
  port: 587
  security: starttls             # starttls | ssl | none
  username: hello@rosies.example # omit for a server that needs no login
  password_env: RETAIN_SMTP_PASSWORD
limits:
  per_minute: 20
  per_day: 500
  batch_size: 50
  quiet_hours: "21:00-08:00"
  min_hours_between_messages: 16  # across all campaigns, per customer
campaigns:
  - name: win-back
    audience: {segment: lifecycle:at_risk, where: "orders >= 2"}
    subject: "We miss you, {{ customer.first_name | default('friend') }}"
    template: templates/win_back.txt.j2    # optional .html.j2 sibling for an HTML part
    holdout: 10%
    repeat: never                           # or an interval such as 90d
  - name: thank-you
    trigger: {after: first_order, days: 3}  # also last_order, birthday, entered_segment
    subject: "Thank you for your first order"
    template: templates/thank_you.txt.j2
"""

MINIMAL = """\
sender:
  from: shop@example.com
  address: "1 Main St"
  unsubscribe: "https://shop.example/unsubscribe"
campaigns:
  - name: one
    subject: Hi
    template: t.txt.j2
"""


def write(tmp_path: Path, text: str, name: str = "campaigns.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    for template in ("t.txt.j2", "templates/win_back.txt.j2", "templates/thank_you.txt.j2"):
        (tmp_path / template).parent.mkdir(exist_ok=True)
        (tmp_path / template).write_text("Hello\n", encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value).replace(f"{path}", "campaigns.yaml")


def test_issue_example_loads_as_written(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "win_back.html.j2").write_text("<p>Hi</p>\n")
    config = load_config(write(tmp_path, ISSUE_EXAMPLE))
    assert config.sender.from_addr == "Rosie's Bakery <hello@rosies.example>"
    assert config.sender.from_email == "hello@rosies.example"
    assert config.sender.reply_to == "hello@rosies.example"
    assert config.transport == "smtp"
    assert config.smtp is not None
    assert (config.smtp.host, config.smtp.port, config.smtp.security) == (
        "smtp.example.com",
        587,
        "starttls",
    )
    assert config.smtp.username == "hello@rosies.example"
    assert config.smtp.password_env == "RETAIN_SMTP_PASSWORD"
    limits = config.limits
    assert (limits.per_minute, limits.per_day, limits.batch_size) == (20, 500, 50)
    assert limits.quiet_hours == (time(21, 0), time(8, 0))
    assert limits.min_hours_between_messages == 16.0
    assert limits.timezone == "UTC"
    win_back, thank_you = config.campaigns
    assert win_back.audience.kind == "segment"
    assert win_back.audience.segment == "lifecycle:at_risk"
    assert win_back.audience.where == "orders >= 2"
    assert win_back.holdout == pytest.approx(0.10)
    assert win_back.repeat is None
    assert win_back.trigger is None
    (step,) = win_back.steps
    assert step.index == 1 and step.days == 0
    assert step.template == tmp_path / "templates" / "win_back.txt.j2"
    assert step.html_template == tmp_path / "templates" / "win_back.html.j2"
    assert thank_you.trigger is not None
    assert (thank_you.trigger.event, thank_you.trigger.days) == ("first_order", 3)
    assert thank_you.audience.kind == "all"
    assert thank_you.steps[0].html_template is None
    assert thank_you.enabled is True


def test_shipped_example_and_templates_load():
    config = load_config(REPO / "campaigns.example.yaml")
    names = [c.name for c in config.campaigns]
    assert names == [
        "welcome",
        "thank-you",
        "win-back",
        "birthday",
        "vip-thanks",
        "feedback",
        "tier-up",
        "points-expiring",
        "replenishment",
        "promoter-thanks",
        "vip-call",
    ]
    assert config.transport == "outbox"
    assert config.outbox_dir == REPO / "outbox"
    welcome = config.campaign("welcome")
    assert [(s.index, s.days) for s in welcome.steps] == [(1, 0), (2, 4)]
    vip = config.campaign("vip-thanks")
    assert vip.trigger is not None and vip.trigger.segment == "rfm:champions"
    win_back = config.campaign("win-back")
    assert win_back.audience.segment == "lifecycle:at_risk"
    assert vip.repeat == timedelta(days=180)
    assert config.campaign("feedback").survey is not None
    assert config.campaign("vip-call").steps[0].is_task


def test_template_paths_are_relative_to_the_config_folder(tmp_path, monkeypatch):
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    path = write(sub, MINIMAL)
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("elsewhere") / path.name)
    assert config.campaigns[0].steps[0].template == sub / "t.txt.j2"
    assert config.outbox_dir == sub / "outbox"
    assert config.transport == "outbox" and config.smtp is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    holdout: 10%",
            "    holdot: 10%",
            "campaigns.yaml: campaign 'win-back': key 'holdot': unknown key; "
            "did you mean 'holdout'? allowed here: name, description, audience, trigger, "
            "subject, template, html_template, steps, holdout, repeat, enabled, "
            "priority, fresh_for, offer_code, approval, survey, channel, kind, "
            "coupon_pool, variants, variant_salt",
        ),
        (
            "    holdout: 10%",
            "    holdout: 60%",
            "campaigns.yaml: campaign 'win-back': key 'holdout': '60%' must be between 0% and 50%",
        ),
        (
            "    holdout: 10%",
            "    holdout: 10",
            "campaigns.yaml: campaign 'win-back': key 'holdout': 10 is more than 1; "
            "write 10% or 0.1",
        ),
        (
            "    repeat: never ",
            "    repeat: 90x ",
            "campaigns.yaml: campaign 'win-back': key 'repeat': '90x' is not an interval; "
            "write 90d, 12h or 2w, or never",
        ),
        (
            '  quiet_hours: "21:00-08:00"',
            '  quiet_hours: "25:00-08:00"',
            "campaigns.yaml: key 'limits.quiet_hours': '25:00-08:00' has an impossible time; "
            "hours 00-23, minutes 00-59",
        ),
        (
            "  port: 587",
            "  port: 70000",
            "campaigns.yaml: key 'transport.port': must be at least 1 and at most 65535, not 70000",
        ),
        (
            "  security: starttls ",
            "  security: tls ",
            "campaigns.yaml: key 'transport.security': must be one of starttls, ssl, none, "
            "not 'tls'",
        ),
        (
            "  per_day: 500",
            "  per_day: lots",
            "campaigns.yaml: key 'limits.per_day': must be a whole number, not the text 'lots'",
        ),
        (
            "  reply_to: hello@rosies.example",
            "  reply_to: hello at rosies",
            "campaigns.yaml: key 'sender.reply_to': 'hello at rosies' is not an e-mail "
            'address; write it as "Shop Name <hello@shop.example>" or hello@shop.example',
        ),
        (
            '  unsubscribe: "mailto:unsubscribe@rosies.example"',
            '  unsubscribe: "unsubscribe@rosies.example"',
            "campaigns.yaml: key 'sender.unsubscribe': 'unsubscribe@rosies.example' must "
            "start with mailto: or https:// (mail providers require a working unsubscribe "
            "link)",
        ),
        (
            "    template: templates/thank_you.txt.j2",
            "    template: templates/thanks.txt.j2",
            "campaigns.yaml: campaign 'thank-you': key 'template': template "
            "'templates/thanks.txt.j2' not found (looked for {dir}/templates/thanks.txt.j2; "
            "paths are relative to the campaign file's folder)",
        ),
        (
            "{after: first_order, days: 3}",
            "{after: first_purchase, days: 3}",
            "campaigns.yaml: campaign 'thank-you': key 'trigger.after': must be one of "
            "first_order, last_order, birthday, entered_segment, signup, promoter, "
            "tier_upgraded, tier_at_risk, points_expiring, replenishment, "
            "not 'first_purchase'",
        ),
        (
            "{after: first_order, days: 3}",
            "{after: entered_segment, days: 3}",
            "campaigns.yaml: campaign 'thank-you': key 'trigger.segment': is required with "
            "after: entered_segment",
        ),
        (
            "{after: first_order, days: 3}",
            "{after: first_order, days: -1}",
            "campaigns.yaml: campaign 'thank-you': key 'trigger.days': must be at least 0 and "
            "at most 3650, not -1",
        ),
        (
            '{segment: lifecycle:at_risk, where: "orders >= 2"}',
            "everyone",
            "campaigns.yaml: campaign 'win-back': key 'audience': 'everyone' is not an "
            'audience; write `all` or {segment: NAME, where: "..."}',
        ),
        (
            "  - name: thank-you",
            "  - name: win-back",
            "campaigns.yaml: campaign 'win-back': key 'name': is used by another campaign; "
            "names must be unique",
        ),
        (
            "  - name: thank-you",
            "  - name: thank you",
            "campaigns.yaml: campaign 'thank you': key 'name': use letters, digits, '-', '_' "
            "or '.' only (it is used in send keys)",
        ),
        (
            "  - name: thank-you\n",
            "  - nam: thank-you\n",
            "campaigns.yaml: campaign 2: key 'nam': unknown key; did you mean 'name'? "
            "allowed here: name, description, audience, trigger, subject, template, "
            "html_template, steps, holdout, repeat, enabled, priority, fresh_for, "
            "offer_code, approval, survey, channel, kind, coupon_pool, variants, "
            "variant_salt",
        ),
        (
            "limits:",
            "limit:",
            "campaigns.yaml: key 'limit': unknown key; did you mean 'limits'? allowed here: "
            "shop, sender, transport, limits, campaigns, mailbox, loyalty",
        ),
    ],
)
def test_bad_values_name_file_campaign_and_key(tmp_path, old, new, message):
    assert old in ISSUE_EXAMPLE
    text = ISSUE_EXAMPLE.replace(old, new, 1)
    assert error_of(tmp_path, text) == message.replace("{dir}", str(tmp_path))


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("  password_env: RETAIN_SMTP_PASSWORD", "  password: hunter2", "transport.password"),
        ("  per_day: 500", "  per_day: 500\n  smtp_password: x", "limits.smtp_password"),
        ("    holdout: 10%", "    holdout: 10%\n    password: x", "campaigns.0.password"),
    ],
)
def test_a_password_in_the_file_is_refused(tmp_path, old, new, key):
    text = ISSUE_EXAMPLE.replace(old, new, 1)
    assert error_of(tmp_path, text) == (
        f"campaigns.yaml: key '{key}': passwords never go in the campaign file; set "
        "transport.password_env to the name of an environment variable that holds it "
        "(e.g. RETAIN_SMTP_PASSWORD), or transport.keyring_service to read it from the "
        "system keyring"
    )


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    text = ISSUE_EXAMPLE.replace("  per_day: 500", "  per_day: [500", 1)
    message = error_of(tmp_path, text)
    assert message.startswith("campaigns.yaml: line 16, column 13: YAML syntax error: ")


def test_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert str(info.value) == (
        f"no campaign file at {tmp_path / 'nope.yaml'}; copy campaigns.example.yaml to "
        "campaigns.yaml (or run 'retain init'), or pass --config PATH (or set RETAIN_CONFIG)"
    )


def test_smtp_defaults_follow_security(tmp_path):
    text = MINIMAL.replace(
        "campaigns:", "transport:\n  type: smtp\n  host: mail.example\n  security: ssl\ncampaigns:"
    )
    config = load_config(write(tmp_path, text))
    assert config.smtp is not None
    assert (config.smtp.port, config.smtp.timeout, config.smtp.username) == (465, 30.0, None)
    text = MINIMAL.replace("campaigns:", "transport:\n  type: smtp\ncampaigns:")
    assert error_of(tmp_path, text) == "campaigns.yaml: key 'transport.host': is required"


def test_every_limit_is_optional(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    limits = config.limits
    assert (limits.per_minute, limits.per_day, limits.batch_size, limits.quiet_hours) == (
        None,
        None,
        None,
        None,
    )
    assert limits.min_hours_between_messages is None
    assert config.campaigns[0].holdout == 0.0 and config.campaigns[0].repeat is None


def test_transport_shorthand_and_timezone(tmp_path):
    text = MINIMAL.replace(
        "campaigns:", "transport: outbox\nlimits: {timezone: Europe/Paris}\ncampaigns:"
    )
    config = load_config(write(tmp_path, text))
    assert config.transport == "outbox" and config.limits.timezone == "Europe/Paris"
    bad = MINIMAL.replace("campaigns:", "limits: {timezone: Mars/Olympus}\ncampaigns:")
    assert error_of(tmp_path, bad) == (
        "campaigns.yaml: key 'limits.timezone': 'Mars/Olympus' is not a time zone; use an "
        "IANA name such as Europe/London"
    )


def test_steps(tmp_path):
    (tmp_path / "a.txt.j2").write_text("a")
    (tmp_path / "b.txt.j2").write_text("b")
    (tmp_path / "b.html.j2").write_text("<b>b</b>")
    steps = """\
  - name: series
    trigger: {after: signup}
    steps:
      - {days: 0, subject: One, template: a.txt.j2}
      - {days: 7, subject: Two, template: b.txt.j2}
"""
    config = load_config(write(tmp_path, MINIMAL + steps))
    series = config.campaign("series")
    assert [(s.index, s.days, s.subject) for s in series.steps] == [(1, 0, "One"), (2, 7, "Two")]
    assert series.steps[1].html_template == tmp_path / "b.html.j2"
    assert series.step(2).template == tmp_path / "b.txt.j2"
    with pytest.raises(NotFound, match=r"campaign .series. has no step 3; steps are 1\.\.2"):
        series.step(3)
    backwards = steps.replace("days: 7", "days: -0").replace("days: 0,", "days: 5,")
    assert error_of(tmp_path, MINIMAL + backwards) == (
        "campaigns.yaml: campaign 'series': key 'steps[2].days': steps must be in order of "
        "days (0 comes after 5)"
    )
    mixed = steps.replace("    steps:", "    subject: Hi\n    steps:")
    assert error_of(tmp_path, MINIMAL + mixed) == (
        "campaigns.yaml: campaign 'series': key 'subject': goes inside each step when a "
        "campaign has steps"
    )


def test_unknown_campaign_lists_names(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    with pytest.raises(NotFound) as info:
        config.campaign("onw")
    assert str(info.value) == (
        f"no campaign 'onw' in {tmp_path / 'campaigns.yaml'}; did you mean 'one'? "
        "campaigns are: one"
    )


def test_config_path_precedence(tmp_path, monkeypatch):
    assert config_path(Path("x.yaml")) == Path("x.yaml")
    assert config_path(None) == tmp_path / "campaigns.yaml"  # RETAIN_CONFIG from conftest
    monkeypatch.delenv("RETAIN_CONFIG")
    assert config_path(None) == Path("campaigns.yaml")


@pytest.mark.parametrize(
    ("value", "fraction"), [("10%", 0.10), ("12.5 %", 0.125), (0.1, 0.1), (0, 0.0), ("0%", 0.0)]
)
def test_parse_percentage(value, fraction):
    assert parse_percentage(value) == pytest.approx(fraction)


@pytest.mark.parametrize("value", ["ten", "-5%", "51%", True, None, [1]])
def test_parse_percentage_rejects(value):
    with pytest.raises(ValueError):
        parse_percentage(value)


@pytest.mark.parametrize(
    ("text", "delta"),
    [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)), ("2w", timedelta(weeks=2))],
)
def test_intervals_round_trip(text, delta):
    assert parse_interval(text) == delta
    assert format_interval(delta) == text


def test_summary_rows(tmp_path):
    config = load_config(write(tmp_path, ISSUE_EXAMPLE))
    assert summary_rows(config) == [
        {
            "name": "win-back",
            "audience": "lifecycle:at_risk where orders >= 2",
            "trigger": "",
            "steps": 1,
            "holdout": "10%",
            "repeat": "never",
            "enabled": True,
        },
        {
            "name": "thank-you",
            "audience": "all",
            "trigger": "3d after first_order",
            "steps": 1,
            "holdout": "0%",
            "repeat": "never",
            "enabled": True,
        },
    ]


def test_explicit_html_template(tmp_path):
    (tmp_path / "fancy.html.j2").write_text("<p>Hi</p>")
    text = MINIMAL + "    html_template: fancy.html.j2\n"
    config = load_config(write(tmp_path, text))
    assert config.campaigns[0].steps[0].html_template == tmp_path / "fancy.html.j2"
    missing = MINIMAL + "    html_template: nope.html.j2\n"
    assert error_of(tmp_path, missing) == (
        "campaigns.yaml: campaign 'one': key 'html_template': template 'nope.html.j2' not "
        f"found (looked for {tmp_path}/nope.html.j2; paths are relative to the campaign "
        "file's folder)"
    )


def test_security_no_means_none_and_empty_file(tmp_path):
    text = MINIMAL.replace(
        "campaigns:", "transport: {type: smtp, host: localhost, security: no}\ncampaigns:"
    )
    config = load_config(write(tmp_path, text))
    assert config.smtp is not None
    assert (config.smtp.security, config.smtp.port) == ("none", 25)
    assert error_of(tmp_path, "") == (
        "campaigns.yaml: must be a mapping with sender, transport, limits and campaigns"
    )
