"""A template cannot hold retain for long or fill the memory: each message's rendering is
bounded in time (MAX_SECONDS) and each part in size (MAX_CHARS), through 'campaigns check',
'send --dry-run' and 'send', with an error that names the campaign, step and template."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from smtp_servers import SHOP_AS_OF, sending_shop

from retain_cli.campaigns import template_bounds
from retain_cli.campaigns.template_bounds import (
    MAX_CHARS,
    TemplateTooBig,
    TemplateTooSlow,
    render_bounded,
    time_bound,
)
from retain_cli.campaigns.templating import make_environment
from retain_cli.store import Store

LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
HUGE = '{{ "x" * 200000000 }}'


@pytest.fixture
def shop(db_path: Path, tmp_path: Path) -> Path:
    return sending_shop(db_path, tmp_path)


def add_campaign(config: Path, body: str, *, steps: int = 1) -> Path:
    """A campaign 'greedy' whose last step renders ``body`` (after a greeting line)."""
    (config.parent / "templates" / "greedy.txt.j2").write_text(
        "Hello {{ customer.first_name }},\n\n" + body + "\n"
    )
    text = config.read_text() + "  - name: greedy\n    audience: all\n    steps:\n"
    for index in range(steps):
        template = "greedy" if index == steps - 1 else "hello"
        text += (
            f'      - days: {index * 3}\n        subject: "Step {index + 1}"\n'
            f"        template: templates/{template}.txt.j2\n"
        )
    config.write_text(text)
    return config


def flat(text: str) -> str:
    return " ".join(text.split())


def test_campaigns_check_stops_a_template_that_loops(cli, shop):
    config = add_campaign(shop, LOOP, steps=2)
    started = time.monotonic()
    result = cli("campaigns", "check", "--config", str(config), "--as-of", SHOP_AS_OF)
    took = time.monotonic() - started
    assert took < template_bounds.MAX_SECONDS * 2 + 5, took  # once, then not tried again
    assert result.exit_code == 1
    assert (
        "step 2: templates/greedy.txt.j2 line 3: rendering took longer than 2 s (is a loop "
        "too large?); it was stopped" in flat(result.stdout)
    )
    assert (
        "Error: 1 of 7 campaigns have problems (greedy); fix them and run 'retain campaigns "
        "check' again" in flat(result.stderr)
    )


def test_campaigns_check_stops_a_template_that_writes_200_mb(cli, shop):
    config = add_campaign(shop, HUGE)
    result = cli("campaigns", "check", "--config", str(config), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 1
    assert (
        "templates/greedy.txt.j2 line 3: '*' would make 200,000,000 characters (at most "
        "1,000,000 in a template); is a loop or a repeat too large?" in flat(result.stdout)
    )


def test_send_dry_run_names_campaign_step_and_template(cli, shop, db_path, monkeypatch):
    monkeypatch.setattr(template_bounds, "MAX_SECONDS", 0.5)
    config = add_campaign(shop, LOOP)
    started = time.monotonic()
    result = cli("send", "greedy", "--dry-run", "--config", str(config), "--as-of", SHOP_AS_OF)
    took = time.monotonic() - started
    assert took < 5, took  # 20 customers, but the step is stopped once
    assert result.exit_code == 3
    assert (
        f"{config}: campaign 'greedy': templates/greedy.txt.j2 line 3: rendering took longer "
        "than 0.5 s (is a loop too large?); it was stopped" in flat(result.stderr)
    )
    with Store.open(db_path) as store:
        assert store.conn.execute("SELECT count(*) FROM sends").fetchone() == (0,)


def test_send_fails_the_messages_of_a_template_that_writes_too_much(cli, shop, db_path):
    body = "{% for i in range(100000) %}" + "0123456789" * 2 + "{% endfor %}"
    config = add_campaign(shop, body)
    result = cli("send", "greedy", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 3
    message = (
        f"cannot build the message: ConfigError: {config}: campaign 'greedy': "
        "templates/greedy.txt.j2: the template writes more than 1,000,000 characters (an "
        "e-mail has about 10,000); is a loop too large? Rendering stops there"
    )
    with Store.open(db_path) as store:
        errors = store.conn.execute(
            "SELECT DISTINCT state, error FROM sends WHERE campaign = 'greedy' "
            "AND state != 'held_out'"
        ).fetchall()
    assert errors == [("failed", message)]


# --- the bounds one by one ------------------------------------------------------------------

HOSTILE = {
    "repeat": HUGE,
    "nested loop": LOOP,
    "exponential macro": (
        "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(60) }}"
    ),
    "doubling with ~": (
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}'
        "{% endfor %}{{ ns.s|length }}"
    ),
    "doubling with +": (
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}'
        "{% endfor %}"
    ),
    "center": '{{ "x"|center(1000000000) }}',
    "ljust": '{{ "x".ljust(1000000000) }}',
    "format width": '{{ "{:>1000000000}".format("x") }}',
    "format width from an argument": '{{ "{:>{}}".format("x", 1000000000) }}',
    "printf width": '{{ "%1000000000s" % "x" }}',
    "printf star": '{{ "%*s" % (1000000000, "x") }}',
    "format filter": '{{ "%1000000000s"|format("x") }}',
    "power": "{{ 2 ** 1000000000 }}",
    "list repeat then join": '{% set l = ["x" * 1000000] * 100000 %}{{ l|join }}',
    "shared items printed": (
        '{% set a = "x" * 900000 %}{% set l1 = [a, a, a, a, a, a, a, a, a, a] %}'
        "{% set l2 = [l1, l1, l1, l1, l1, l1, l1, l1, l1, l1] %}{{ l2 }}"
    ),
    "replace": '{{ ("x" * 1000)|replace("x", "x" * 10000) }}',
    "join with a long separator": '{{ ("x" * 1000000).join(range(100000)|map("string")) }}',
    "lipsum": "{{ lipsum(1, False, 100000000, 100000000) }}",
    "batch padding": '{{ [1]|batch(1000000000, "x")|list|length }}',
    "indent": '{{ ("a\\n" * 100000)|indent(100000) }}',
    "output": "{% for i in range(100000) %}{% for j in range(100) %}x{% endfor %}{% endfor %}",
}


def render(source: str, seconds: float = 0.5) -> str:
    env = make_environment()
    template = env.from_string(source)
    context = template.new_context({**env.make_globals(None), "name": None}, shared=True)
    with time_bound(seconds):
        return render_bounded(template.root_render_func(context), "the template")


@pytest.mark.parametrize("source", list(HOSTILE.values()), ids=list(HOSTILE))
def test_each_way_to_blow_up_is_stopped_quickly(source):
    started = time.monotonic()
    with pytest.raises((TemplateTooBig, TemplateTooSlow)):
        render(source)
    assert time.monotonic() - started < 2.5


def test_ordinary_templates_are_untouched():
    source = (
        'Hello {{ name|default("friend") }}, {{ "%.2f"|format(3.14159) }} '
        '{{ "{:,}".format(1234567) }} {{ [1, 2, 3]|join(", ") }} {{ "ab" * 3 }} '
        '{{ ("x" * 10)|center(14) }}|{% for i in range(3) %}{{ i ~ "-" }}{% endfor %}'
        "{{ 2 ** 10 }} {{ (range(5)|list)|length }}"
    )
    assert render(source) == (
        "Hello friend, 3.14 1,234,567 1, 2, 3 ababab   xxxxxxxxxx  |0-1-2-1024 5"
    )


def test_output_just_under_the_bound_is_fine():
    assert len(render(f'{{{{ "x" * {MAX_CHARS} }}}}')) == MAX_CHARS
