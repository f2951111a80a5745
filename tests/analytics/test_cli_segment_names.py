"""One meaning per segment name, on the demo shop: `segments`, `customers list --segment` and
campaigns agree on which scheme a name is; looking at segments records nothing; `segments
check` works on a fresh shop."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

AS_OF = "2026-11-23"
BOTH = (
    "segment 'at_risk' is in both the rfm and the lifecycle scheme, with different customers; "
    "write rfm:at_risk (by RFM score, as 'retain segments' shows it) or lifecycle:at_risk (by "
    "days since the last order against the shop's typical gap)"
)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def snapshot_rows(folder: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(folder / "retain.db")
    try:
        runs = conn.execute("SELECT scheme, as_of FROM segment_snapshot_runs ORDER BY 1, 2")
        return [tuple(r) for r in runs.fetchall()]
    finally:
        conn.close()


def test_segments_and_customers_list_count_the_same_customers(cli, demo):
    for scheme in ("rfm", "lifecycle"):
        result = cli("segments", "--scheme", scheme, "--as-of", AS_OF, "-f", "csv")
        assert result.exit_code == 0, result.output
        counts = {r["segment"]: int(r["customers"]) for r in rows_of(result.stdout)}
        assert {r["scheme"] for r in rows_of(result.stdout)} == {scheme}
        for segment, count in counts.items():
            listed = cli(
                "customers", "list", "--segment", f"{scheme}:{segment}", "--as-of", AS_OF,
                "-f", "csv",
            )  # fmt: skip
            assert listed.exit_code == 0, listed.output
            assert len(rows_of(listed.stdout)) == count, (scheme, segment)
    # the two at_risk segments are not the same customers: a bare name cannot pick one
    rfm = cli("customers", "list", "--segment", "rfm:at_risk", "--as-of", AS_OF, "-f", "csv")
    life = cli("customers", "list", "--segment", "lifecycle:at_risk", "--as-of", AS_OF)
    assert "Segment lifecycle:at_risk as of 2026-11-23: " in life.stdout
    assert len(rows_of(rfm.stdout)) > 0
    bare = cli("customers", "list", "--segment", "at_risk", "--as-of", AS_OF)
    assert bare.exit_code == 2
    assert bare.stderr == f"Error: {BOTH}\n"
    assert bare.stdout == ""


def test_a_name_only_one_scheme_has_may_be_written_bare(cli, demo):
    bare = cli("customers", "list", "--segment", "champions", "--as-of", AS_OF, "-f", "csv")
    qualified = cli(
        "customers", "list", "--segment", "rfm:champions", "--as-of", AS_OF, "-f", "csv"
    )
    assert bare.exit_code == 0 and bare.stdout == qualified.stdout
    table = cli("customers", "list", "--segment", "champions", "--as-of", AS_OF)
    assert f"Segment rfm:champions as of {AS_OF}: {len(rows_of(bare.stdout))} customers" in (
        table.stdout
    )
    typo = cli("customers", "list", "--segment", "champion")
    assert typo.exit_code == 2
    assert typo.stderr.startswith(
        "Error: unknown segment 'champion'; did you mean rfm:champions? segments are rfm: "
    )


def test_segments_table_says_how_to_name_a_segment_elsewhere(cli, demo):
    result = cli("segments", "--as-of", AS_OF)
    assert result.exit_code == 0
    assert "rfm segments as of 2026-11-23" in result.stdout
    assert "In campaigns and --segment: rfm:NAME (lifecycle has at_risk and lost too)" in (
        result.stdout
    )


def test_a_campaign_with_a_bare_shared_name_is_a_config_error(cli, demo):
    config = demo / "campaigns.yaml"
    assert "segment: lifecycle:at_risk" in config.read_text()
    listed = cli("campaigns", "list", "-f", "json")
    assert listed.exit_code == 0, listed.output
    audiences = {c["name"]: (c["audience"], c["trigger"]) for c in json.loads(listed.stdout)}
    assert audiences["win-back"][0] == "lifecycle:at_risk where orders >= 2"
    assert audiences["vip-thanks"][1] == "1d after entering rfm:champions"
    config.write_text(config.read_text().replace("segment: lifecycle:at_risk", "segment: at_risk"))
    for command in (("campaigns", "check"), ("plan",), ("preview", "win-back")):
        result = cli(*command)
        assert result.exit_code == 1, command
        assert result.stderr == (
            f"Error: {config}: campaign 'win-back': key 'audience.segment': {BOTH}\n"
        )


def test_looking_at_segments_records_nothing_and_the_next_plan_sees_no_entries(cli, demo):
    """`segments moves` used to keep a snapshot for each date it looked at, so the next plan
    saw customers 'enter' champions between then and now and mailed them."""
    moves = cli("segments", "moves", "--from", "2026-09-30", "--to", AS_OF)
    assert moves.exit_code == 0, moves.output
    assert cli("segments", "--as-of", "2026-09-30").exit_code == 0
    assert cli("segments", "--scheme", "lifecycle").exit_code == 0
    assert snapshot_rows(demo) == []
    plan = cli("plan", "vip-thanks", "--as-of", "2026-11-24", "-f", "json")
    assert plan.exit_code == 0, plan.output
    (summary,) = json.loads(plan.stdout)["summary"]
    assert summary["due"] == 0  # the first snapshot is a baseline, not an entry
    assert snapshot_rows(demo) == []  # plan only reads too
    sent = cli("send", "vip-thanks", "--as-of", "2026-11-24", "--yes")
    assert sent.exit_code == 0, sent.output
    assert snapshot_rows(demo) == [("rfm", "2026-11-24")]  # a real send keeps the day's


def test_segments_check_on_a_fresh_shop(cli, demo):
    """`retain init` (and so the demo) writes an example segments.yaml, which checks clean on
    the demo; without a segments file `check` lints the built-in schemes."""
    assert (demo / "segments.yaml").exists()
    result = cli("segments", "check", "--as-of", AS_OF, "-f", "csv")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert [r["level"] for r in rows] == ["info"]
    assert rows[0]["segment"] == "(none)"
    custom = cli("segments", "--scheme", "custom", "--as-of", AS_OF, "-f", "csv")
    counts = {r["segment"]: int(r["customers"]) for r in rows_of(custom.stdout)}
    assert counts["big_spenders_gone_quiet"] > 0 and counts["one_and_done"] > 0
    (demo / "segments.yaml").unlink()
    result = cli("segments", "check", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "segments check (rfm, lifecycle)" in result.stdout
    assert "all 125 (R, F, M) cells belong to exactly one segment" in result.stdout
    assert "typical gap G = " in result.stdout
    assert "no segments file at segments.yaml, so the built-in schemes are checked" in (
        result.stdout
    )
