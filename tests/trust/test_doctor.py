"""``retain doctor``: every check against real peers on 127.0.0.1 (an SMTP server with a
login, a DNS server), a crontab file, and the database's own state."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from dns_server import DnsServer
from smtp_servers import SmtpServer
from trust_shop import add_people, copy_campaigns, small_shop

from retain_cli.store import Store
from retain_cli.timeutil import Clock, use_clock

DOMAIN = "kornblume-backstube.de"
RECORDS = {
    DOMAIN: ["v=spf1 include:_spf.mail-provider.net ~all", "google-site-verification=x"],
    f"_dmarc.{DOMAIN}": [f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{DOMAIN}"],
}
NOW = "2025-06-20T10:00"  # Berlin


def _smtp_config(path: Path, port: int) -> None:
    """The test campaign file, sending over SMTP to 127.0.0.1:port with a login."""
    text = path.read_text(encoding="utf-8").replace(
        "transport:\n  type: outbox\n  outbox: outbox\n",
        "transport:\n  type: smtp\n  host: 127.0.0.1\n"
        f"  port: {port}\n  security: none\n  username: shop\n  password_env: DOCTOR_PW\n",
    )
    path.write_text(text, encoding="utf-8")


def _imported_at(store: Store, moment: str) -> None:
    with use_clock(Clock(datetime.fromisoformat(moment))):
        ref = store.start_import("orders", "shopify_orders", "orders_export.csv", "0" * 64)
        store.finish_import(ref, rows=10, inserted=10, updated=0, unchanged=0, rejected=0)


@pytest.fixture
def ready(tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch):
    """A shop ready for tonight: SMTP with a login, DNS records, a crontab at 09:30 Berlin,
    orders imported this morning."""
    monkeypatch.setenv("DOCTOR_PW", "secret")
    add_people(store, small_shop())
    _imported_at(store, "2025-06-20T06:00:00+00:00")
    config = copy_campaigns(tmp_path)
    crontab = tmp_path / "crontab"
    db = tmp_path / "retain.db"
    crontab.write_text(
        "# m h dom mon dow command\n"
        "CRON_TZ=Europe/Berlin\n"
        f"30 9 * * * cd {tmp_path} && /usr/bin/retain --db {db} segments > /dev/null; "
        f"/usr/bin/retain --db {db} send --config {config} --yes >> log 2>&1\n",
        encoding="utf-8",
    )
    with SmtpServer(auth=True) as smtp, DnsServer(RECORDS) as dns:
        _smtp_config(config, smtp.port)
        yield {"config": config, "crontab": crontab, "smtp": smtp, "dns": dns, "db": db}


def _run(cli, ready, *extra: str):
    return cli(
        "doctor",
        "--config",
        str(ready["config"]),
        "--crontab",
        str(ready["crontab"]),
        "--dns-server",
        ready["dns"].address,
        "--now",
        NOW,
        *extra,
    )


def _doctor(cli, ready, *extra: str):
    result = _run(cli, ready, "--format", "json", *extra)
    data = json.loads(result.output)
    return result.exit_code, {c["name"]: c for c in data["checks"]}


def test_every_check_passes_and_nothing_is_sent(cli, ready):
    code, checks = _doctor(cli, ready)
    assert {name: c["status"] for name, c in checks.items()} == {
        "database writable": "ok",
        "database migrated": "ok",
        "database private": "ok",
        "campaign file": "ok",
        "templates": "ok",
        "example values": "ok",
        "unsubscribe": "ok",
        "transport": "ok",
        "smtp login": "ok",
        "imap login": "skip",
        "fresh data": "ok",
        "spf": "ok",
        "dmarc": "ok",
    }
    assert code == 0
    assert ready["smtp"].handler.logins == [("shop", "secret")]
    assert ready["smtp"].received == []
    assert checks["smtp login"]["detail"] == (
        f"logged in to 127.0.0.1:{ready['smtp'].port} as shop (nothing sent)"
    )
    assert checks["fresh data"]["detail"] == (
        "the last import (orders, orders_export.csv) finished 26 hours before the next send "
        "at 2025-06-21 09:30 Europe/Berlin"
    )
    assert checks["spf"]["detail"] == "v=spf1 include:_spf.mail-provider.net ~all"
    assert checks["dmarc"]["detail"].startswith("policy p=quarantine: v=DMARC1")
    assert ready["dns"].questions == [DOMAIN, f"_dmarc.{DOMAIN}"]
    table = _run(cli, ready)
    assert table.exit_code == 0
    assert "Every check passed." in table.output


def test_missing_dmarc_and_spf_fail_with_the_fix(cli, ready):
    ready["dns"].records.pop(f"_dmarc.{DOMAIN}")
    ready["dns"].records[DOMAIN] = ["v=spf1 +all"]
    code, checks = _doctor(cli, ready)
    assert code == 1
    assert checks["dmarc"] == {
        "name": "dmarc",
        "status": "fail",
        "detail": f"{DOMAIN} has no DMARC record: Gmail and Yahoo ask senders for one",
        "fix": f"add a TXT record at _dmarc.{DOMAIN} such as 'v=DMARC1; p=none; "
        f"rua=mailto:dmarc@{DOMAIN}'",
    }
    assert checks["spf"]["detail"] == f"'v=spf1 +all' lets any server send as {DOMAIN}"
    ready["dns"].records.pop(DOMAIN)
    _, checks = _doctor(cli, ready)
    assert checks["spf"]["detail"] == f"{DOMAIN} does not exist in DNS"


def test_a_refused_login_fails(cli, ready):
    ready["smtp"].behaviour.refuse_login = True
    code, checks = _doctor(cli, ready)
    assert code == 1
    assert checks["smtp login"]["status"] == "fail"
    assert checks["smtp login"]["detail"].startswith(
        f"SMTP login to 127.0.0.1:{ready['smtp'].port} as shop was refused (535"
    )
    assert checks["smtp login"]["fix"] == (
        "check transport.username and the password in $DOCTOR_PW or the keyring"
    )


def test_stale_data_for_the_nightly_send(cli, ready):
    code, checks = _doctor(cli, ready, "--now", "2025-06-23T10:00")
    assert code == 1
    fresh = checks["fresh data"]
    assert fresh["detail"] == (
        "the last import (orders, orders_export.csv) finished 4 days before the next send "
        "at 2025-06-24 09:30 Europe/Berlin: order triggers and segments will miss "
        "everything since"
    )
    assert fresh["fix"] == (
        "import fresh exports every day before the send, e.g. a cron line at 09:00 running "
        "'retain import orders FILE'"
    )
    # an import line before the send in the crontab keeps the data fresh
    with ready["crontab"].open("a", encoding="utf-8") as crontab:
        crontab.write(f"0 9 * * * /usr/bin/retain --db {ready['db']} import orders /x.csv\n")
    _, checks = _doctor(cli, ready, "--now", "2025-06-23T10:00")
    assert checks["fresh data"]["status"] == "ok"
    assert checks["fresh data"]["detail"] == (
        "the crontab imports at 09:00, before the send at 09:30"
    )


def test_a_database_others_can_read_fails(cli, ready):
    os.chmod(ready["db"], 0o644)
    code, checks = _doctor(cli, ready)
    assert code == 1
    assert checks["database private"]["status"] == "fail"
    assert checks["database private"]["fix"].startswith(
        f"make it private with: chmod 600 {ready['db']}"
    )


def test_the_demo_shop_is_not_ready_for_real_mail(cli, tmp_path):
    assert cli("demo", "demo", "--customers", "60", "--seed", "2").exit_code in (0, 3)
    demo = tmp_path / "demo"
    args = ["--db", str(demo / "retain.db"), "doctor", "--config", str(demo / "campaigns.yaml")]
    args += ["--crontab", str(tmp_path / "none"), "--offline"]
    result = cli(*args)
    assert result.exit_code == 2  # --crontab names a file that is not there
    assert "Error: --crontab " in result.output
    (tmp_path / "none").write_text("", encoding="utf-8")
    result = cli(*args, "--format", "json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert checks["example values"]["status"] == "fail"
    assert (
        "'sender.from': \"Rosie's Bakery <hello@rosies.example>\" is the example shop's name"
        in (checks["example values"]["detail"])
    )
    assert checks["transport"]["status"] == "fail"
    assert checks["unsubscribe"]["status"] == "fail"
    assert checks["fresh data"]["detail"] == (
        "no cron line runs 'retain send' ('retain cron' prints one)"
    )
    assert checks["templates"]["status"] == "ok"


def test_imap_login_where_a_mailbox_is_set(cli, ready, monkeypatch):
    """Against a real Dovecot on 127.0.0.1 (skipped where it is not installed)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "mailbox"))
    from dovecot import MISSING, Dovecot, dovecot_binary

    if dovecot_binary() is None:
        pytest.skip(MISSING)
    with Dovecot() as server:
        server.add_user("shop", "imap-secret")
        with ready["config"].open("a", encoding="utf-8") as config:
            config.write(
                f"mailbox:\n  host: 127.0.0.1\n  port: {server.port}\n  security: none\n"
                "  username: shop\n  password_env: DOCTOR_IMAP_PW\n"
            )
        monkeypatch.setenv("DOCTOR_IMAP_PW", "imap-secret")
        code, checks = _doctor(cli, ready)
        assert checks["imap login"] == {
            "name": "imap login",
            "status": "ok",
            "detail": f"logged in to 127.0.0.1:{server.port} as shop",
            "fix": "",
        }
        assert code == 0
        monkeypatch.setenv("DOCTOR_IMAP_PW", "wrong")
        code, checks = _doctor(cli, ready)
        assert code == 1
        assert checks["imap login"]["detail"] == (
            f"IMAP login to 127.0.0.1:{server.port} as shop was refused; check "
            "mailbox.username and the password in $DOCTOR_IMAP_PW or the keyring"
        )


def test_a_campaign_file_that_does_not_load_is_a_failed_check(cli, ready):
    text = ready["config"].read_text(encoding="utf-8")
    ready["config"].write_text(text.replace("repeat: 20d", "repeat: often"), encoding="utf-8")
    code, checks = _doctor(cli, ready)
    assert code == 1
    assert checks["campaign file"]["status"] == "fail"
    assert "campaign 'hello': key 'repeat'" in checks["campaign file"]["detail"]
    assert "templates" not in checks and "smtp login" not in checks
