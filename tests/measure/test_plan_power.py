"""retain plan says, before anything is sent, how many are held out and the smallest
difference in conversion the report could detect."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from smtp_servers import SHOP_AS_OF, make_shop

from retain_cli.campaigns.planner import holdout_score
from retain_cli.store import Store

DATA = Path(__file__).parents[1] / "campaigns" / "data" / "sending"
HELD = sum(holdout_score("hello", f"C{i:02d}") < 0.2 for i in range(20))


def test_plan_shows_the_holdout_and_the_detectable_difference(cli, db_path, tmp_path, monkeypatch):
    with Store.open(db_path) as store:
        make_shop(store)
    shutil.copytree(DATA, tmp_path / "shop")
    config = str(tmp_path / "shop" / "campaigns.yaml")
    result = cli("plan", "hello", "--config", config, "--as-of", SHOP_AS_OF, "-f", "json")
    [power] = json.loads(result.stdout)["measurement"]
    # every customer ordered once in the past year: 1 - exp(-14/365) order within 14 days
    base = 1 - math.exp(-14 / 365)
    recipients, held = 20 - HELD, HELD
    expected = (1.959964 + 0.841621) * math.sqrt(base * (1 - base) * (1 / recipients + 1 / held))
    assert power == {
        "campaign": "hello",
        "holdout": 0.2,
        "held_out_now": held,
        "held_out": held,
        "recipients": recipients,
        "base_conversion": round(base, 4),
        "detectable_difference": round(expected, 4),
        "window_days": 14.0,
    }
    monkeypatch.setenv("COLUMNS", "80")
    table = cli("plan", "--config", config, "--as-of", SHOP_AS_OF, "--limit", "0")
    text = " ".join(table.stdout.split())
    assert (
        f"hello: {held} held out now, against {recipients} recipients; the smallest difference "
        f"in 14-day conversion the report could detect is about {expected * 100:.0f} pp (if "
        "about 4% would order anyway). Widen the audience or the holdout to see smaller "
        "effects." in text
    )
    assert "Nobody is held out of thanks, birthday: 'retain report' will have nothing" in text
    # after sending, the earlier run counts too
    sent = cli("send", "hello", "--yes", "--config", config, "--as-of", SHOP_AS_OF)
    assert sent.exit_code == 0
    again = cli("plan", "hello", "--config", config, "--as-of", SHOP_AS_OF, "-f", "json")
    [after] = json.loads(again.stdout)["measurement"]
    assert (after["held_out_now"], after["held_out"], after["recipients"]) == (
        0,
        held,
        recipients,
    )
