"""retain coupons import FILE --pool NAME, and retain coupons, through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from retain_cli.store import Store

DATA = Path(__file__).parent / "data" / "coupons"


@pytest.fixture
def files(tmp_path: Path, store: Store) -> Path:
    """The coupon files in tmp_path, and an empty database."""
    shutil.copytree(DATA, tmp_path / "codes")
    return tmp_path / "codes"


def codes(db_path: Path) -> list[tuple[str, str, int]]:
    with Store.open(db_path) as store:
        rows = store.conn.execute("SELECT pool, code, line FROM coupon_codes ORDER BY id")
        return [tuple(row) for row in rows]


def test_shopify_discount_export_is_imported_without_used_and_repeated_codes(cli, files, db_path):
    result = cli(
        "coupons", "import", str(files / "shopify_discounts_export.csv"), "--pool", "winback"
    )
    assert result.exit_code == 3  # lines were left out: said on stderr
    assert result.stdout.splitlines() == [
        "Imported 3 new codes into pool WINBACK from column 'Name' of "
        "shopify_discounts_export.csv.",
        "Pool WINBACK: 3 codes, 3 left to give.",
    ]
    assert "1 repeated code imported once: line 6 repeats line 3." in result.stderr
    assert "1 code the shop has used already left out (lines 4)." in result.stderr
    assert codes(db_path) == [
        ("WINBACK", "WB-7KQ2-HX9M", 2),
        ("WINBACK", "WB-3TZP-8RCA", 3),
        ("WINBACK", "WB-M8XF-5JWB", 5),
    ]


def test_importing_the_same_file_again_adds_nothing(cli, files, db_path):
    first = cli("coupons", "import", str(files / "plain_codes.txt"), "--pool", "SPRING")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("Imported 3 new codes into pool SPRING from plain_codes.txt.")
    again = cli("coupons", "import", str(files / "plain_codes.txt"), "--pool", "spring")
    assert again.exit_code == 0
    assert again.stdout.splitlines() == [
        "Imported 0 new codes into pool SPRING from plain_codes.txt (3 in the pool already).",
        "Pool SPRING: 3 codes, 3 left to give.",
    ]
    assert [c for _, c, _ in codes(db_path)] == ["SPRING-001", "SPRING-002", "SPRING-003"]


def test_a_semicolon_export_with_a_code_column(cli, files, db_path):
    result = cli("coupons", "import", str(files / "semicolon_codes.csv"), "--pool", "BDAY")
    assert result.exit_code == 0, result.output
    assert codes(db_path) == [("BDAY", "BDAY-AAA", 2), ("BDAY", "BDAY-BBB", 3)]


def test_a_bad_line_refuses_the_file_naming_lines_and_fix(cli, files, db_path):
    result = cli("coupons", "import", str(files / "bad_codes.txt"), "--pool", "SPRING")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {files / 'bad_codes.txt'}: line 2: 'SPRING 002' is not a code (a code has "
        "no spaces or control characters); line 4: '\\x01BAD' is not a code (a code has no "
        "spaces or control characters). Fix or remove those lines and import the file again "
        "(nothing was imported)\n"
    )
    assert codes(db_path) == []


def test_a_code_of_another_pool_is_refused(cli, files, db_path):
    assert cli("coupons", "import", str(files / "plain_codes.txt"), "--pool", "A").exit_code == 0
    result = cli("coupons", "import", str(files / "plain_codes.txt"), "--pool", "B")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: {files / 'plain_codes.txt'}: line 2: code 'SPRING-001' is in pool A already "
        "(and 2 more); a code belongs to one pool: import the file with --pool A"
    )
    assert {pool for pool, _, _ in codes(db_path)} == {"A"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty; export the codes from the shop, or write one code per line"),
        (b"\x00\x01\x02binary", "is a binary file, not a list of codes"),
        (b"CODE-1\n\xff\xfe\xfaX\n", "line 2: is not UTF-8 text; save the file as UTF-8"),
        (
            b"Email,Amount\na@example.com,5\n",
            "line 1: no column of codes; name it Code in the first line (the columns are: "
            "Email, Amount), or give one code per line",
        ),
    ],
)
def test_unusable_files_say_why(cli, files, tmp_path, content, message):
    path = tmp_path / "codes.csv"
    path.write_bytes(content)
    result = cli("coupons", "import", str(path), "--pool", "X")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: {message}")


def test_a_missing_file_and_a_bad_pool_name(cli, files, tmp_path):
    missing = cli("coupons", "import", str(tmp_path / "nope.csv"), "--pool", "X")
    assert missing.exit_code == 1
    assert missing.stderr.startswith(f"Error: {tmp_path / 'nope.csv'}: file not found")
    bad = cli("coupons", "import", str(files / "plain_codes.txt"), "--pool", "win back")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("Error: --pool: 'win back' is not a pool name")
    device = cli("coupons", "import", "/dev/zero", "--pool", "X")
    assert device.exit_code == 1
    assert "is a device or a socket, not a file" in device.stderr


def test_pools_list_counts(cli, files):
    cli("coupons", "import", str(files / "plain_codes.txt"), "--pool", "SPRING")
    cli("coupons", "import", str(files / "semicolon_codes.csv"), "--pool", "BDAY")
    result = cli("coupons", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {"pool": "BDAY", "total": 2, "assigned": 0, "redeemed": 0, "used_elsewhere": 0, "left": 2},
        {
            "pool": "SPRING",
            "total": 3,
            "assigned": 0,
            "redeemed": 0,
            "used_elsewhere": 0,
            "left": 3,
        },
    ]
    table = cli("coupons")
    assert "Coupon pools" in table.stdout
    assert "SPRING" in table.stdout


def test_no_pools_yet(cli, store):
    result = cli("coupons")
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "No coupon codes yet; import a pool with 'retain coupons import FILE --pool NAME'."
    )


def test_a_field_too_long_for_csv_is_an_error_not_a_traceback(cli, files, tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("Code,Note\nA-1," + '"' + "x" * 200_000 + '"\n')
    result = cli("coupons", "import", str(path), "--pool", "X")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: cannot be read as CSV (field larger than")
