"""Rendering (sandboxed Jinja2), template contexts from the database, and the e-mail itself."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from retain_cli.campaigns.config import load_config
from retain_cli.campaigns.context import format_date, format_money, load_contexts, sample_context
from retain_cli.campaigns.message import build_message, message_id, one_line, unsubscribe_url
from retain_cli.campaigns.survey import SAMPLE_SECRET, with_survey
from retain_cli.campaigns.templating import Renderer
from retain_cli.errors import ConfigError, SendError
from retain_cli.store import Store

AS_OF = datetime(2025, 7, 1, 23, 59, 59, tzinfo=UTC)

CONFIG = """\
sender:
  from: "Rosie's Bakery <hello@rosies.example>"
  reply_to: hello@rosies.example
  address: "12 Baker St, Springfield"
  unsubscribe: "{unsubscribe}"
campaigns:
  - name: test
    subject: "{subject}"
    template: t.txt.j2
"""


def setup(
    tmp_path: Path,
    text: str,
    *,
    html: str | None = None,
    subject: str = "Hi {{ customer.first_name | default('friend') }}",
    unsubscribe: str = "mailto:unsubscribe@rosies.example",
):
    (tmp_path / "t.txt.j2").write_text(text, encoding="utf-8")
    if html is not None:
        (tmp_path / "t.html.j2").write_text(html, encoding="utf-8")
    path = tmp_path / "campaigns.yaml"
    path.write_text(CONFIG.format(subject=subject, unsubscribe=unsubscribe), encoding="utf-8")
    config = load_config(path)
    campaign = config.campaigns[0]
    return config, campaign, campaign.steps[0], Renderer(config)


def context_with(config, **customer):
    context = sample_context(config, AS_OF)
    context["customer"] = {**context["customer"], **customer}
    return context


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        (1250, "USD", "en_US", "$12.50"),
        (1250, "EUR", "en_US", "€12.50"),
        (1250, "EUR", "en_GB", "€12.50"),
        (1250, "EUR", "de_DE", "12,50\u00a0€"),
        (123456789, "EUR", "en_GB", "€1,234,567.89"),
        (123456789, "EUR", "de_DE", "1.234.567,89\u00a0€"),
        (1250, "JPY", "en_US", "¥1,250"),
        (12.5, "USD", "en_US", "$12.50"),
        (-1250, "GBP", "en_GB", "-£12.50"),
        (1250, "XYZ", "en_US", "XYZ\u00a012.50"),
        (1999, "SEK", "sv_SE", "19,99\u00a0kr"),
        (1999, "CHF", "de_CH", "CHF\u00a019.99"),
        (None, "USD", "en_US", ""),
    ],
)
def test_money(amount, currency, locale, text):
    assert format_money(amount, currency, locale=locale) == text


def test_money_major_units_when_asked():
    assert format_money(12, "USD", minor=False) == "$12.00"
    assert format_money(12.5, "EUR", locale="de_DE") == "12,50\u00a0€"


@pytest.mark.parametrize(
    ("value", "fmt", "locale", "zone", "text"),
    [
        ("2025-10-07T07:50:26Z", None, "en_GB", "UTC", "7 October 2025"),
        ("2025-10-07T07:50:26Z", None, "en_US", "UTC", "October 7, 2025"),
        ("2025-10-07T07:50:26Z", None, "de_DE", "UTC", "7. Oktober 2025"),
        # 00:30 in Berlin on the 8th is still the 7th in UTC: the shop's day counts
        ("2025-10-07T22:30:00Z", None, "en_GB", "Europe/Berlin", "8 October 2025"),
        ("2025-10-07T22:30:00Z", "MMMM y", "de_DE", "Europe/Berlin", "Oktober 2025"),
        ("2025-12-31T23:30:00Z", "MMMM y", "en_GB", "Europe/Berlin", "January 2026"),
        ("2025-10-07", "%d/%m/%Y", "en_GB", "UTC", "07/10/2025"),
        ("2025-10-07", "short", "en_GB", "UTC", "07/10/2025"),
        (date(2024, 2, 29), "%B %Y", "en_US", "UTC", "February 2024"),
        ("--06-15", None, "en_GB", "UTC", "15 June"),
        ("--06-15", None, "de_DE", "UTC", "15. Juni"),
        (None, None, "en_US", "UTC", ""),
    ],
)
def test_date(value, fmt, locale, zone, text):
    assert format_date(value, fmt, locale=locale, timezone=zone) == text


def test_filters_and_default_inside_templates(tmp_path):
    config, campaign, step, renderer = setup(
        tmp_path,
        "{{ customer.first_name | default('friend') }}|{{ customer.first_name }}|"
        "{{ metrics.total_spent_minor | money }}|{{ 1250 | money('EUR') }}|"
        "{{ last_order.ordered_at | date('%Y') }}|{{ last_order.items | length }}\n",
    )
    assert renderer.render(campaign, step, context_with(config)).text == (
        "Sam|Sam|$84.50|€12.50|2025|2\n"
    )
    nameless = context_with(config, first_name=None)
    rendered = renderer.render(campaign, step, nameless)
    assert rendered.text == "friend||$84.50|€12.50|2025|2\n"
    assert rendered.subject == "Hi friend"


def test_misspelt_variable_names_file_line_and_name(tmp_path):
    config, campaign, step, renderer = setup(tmp_path, "Hello\n\n{{ customer.frist_name }}\n")
    with pytest.raises(ConfigError) as info:
        renderer.render(campaign, step, context_with(config))
    assert str(info.value) == (
        f"{tmp_path / 'campaigns.yaml'}: campaign 'test': t.txt.j2 line 3: undefined: "
        "'frist_name' (no such field; check the spelling)"
    )


def test_misspelt_variable_in_html_and_subject(tmp_path):
    config, campaign, step, renderer = setup(
        tmp_path, "ok\n", html="<p>\n{{ custmer.email }}</p>\n"
    )
    with pytest.raises(ConfigError) as info:
        renderer.render(campaign, step, context_with(config))
    assert str(info.value).endswith(
        "campaign 'test': t.html.j2 line 2: undefined: 'custmer' (no such variable; "
        "check the spelling)"
    )
    config, campaign, step, renderer = setup(tmp_path, "ok\n", subject="Hi {{ shop.nam }}")
    with pytest.raises(ConfigError) as info:
        renderer.render(campaign, step, context_with(config))
    assert str(info.value).endswith(
        "campaign 'test': key 'subject': undefined: 'nam' (no such field; check the spelling)"
    )


def test_syntax_error_names_file_and_line(tmp_path):
    config, campaign, step, renderer = setup(tmp_path, "a\n{% if x %}\nb\n")
    with pytest.raises(ConfigError) as info:
        renderer.render(campaign, step, context_with(config))
    assert str(info.value).startswith(
        f"{tmp_path / 'campaigns.yaml'}: campaign 'test': t.txt.j2 line 3: template syntax "
        "error: Unexpected end of template."
    )


def test_sandbox_refuses_python_internals(tmp_path):
    config, campaign, step, renderer = setup(
        tmp_path, "ok\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n"
    )
    with pytest.raises(ConfigError) as info:
        renderer.render(campaign, step, context_with(config))
    assert str(info.value).endswith(
        "campaign 'test': t.txt.j2 line 2: not allowed in a template: access to attribute "
        "'__class__' of 'str' object is unsafe."
    )


def test_html_is_escaped_text_is_not(tmp_path):
    config, campaign, step, renderer = setup(
        tmp_path, "{{ customer.first_name }}\n", html="<p>{{ customer.first_name }}</p>\n"
    )
    rendered = renderer.render(campaign, step, context_with(config, first_name="<b>Sam</b>"))
    assert rendered.text == "<b>Sam</b>\n"
    assert rendered.html == "<p>&lt;b&gt;Sam&lt;/b&gt;</p>\n"


def test_subject_is_one_line(tmp_path):
    config, campaign, step, renderer = setup(
        tmp_path, "x\n", subject="Hi {{ customer.first_name }}"
    )
    rendered = renderer.render(campaign, step, context_with(config, first_name="A\r\nBcc: x@y.z"))
    assert rendered.subject == "Hi A Bcc: x@y.z"


def test_unsubscribe_urls(tmp_path):
    config, *_ = setup(tmp_path, "x")
    assert unsubscribe_url(config.sender, "a+b@example.com") == (
        "mailto:unsubscribe@rosies.example?subject=unsubscribe%20a%2Bb@example.com"
    )
    https = dataclasses.replace(config.sender, unsubscribe="https://rosies.example/u?list=1")
    assert unsubscribe_url(https, "a@example.com") == (
        "https://rosies.example/u?list=1&email=a@example.com"
    )


def parse(message) -> object:
    return BytesParser(policy=policy.default).parsebytes(message.as_bytes())


def test_message_headers_and_footer(tmp_path):
    config, campaign, step, renderer = setup(
        tmp_path, "Body text\n", html="<html><body><p>Body</p></body></html>\n"
    )
    rendered = renderer.render(campaign, step, context_with(config))
    msg = build_message(
        config,
        campaign,
        step,
        rendered,
        to_email="sam@example.com",
        to_name="Sam Sample",
        send_key="test:1:C1:1",
    )
    raw = msg.as_bytes()
    assert b"\r\n" in raw
    parsed = parse(msg)
    assert parsed["From"] == "Rosie's Bakery <hello@rosies.example>"
    assert parsed["To"] == "Sam Sample <sam@example.com>"
    assert parsed["Reply-To"] == "hello@rosies.example"
    assert parsed["Subject"] == "Hi Sam"
    assert parsed["Message-ID"] == message_id("test:1:C1:1", config.sender.from_addr)
    assert parsed["Message-ID"].endswith("@rosies.example>")
    assert len(parsed["Message-ID"]) == len("<@rosies.example>") + 32
    assert parsed["List-Unsubscribe"] == (
        "<mailto:unsubscribe@rosies.example?subject=unsubscribe%20sam@example.com>"
    )
    assert parsed["List-Unsubscribe-Post"] is None  # mailto: only (RFC 8058 needs https:)
    assert parsed["X-Retain-Campaign"] == "test"
    assert parsed["Date"] is not None
    text = parsed.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Body text\n\n-- \nRosie's Bakery\n12 Baker St, Springfield\n")
    assert "Unsubscribe: mailto:unsubscribe@rosies.example?subject=" in text
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert "12 Baker St, Springfield" in html
    assert html.index("12 Baker St") < html.index("</body>")


def test_message_id_is_stable_per_send_key():
    a = message_id("welcome:1:C1:2025-01-01", "Shop <a@shop.example>")
    assert a == message_id("welcome:1:C1:2025-01-01", "Shop <a@shop.example>")
    assert a != message_id("welcome:2:C1:2025-01-01", "Shop <a@shop.example>")


@pytest.mark.parametrize(
    "evil",
    [
        "Eve\r\nBcc: victim@evil.example",
        "Eve\nBcc: victim@evil.example",
        "Eve\rBcc: victim@evil.example",
        "Eve\u2028Bcc: victim@evil.example",
        "=?utf-8?q?Eve=0D=0ABcc=3A_victim=40evil=2Eexample?=",
    ],
)
def test_header_injection_through_customer_data_is_impossible(tmp_path, evil):
    config, campaign, step, renderer = setup(
        tmp_path, "Hi {{ customer.first_name }}\n", subject="For {{ customer.first_name }}"
    )
    rendered = renderer.render(campaign, step, context_with(config, first_name=evil))
    msg = build_message(
        config, campaign, step, rendered, to_email="eve@example.com", to_name=evil, send_key="k"
    )
    parsed = parse(msg)
    assert [k.lower() for k in parsed] == [
        "from",
        "to",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        # no list-unsubscribe-post: the unsubscribe link is mailto: (RFC 8058 needs https:)
        "x-retain-campaign",
        "x-retain-step",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    ]
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["eve@example.com"]
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]
    assert parsed["Subject"] == f"For {one_line(evil)}"
    assert "=?" not in one_line(evil)


@pytest.mark.parametrize("bad", ["eve@example.com\r\nBcc: x@y.z", "not an address", "a@b, c@d"])
def test_a_bad_recipient_address_is_refused(tmp_path, bad):
    config, campaign, step, renderer = setup(tmp_path, "x\n")
    rendered = renderer.render(campaign, step, context_with(config))
    with pytest.raises(SendError, match="not a valid e-mail address"):
        build_message(config, campaign, step, rendered, to_email=bad, to_name=None, send_key="k")


def test_load_contexts_from_the_database(campaign_shop, db_path):
    config = load_config(campaign_shop)
    with Store.open(db_path) as store:
        contexts = load_contexts(store, config, [1, 2, 5, 99], AS_OF, segments={1: "champions"})
    assert sorted(contexts) == [1, 2, 5]
    ada = contexts[1]
    assert ada["customer"] == {
        "customer_id": "C1",
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "name": "Ada Lovelace",
        "birthday": "1990-06-15",
        "city": None,
        "country": None,
        "company": None,
        "tags": None,
        # her first order, not the day she was imported (created_at, 1 January)
        "since": "2025-03-01T10:00:00Z",
    }
    # the cancelled order #1003 does not count; the refund on #1002 is subtracted
    assert ada["metrics"]["orders"] == 2
    assert ada["metrics"]["total_spent_minor"] == 5500
    assert ada["metrics"]["total_spent"] == 55.0
    assert ada["metrics"]["days_since_last_order"] == 61
    assert ada["last_order"]["order_id"] == "#1002"
    # the order's total as exported; the refund beside it
    assert ada["last_order"]["total_minor"] == 4000
    assert ada["last_order"]["refunded_minor"] == 1000
    assert ada["last_order"]["net_minor"] == 3000
    assert ada["first_order"]["order_id"] == "#1001"
    assert [(i["quantity"], i["name"], i["price"]) for i in ada["last_order"]["items"]] == [
        (2, "Rye loaf", 15.0),
        (1, "Cinnamon buns", 10.0),
    ]
    assert ada["segment"] == "champions"
    assert ada["unsubscribe_url"] == (
        "mailto:unsubscribe@kornblume-backstube.de?subject=unsubscribe%20ada@example.com"
    )
    assert ada["shop"] == {
        "name": "Kornblume Bakery",
        "email": "hello@kornblume-backstube.de",
        "reply_to": "hello@kornblume-backstube.de",
        "address": "Kastanienallee 7, 10435 Berlin",
        "locale": "en_US",
        "timezone": "UTC",
    }
    assert contexts[2]["customer"]["name"] is None
    assert contexts[5]["last_order"] is None
    assert contexts[5]["metrics"]["orders"] == 0
    assert contexts[5]["metrics"]["days_since_last_order"] is None


def test_as_of_hides_later_orders(campaign_shop, db_path):
    config = load_config(campaign_shop)
    early = datetime(2025, 3, 15, tzinfo=UTC)
    with Store.open(db_path) as store:
        ada = load_contexts(store, config, [1], early)[1]
    assert ada["metrics"]["orders"] == 1
    assert ada["last_order"]["order_id"] == "#1001"
    assert ada["last_order"]["items"] == []


def test_shipped_templates_render_for_real_and_sample_customers(campaign_shop, db_path):
    repo = Path(__file__).resolve().parents[2]
    config = load_config(repo / "campaigns.example.yaml")
    renderer = Renderer(config)
    store = Store.open(db_path)  # open while rendering: recommendations() reads it
    contexts = list(load_contexts(store, config, [1, 2, 3, 5], AS_OF).values())
    contexts.append(sample_context(config, AS_OF))
    for campaign in config.campaigns:
        for step in campaign.steps:
            for context in contexts:
                if context["replenishment"] is None and campaign.name == "replenishment":
                    continue  # only the customer with a product due gets it
                key = f"{campaign.name}:{step.index}:sample:1"  # a survey sees `survey` too
                context = with_survey(context, config, campaign, key, SAMPLE_SECRET)
                rendered = renderer.render(campaign, step, context)
                assert rendered.subject and rendered.text.strip()
    thank_you = config.campaign("thank-you")
    text = renderer.render(thank_you, thank_you.steps[0], contexts[0]).text
    # ada's first order #1001 (no line items known): the total alone, in en_GB
    assert "Your order #1001 of 1 March 2025:\n  Total: US$25.00\n" in text
    sample = renderer.render(thank_you, thank_you.steps[0], contexts[-1]).text
    assert (
        "  1 x Birthday cake: US$24.00\n"
        "  Subtotal: US$24.00\n"
        "  Discount: -US$2.40\n"
        "  Tax: US$1.78\n"
        "  Total: US$23.38\n"
    ) in sample
    store.close()


def test_non_ascii_subject_names_and_bodies_round_trip(tmp_path):
    config, campaign, step, renderer = setup(
        tmp_path,
        "Grüße, {{ customer.first_name }}! Total: {{ 1250 | money('EUR') }}\n" + "x" * 1200 + "\n",
        html="<p>Grüße, {{ customer.first_name }} — 🥐</p>\n",
        subject="Für {{ customer.first_name }} 🥐",
    )
    context = context_with(config, first_name="Zoë")
    rendered = renderer.render(campaign, step, context)
    msg = build_message(
        config,
        campaign,
        step,
        rendered,
        to_email="zoe@example.com",
        to_name="Zoë Ünal",
        send_key="k",
    )
    raw = msg.as_bytes()
    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    parsed = parse(msg)
    assert parsed["Subject"] == "Für Zoë 🥐"
    assert parsed["To"].addresses[0].display_name == "Zoë Ünal"
    text = parsed.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Grüße, Zoë! Total: €12.50\n" + "x" * 1200 + "\n\n-- \n")
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert html.startswith("<p>Grüße, Zoë — 🥐</p>\r\n<hr>")
    assert msg.as_string() == raw.decode("ascii")
    assert msg.as_bytes(policy=policy.default.clone(linesep="\n")) == raw.replace(b"\r\n", b"\n")


def test_headers_are_readable_on_the_message(tmp_path):
    config, campaign, step, renderer = setup(tmp_path, "x\n")
    rendered = renderer.render(campaign, step, context_with(config))
    msg = build_message(
        config, campaign, step, rendered, to_email="a@example.com", to_name=None, send_key="s:1:C:1"
    )
    assert msg["To"] == "a@example.com"
    assert msg["X-Retain-Campaign"] == "test"
    assert msg.get("Message-ID") == message_id("s:1:C:1", config.sender.from_addr)
    assert msg.parsed().get_content_type() == "text/plain"


def test_includes_resolve_next_to_the_template(tmp_path):
    (tmp_path / "footer.txt.j2").write_text("Bye from {{ shop.name }}\n")
    config, campaign, step, renderer = setup(tmp_path, "Hi\n{% include 'footer.txt.j2' %}")
    rendered = renderer.render(campaign, step, context_with(config))
    assert rendered.text == "Hi\nBye from Rosie's Bakery\n"


def test_html_without_body_tag_gets_the_footer_appended(tmp_path):
    config, campaign, step, renderer = setup(tmp_path, "x\n", html="<p>Hi</p>")
    rendered = renderer.render(campaign, step, context_with(config))
    msg = build_message(
        config, campaign, step, rendered, to_email="a@example.com", to_name=None, send_key="k"
    )
    html = parse(msg).get_body(preferencelist=("html",)).get_content()
    assert html.startswith('<p>Hi</p><hr><p style="font-size:12px;color:#666">Rosie&#39;s Bakery')


def test_https_unsubscribe_in_headers(tmp_path):
    config, campaign, step, renderer = setup(
        tmp_path, "x\n", unsubscribe="https://rosies.example/unsubscribe"
    )
    rendered = renderer.render(campaign, step, context_with(config))
    msg = build_message(
        config, campaign, step, rendered, to_email="a@example.com", to_name=None, send_key="k"
    )
    assert parse(msg)["List-Unsubscribe"] == (
        "<https://rosies.example/unsubscribe?email=a@example.com>"
    )


def test_default_does_not_hide_a_misspelt_name(tmp_path):
    config, campaign, step, renderer = setup(
        tmp_path, "Hi {{ customer.frist_name | default('friend') }}\n"
    )
    with pytest.raises(ConfigError) as info:
        renderer.render(campaign, step, context_with(config))
    assert str(info.value).endswith(
        "t.txt.j2 line 1: undefined: 'frist_name' (no such field; check the spelling)"
    )


HEADER_NAMES = [
    "from",
    "to",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "list-unsubscribe",
    # no list-unsubscribe-post: the unsubscribe link is mailto: (RFC 8058 needs https:)
    "x-retain-campaign",
    "x-retain-step",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
]


def test_no_customer_text_can_add_a_header(tmp_path):
    """Property: whatever a name holds, the parsed message has exactly our headers."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    config, campaign, step, renderer = setup(
        tmp_path, "Hi {{ customer.first_name }}\n", subject="For {{ customer.first_name }}"
    )
    base = context_with(config)
    pieces = st.sampled_from(["\r\n", "\n", "\r", "Bcc: x@evil.example", "=?utf-8?q?", ":", "é"])
    # an explicit alphabet: ASCII, control characters and some non-ASCII (and no need for
    # Hypothesis's Unicode tables, which would be rebuilt in every temporary HOME)
    alphabet = st.sampled_from(
        [chr(c) for c in range(0, 128)] + list("éüß—🥐\u2028\u2029\u0085\x85\u00a0")
    )
    text = st.text(alphabet=alphabet, max_size=20)
    names = st.lists(st.one_of(text, pieces), max_size=8).map("".join)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(name=names)
    def check(name: str) -> None:
        context = {**base, "customer": {**base["customer"], "first_name": name}}
        rendered = renderer.render(campaign, step, context)
        msg = build_message(
            config, campaign, step, rendered, to_email="a@example.com", to_name=name, send_key="k"
        )
        raw = msg.as_bytes()
        assert raw.isascii()
        parsed = parse(msg)
        assert [k.lower() for k in parsed] == HEADER_NAMES
        assert [a.addr_spec for a in parsed["To"].addresses] == ["a@example.com"]
        assert not parsed.defects

    check()


def test_templates_cannot_change_shared_data(tmp_path):
    config, campaign, step, renderer = setup(tmp_path, "{{ campaign.update({'name': 'x'}) }}\n")
    with pytest.raises(ConfigError) as info:
        renderer.render(campaign, step, context_with(config))
    assert str(info.value).endswith(
        "t.txt.j2 line 1: not allowed in a template: access to attribute 'update' of 'dict' "
        "object is unsafe."
    )
