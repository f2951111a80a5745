"""`retain campaigns list`, `retain campaigns check` and `retain preview` through the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from retain_cli.campaigns.audience import audience_members
from retain_cli.campaigns.config import load_config
from retain_cli.campaigns.preview import preview_messages
from retain_cli.store import Store

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2025-07-01"


def test_list_csv_and_json(cli, campaign_shop):
    result = cli("campaigns", "list", "--config", str(campaign_shop), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert list(csv.DictReader(io.StringIO(result.stdout))) == [
        {
            "name": "hello",
            "audience": "all",
            "trigger": "",
            "steps": "1",
            "holdout": "0%",
            "repeat": "never",
            "enabled": "True",
        },
        {
            "name": "series",
            "audience": "all",
            "trigger": "0d after signup",
            "steps": "2",
            "holdout": "10%",
            "repeat": "90d",
            "enabled": "True",
        },
    ]
    result = cli("campaigns", "list", "--config", str(campaign_shop), "-f", "json")
    assert [c["name"] for c in json.loads(result.stdout)] == ["hello", "series"]


def test_list_table_uses_retain_config(cli, campaign_shop, monkeypatch):
    monkeypatch.setenv("RETAIN_CONFIG", str(campaign_shop))
    result = cli("campaigns", "list")
    assert result.exit_code == 0
    assert "hello" in result.stdout and "0d after signup" in result.stdout


def test_list_without_a_campaign_file(cli, tmp_path):
    result = cli("campaigns", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no campaign file at {tmp_path / 'campaigns.yaml'}; copy "
        "campaigns.example.yaml to campaigns.yaml (or run 'retain init'), or pass --config "
        "PATH (or set RETAIN_CONFIG)\n"
    )


def test_list_invalid_file_names_file_campaign_and_key(cli, campaign_shop):
    text = campaign_shop.read_text().replace("holdout: 10%", "holdout: lots")
    campaign_shop.write_text(text)
    result = cli("campaigns", "list", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {campaign_shop}: campaign 'series': key 'holdout': 'lots' is not a "
        "percentage; write 10% or 0.1\n"
    )
    assert result.stdout == ""


def test_check_ok_renders_against_sample_and_real_customer(cli, campaign_shop):
    result = cli(
        "campaigns", "check", "--config", str(campaign_shop), "--as-of", AS_OF, "-f", "json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "campaign": "hello",
            "status": "OK",
            "rendered_for": "sample, ada@example.com",
            "problems": "",
        },
        {
            "campaign": "series",
            "status": "OK",
            "rendered_for": "sample, ada@example.com",
            "problems": "",
        },
    ]


def test_check_without_database_uses_the_sample(cli, campaign_shop, db_path):
    db_path.unlink()
    result = cli("campaigns", "check", "--config", str(campaign_shop), "-f", "csv")
    assert result.exit_code == 0, result.output
    assert "hello,OK,sample," in result.stdout
    assert not db_path.exists()


def test_check_fails_on_a_misspelt_variable(cli, campaign_shop):
    step2 = campaign_shop.parent / "templates" / "step2.txt.j2"
    step2.write_text("Second step.\n\nSee you, {{ customer.frist_name }}\n")
    result = cli("campaigns", "check", "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert rows[0]["status"] == "OK"
    assert rows[1] == {
        "campaign": "series",
        "status": "problem",
        "rendered_for": "sample, ada@example.com",
        "problems": "step 2: templates/step2.txt.j2 line 3: undefined: 'frist_name' "
        "(no such field; check the spelling)",
    }
    assert result.stderr == (
        "Error: 1 of 2 campaigns have problems (series); fix them and run "
        "'retain campaigns check' again\n"
    )


def test_check_fails_on_a_real_customer_only_problem(cli, campaign_shop):
    # fine for the sample customer (who has tags), broken for ada (who has none)
    hello = campaign_shop.parent / "templates" / "hello.txt.j2"
    hello.write_text("Tag: {{ customer.tags.split(',')[0] }}\n")
    result = cli("campaigns", "check", "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)[0] == {
        "campaign": "hello",
        "status": "problem",
        "rendered_for": "sample, ada@example.com",
        "problems": "templates/hello.txt.j2 line 1: undefined: 'split' of an empty value "
        "(this customer has no value there; guard it with {% if ... %} or | default(...))",
    }


def test_check_shipped_example(cli, tmp_path):
    result = cli("campaigns", "check", "--config", str(REPO / "campaigns.example.yaml"))
    names = [c.name for c in load_config(REPO / "campaigns.example.yaml").campaigns]
    assert len(names) == 11
    for name in names:
        assert name in result.stdout
    assert result.exit_code == 0, result.output


def test_preview_prints_headers_and_text(cli, campaign_shop):
    result = cli("preview", "hello", "--config", str(campaign_shop), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    out = result.stdout
    # consenting members only, in customer order: ada, bob, nora (eve: no consent, sue: opted out)
    assert out.count("=== message ") == 3
    assert "=== message 1 of 3: step 1 to ada@example.com ===" in out
    assert "=== message 2 of 3: step 1 to bob@example.com ===" in out
    assert "=== message 3 of 3: step 1 to nora@example.com ===" in out
    assert "eve@example.com" not in out and "sue@example.com" not in out
    assert (
        "From: Kornblume Bakery <hello@kornblume-backstube.de>\n"
        "To: Ada Lovelace <ada@example.com>\n" in out
    )
    assert "Subject: Hello Ada\n" in out
    assert "Subject: Hello friend\n" in out  # bob has no first name
    assert "X-Retain-Campaign: hello\n" in out
    assert "List-Unsubscribe-Post" not in out  # mailto: only (RFC 8058 needs https:)
    # no shop.locale in the file: en_US
    assert "You have 2 orders worth $55.00.\nLast order #1002 on May 1, 2025:\n" in out
    assert "- 2 x Rye loaf\n- 1 x Cinnamon buns\n" in out
    assert "Kastanienallee 7, 10435 Berlin" in out
    assert "[HTML part: " in out


def test_preview_one_customer_and_step(cli, campaign_shop):
    result = cli(
        "preview",
        "series",
        "--customer",
        "Ada@Example.com",
        "--step",
        "2",
        "--config",
        str(campaign_shop),
    )
    assert result.exit_code == 0, result.output
    # step 2 follows step 1, which was never sent to her: send would not write it now
    assert result.stdout.startswith(
        "=== message 1 of 1: step 2 to ada@example.com  "
        "(NOT SENT: not due now (0d after signup)) ===\n"
    )
    assert "Subject: Step two\n" in result.stdout
    assert "Second step." in result.stdout


def test_preview_customer_without_consent_is_marked(cli, campaign_shop):
    result = cli(
        "preview", "hello", "--customer", "eve@example.com", "--config", str(campaign_shop)
    )
    assert result.exit_code == 0, result.output
    assert "to eve@example.com  (NOT SENT: no consent) ===" in result.stdout
    # her name carries a CR LF and a fake Bcc header: it stays inside the To header
    headers = result.stdout.split("\n\n", 1)[0]
    assert "\nBcc:" not in headers
    assert 'To: "Eve Bcc: victim@evil.example X" <eve@example.com>\n' in result.stdout


def test_preview_customer_outside_the_audience_is_marked_as_such(cli, campaign_shop):
    # bob has consent and one order: an audience of repeat buyers leaves him out, and the
    # preview must say that, not blame his consent
    text = campaign_shop.read_text().replace(
        "    audience: all\n", '    audience: {where: "orders >= 2"}\n', 1
    )
    campaign_shop.write_text(text)
    result = cli(
        "preview", "hello", "--customer", "bob@example.com", "--config", str(campaign_shop)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "=== message 1 of 1: step 1 to bob@example.com  "
        "(NOT SENT: not in the audience of 'hello') ===\n"
    )
    result = cli(
        "preview", "hello", "--customer", "ada@example.com", "--config", str(campaign_shop)
    )
    assert result.stdout.startswith("=== message 1 of 1: step 1 to ada@example.com ===\n")


def test_preview_limit(cli, campaign_shop):
    result = cli("preview", "series", "-n", "1", "--config", str(campaign_shop))
    assert result.exit_code == 0
    assert result.stdout.count("=== message ") == 2  # one customer, both steps
    assert "message 2 of 2: step 2 to ada@example.com" in result.stdout


def test_preview_errors(cli, campaign_shop):
    result = cli("preview", "helo", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no campaign 'helo' in {campaign_shop}; did you mean 'hello'? campaigns are: "
        "hello, series\n"
    )
    result = cli("preview", "hello", "--customer", "x@example.com", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert result.stderr == "Error: no customer with e-mail 'x@example.com'\n"
    result = cli("preview", "series", "--step", "3", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert result.stderr == "Error: campaign 'series' has no step 3; steps are 1..2\n"


def test_preview_needs_the_database(cli, campaign_shop, db_path, tmp_path):
    db_path.unlink()
    result = cli("preview", "hello", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no database at {tmp_path / 'retain.db'}; ")


def test_preview_message_parses_cleanly(campaign_shop, db_path):
    config = load_config(campaign_shop)
    as_of = datetime(2025, 7, 1, tzinfo=UTC)
    with Store.open(db_path) as store:
        previews = preview_messages(store, config, "hello", as_of=as_of, email="eve@example.com")
    (item,) = previews
    parsed = BytesParser(policy=policy.default).parsebytes(item.message.as_bytes())
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["eve@example.com"]
    assert parsed["Message-ID"] == item.message["Message-ID"]


def test_audience_members_keeps_non_consenting_rows(campaign_shop, db_path):
    config = load_config(campaign_shop)
    as_of = datetime(2025, 7, 1, tzinfo=UTC)
    with Store.open(db_path) as store:
        frame = audience_members(store, config, config.campaign("hello"), as_of)
    assert list(frame.index) == [1, 2, 3, 4, 5]
    assert frame.index.name == "customer_ref"
    assert list(frame["email"])[:2] == ["ada@example.com", "bob@example.com"]
    assert list(frame["consent"]) == [True, True, False, False, True]
    assert list(frame["suppressed"]) == [False, False, False, True, False]
    assert list(frame["orders"]) == [2, 1, 1, 1, 0]
    assert frame.loc[1, "total_spent"] == 55.0
    assert frame.loc[1, "days_since_last_order"] == 61  # 1 May to 1 July, in calendar days


def with_audience(config_file: Path, audience: str) -> None:
    text = config_file.read_text().replace("audience: all", f"audience: {audience}", 1)
    config_file.write_text(text)


def test_where_filter_narrows_the_audience(cli, campaign_shop, db_path):
    with_audience(campaign_shop, '{where: "orders >= 1 and total_spent < 10"}')
    config = load_config(campaign_shop)
    as_of = datetime(2025, 7, 1, tzinfo=UTC)
    with Store.open(db_path) as store:
        frame = audience_members(store, config, config.campaign("hello"), as_of)
    # eve ($5) and sue ($7) match; bob spent $12.50, ada $55, nora nothing
    assert list(frame["email"]) == ["eve@example.com", "sue@example.com"]
    assert list(frame["consent"]) == [False, False]
    result = cli("preview", "hello", "--config", str(campaign_shop), "--as-of", AS_OF)
    assert result.exit_code == 0
    assert result.stdout == "No one in the audience of 'hello' may be mailed now.\n"


def test_segment_audience(cli, campaign_shop, db_path):
    with_audience(campaign_shop, "{segment: prospect}")
    config = load_config(campaign_shop)
    as_of = datetime(2025, 7, 1, tzinfo=UTC)
    with Store.open(db_path) as store:
        frame = audience_members(store, config, config.campaign("hello"), as_of)
    assert list(frame["email"]) == ["nora@example.com"]  # the only customer without orders
    assert list(frame["segment"]) == ["prospect"]
    result = cli("preview", "hello", "--config", str(campaign_shop), "--as-of", AS_OF)
    assert result.exit_code == 0
    assert "=== message 1 of 1: step 1 to nora@example.com ===" in result.stdout
    assert "You have 0 orders worth $0.00." in result.stdout


def test_check_reports_unknown_segment_and_bad_filter(cli, campaign_shop):
    with_audience(campaign_shop, "{segment: at_riks}")
    text = campaign_shop.read_text().replace(
        "trigger: {after: signup, days: 0}",
        'trigger: {after: signup, days: 0}\n    audience: {where: "orders >> 2"}',
    )
    campaign_shop.write_text(text)
    result = cli("campaigns", "check", "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 1
    hello, series = json.loads(result.stdout)
    assert hello["status"] == series["status"] == "problem"
    assert hello["problems"].startswith(
        "unknown segment 'at_riks'; did you mean rfm:at_risk or lifecycle:at_risk? segments "
        "are rfm: champions, loyal, "
    )
    assert series["problems"] == (
        "audience.where: invalid rule at column 9: expected a field, number, quoted text or "
        "true/false after '>', found '>'\n  orders >> 2\n          ^"
    )
    assert result.stderr == (
        "Error: 2 of 2 campaigns have problems (hello, series); fix them and run "
        "'retain campaigns check' again\n"
    )


def test_preview_with_unknown_segment_fails_clearly(cli, campaign_shop):
    with_audience(campaign_shop, "{segment: at_riks}")
    result = cli("preview", "hello", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: {campaign_shop}: campaign 'hello': key 'audience.segment': unknown segment "
        "'at_riks'; did you mean rfm:at_risk or lifecycle:at_risk? segments are rfm: "
    )


def test_check_reports_unknown_trigger_segment(cli, campaign_shop):
    text = campaign_shop.read_text().replace(
        "trigger: {after: signup, days: 0}",
        "trigger: {after: entered_segment, segment: champs, days: 0}",
    )
    campaign_shop.write_text(text)
    result = cli("campaigns", "check", "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 1
    series = json.loads(result.stdout)[1]
    assert series["campaign"] == "series"
    assert series["problems"].startswith(
        "unknown segment 'champs'; did you mean rfm:champions? segments are rfm: champions"
    )


def test_check_table_output(cli, campaign_shop):
    result = cli("campaigns", "check", "--config", str(campaign_shop), "--as-of", AS_OF)
    assert result.exit_code == 0
    assert "Check of" in result.stdout
    lines = [line for line in result.stdout.splitlines() if "│ hello" in line]
    assert len(lines) == 1 and "│ OK " in lines[0]


def test_check_renders_for_the_first_customer_who_would_get_it(cli, campaign_shop):
    with_audience(campaign_shop, '{where: "total_spent < 10"}')  # eve, sue, nora
    result = cli("campaigns", "check", "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["rendered_for"] == "sample, nora@example.com"
    text = campaign_shop.read_text().replace("total_spent < 10", "orders >= 1 and total_spent < 10")
    campaign_shop.write_text(text)  # eve (no consent) and sue (opted out): the first of them
    result = cli("campaigns", "check", "--config", str(campaign_shop), "-f", "json")
    assert json.loads(result.stdout)[0]["rendered_for"] == "sample, eve@example.com"


def test_campaigns_group_help_has_an_example(cli):
    result = cli("campaigns", "--help")
    assert result.exit_code == 0
    assert "Example: retain campaigns check --config campaigns.yaml" in result.stdout
    listing = cli("--help").stdout
    assert "campaigns   " in listing and "Example: retain campaigns" not in listing


def test_preview_and_check_prefer_customers_the_trigger_applies_to(cli, campaign_shop, tmp_path):
    # a thank-you for the first order should be shown for a customer who has ordered, not
    # for nora (consent, no orders), who comes first in the audience
    text = campaign_shop.read_text().replace(
        "    audience: all\n", "    audience: all\n    trigger: {after: first_order, days: 0}\n", 1
    )
    campaign_shop.write_text(text)
    with Store.open(tmp_path / "retain.db") as opened:
        opened.db.execute("UPDATE customers SET accepts_marketing = 0 WHERE id IN (1, 2)")
        opened.db["customers"].insert(
            {
                "id": 6,
                "customer_id": "C6",
                "email": "zed@example.com",
                "first_name": "Zed",
                "accepts_marketing": 1,
                "source": "test",
                "created_at": "2025-01-01T00:00:00Z",
                "updated_at": "2025-01-01T00:00:00Z",
            }
        )
        opened.db["orders"].insert(
            {
                "id": 7,
                "order_key": "test:#1007",
                "source": "test",
                "order_id": "#1007",
                "customer_ref": 6,
                "ordered_at": "2025-06-20T10:00:00Z",
                "currency": "USD",
                "total_minor": 800,
                "refunded_minor": 0,
            }
        )
        opened.conn.commit()
    result = cli("preview", "hello", "-n", "1", "--config", str(campaign_shop), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    # zed ordered on 20 June, 11 days before: past the catch-up, so nobody is due today
    assert result.stdout.startswith(
        "=== message 1 of 1: step 1 to zed@example.com  (NOT DUE NOW: nobody is due for this "
        "campaign now; the trigger (0d after first_order) applies to them, but not today) ===\n"
    )
    result = cli(
        "preview", "hello", "-n", "1", "--config", str(campaign_shop), "--as-of", "2025-06-22"
    )
    assert result.stdout.startswith("=== message 1 of 1: step 1 to zed@example.com ===\n")
    result = cli(
        "campaigns", "check", "--config", str(campaign_shop), "--as-of", AS_OF, "-f", "json"
    )
    rows = {row["campaign"]: row for row in json.loads(result.stdout)}
    assert rows["hello"]["rendered_for"] == "sample, zed@example.com"
