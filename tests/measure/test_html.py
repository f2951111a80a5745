"""retain report --html: one self-contained file, opened in headless Chromium (Debian's
chromium package; .ci/run installs it, and the browser test skips with a message where it is
missing): a screenshot that is not blank, no console errors, and the campaign figures shown
equal to retain report --format json."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from retain_cli.measure.present import money_text, percent

SENT = "2025-06-01T12:00:00Z"
AS_OF = "2025-07-01"


@pytest.fixture
def report_shop(shop, config, orders_history):
    recipients = shop.customers("r", 40)
    held = shop.customers("h", 40)
    shop.send("offer", recipients, SENT)
    shop.send("offer", held, SENT, state="held_out")
    for ref in recipients[:20] + held[:8]:
        shop.order(ref, "2025-06-05T10:00:00Z", 1250)
    late = shop.customers("late", 30)
    shop.send("series", late[:24], "2025-06-28T12:00:00Z")
    shop.send("series", late[24:], "2025-06-28T12:00:00Z", state="held_out")
    return shop


@pytest.fixture
def orders_history(orders):
    for i in range(60):
        orders.add(f"old{i}@example.org", f"2025-0{1 + i % 5}-{10 + i % 18}", 10.0 + i)
        if i % 3 == 0:
            orders.add(f"old{i}@example.org", f"2025-06-{1 + i % 28:02d}", 12.0)
    return orders


def write_report(cli, tmp_path: Path) -> tuple[Path, list[dict]]:
    cli(
        "goals",
        "set",
        "repeat_purchase_rate",
        "+5pp",
        "--by",
        "2025-12-31",
        "--as-of",
        "2025-05-31",
    )
    page = tmp_path / "report.html"
    result = cli("report", "--html", str(page), "--as-of", AS_OF, "--compare")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Wrote {page} (")
    rows = json.loads(cli("report", "--as-of", AS_OF, "--format", "json").stdout)
    return page, rows


def test_html_is_self_contained(cli, report_shop, tmp_path):
    page, rows = write_report(cli, tmp_path)
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    assert "<script" not in text and "@import" not in text and "url(" not in text
    assert not re.search(r"""\b(?:src|href)\s*=""", text)
    # the only URL is the SVG namespace, which is a name, not something loaded
    assert set(re.findall(r"https?://[^\"' >]+", text)) == {"http://www.w3.org/2000/svg"}
    for heading in ("KPIs, 30 days to 2025-07-01", "Cohorts", "Segments", "Campaigns", "Goals"):
        assert heading in text
    assert "Previous: 30 days to 2025-06-01." in text
    assert text.count("<svg") >= 5  # cohorts, segments, two error-bar charts, a goal
    assert {r["campaign"] for r in rows} == {"offer", "series"}


def test_html_numbers_equal_the_json(cli, report_shop, tmp_path):
    page, rows = write_report(cli, tmp_path)
    assert_figures_match(page.read_text(encoding="utf-8"), rows)


def test_html_unwritable_path(cli, report_shop, tmp_path):
    result = cli("report", "--html", str(tmp_path / "no" / "such" / "dir.html"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write {tmp_path / 'no' / 'such' / 'dir.html'}")


class Checks(HTMLParser):
    """Every element with data-check (or ``attribute``): (check, value as JSON, the text
    shown)."""

    def __init__(self, attribute: str = "data-check") -> None:
        super().__init__()
        self.attribute = attribute
        self.found: list[tuple[str, object, str]] = []
        self._open: tuple[str, object] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = dict(attrs)
        if self.attribute in data:
            self._open = (data[self.attribute] or "", json.loads(data["data-value"] or "null"))
            self._text = ""

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag == "td":
            self.found.append((*self._open, self._text.strip()))
            self._open = None


def assert_figures_match(html: str, rows: list[dict]) -> None:
    parser = Checks()
    parser.feed(html)
    by_row = {(r["campaign"], str(r["step"]), r["variant"] or ""): r for r in rows}
    plain = [r for r in rows if r["variant"] is None]
    # a campaign's 12 figures; a variant's 9, and 4 more: against the first variant (the
    # first shows the holdout's 4 figures instead)
    variants = [r for r in rows if r["variant"] is not None]
    assert len(parser.found) == 12 * len(plain) + 13 * len(variants)
    for check, value, text in parser.found:
        campaign, step, variant, column = check.split("|")
        row = by_row[(campaign, step, variant)]
        assert value == row[column], check
        if column in ("recipients", "held_out", "recipient_orders", "holdout_orders"):
            assert text == f"{row[column]:,}", check
        elif column == "variant_share" or column.endswith("_conversion"):
            assert text == percent(row[column]), check
        elif column.endswith("revenue_per_customer"):
            assert text == money_text(row[column], row["currency"]), check
        elif column.endswith("_verdict"):
            assert text == (row[column] or "none yet"), check
        elif column.endswith("conversion_difference") and row[column] is not None:
            prefix = column.removesuffix("_difference")
            low, high = row[f"{prefix}_low"], row[f"{prefix}_high"]
            shown = re.fullmatch(r"([+-][\d.]+) pp \(([+-][\d.]+) to ([+-][\d.]+)\)", text)
            assert shown, check
            # the page rounds the exact interval to 0.1 pp, the JSON to 4 digits of a fraction
            for figure, value in zip(shown.groups(), (row[column], low, high), strict=True):
                assert abs(float(figure) - value * 100) <= 0.051, check


# --- the browser -----------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (apt-get install chromium; .ci/run does it)",
)


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@needs_chromium
def test_console_errors_are_seen(tmp_path):
    """The harness itself: a page with a script error does show up as console output."""
    bad = tmp_path / "bad.html"
    bad.write_text('<p>x</p><script>console.error("boom"); nosuch();</script>')
    result = chromium("--dump-dom", bad.as_uri())
    messages = console_messages(result.stderr)
    assert any("boom" in m for m in messages)
    assert any("nosuch is not defined" in m for m in messages)


@needs_chromium
def test_report_opens_in_chromium(cli, report_shop, tmp_path):
    page, rows = write_report(cli, tmp_path)
    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_messages(dom.stderr) == []
    assert "Campaigns" in dom.stdout
    assert_figures_match(dom.stdout, rows)
    shot = tmp_path / "report.png"
    taken = chromium(
        "--hide-scrollbars",
        "--window-size=1100,2400",
        "--force-device-scale-factor=0.5",  # half the pixels to decode, the same layout
        f"--screenshot={shot}",
        page.as_uri(),
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert console_messages(taken.stderr) == []
    width, height, pixels = read_png(shot.read_bytes())
    assert (width, height) == (550, 1200)
    inked = sum(1 for p in pixels if p[0] < 200 or p[1] < 200 or p[2] < 200)
    assert inked / len(pixels) > 0.01, "the page looks blank"
    blues = sum(1 for p in pixels if p[2] > 120 and p[0] < 60)  # the charts' blue
    assert blues > 200, "no chart drawn"


def read_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """An 8-bit RGB or RGBA PNG -> (width, height, pixels), every filter type undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    size = 3 if colour == 2 else 4
    raw = zlib.decompress(chunks)
    stride = width * size
    previous = bytearray(stride)
    pixels = []
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - size] if i >= size else 0
            b = previous[i]
            c = previous[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        previous = line
        pixels.extend(tuple(line[i : i + 3]) for i in range(0, stride, size))
    return width, height, pixels
