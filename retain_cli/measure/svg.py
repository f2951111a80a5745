"""Charts for the HTML report, drawn here as SVG text: nothing runs in the browser.

Every function returns a complete ``<svg>`` element; text is escaped. Colours are chosen to
read in print and for the common forms of colour blindness (blue/orange, not red/green
alone: verdicts also carry a word)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="12"'
INK, MUTED, GRID = "#1f2933", "#616e7c", "#d9e2ec"
COLOURS = {"better": "#1769aa", "worse": "#c2410c", "inconclusive": "#7b8794", "so far": "#9aa5b1"}


def _svg(width: float, height: float, body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(label)}" '
        f"{FONT}>{body}</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{escape(text)}</text>'
    )


def bars(items: Sequence[tuple[str, float, str]], label: str, width: int = 640) -> str:
    """Horizontal bars: (name, value, value as text), longest = full width."""
    row, left, right = 24, 130, 90
    top = max((v for _, v, _ in items), default=0) or 1
    span = width - left - right
    body = []
    for i, (name, value, text) in enumerate(items):
        y = i * row + 4
        length = span * max(value, 0) / top
        body.append(_text(left - 8, y + 14, name, "end"))
        body.append(
            f'<rect x="{left}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" '
            f'fill="{COLOURS["better"]}" rx="2"/>'
        )
        body.append(_text(left + length + 6, y + 14, text, fill=MUTED))
    return _svg(width, len(items) * row + 8, "".join(body), label)


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: Sequence[Sequence[float | None]],
    label: str,
    *,
    row_notes: Sequence[str] = (),
) -> str:
    """A grid of shares 0..1 (None: not reached yet), shaded and labelled in percent."""
    cell_w, cell_h, left, top = 44, 22, 120, 22
    body = []
    for j, name in enumerate(columns):
        body.append(_text(left + j * cell_w + cell_w / 2, 15, name, "middle", MUTED))
    for i, name in enumerate(rows):
        y = top + i * cell_h
        note = f" ({row_notes[i]})" if i < len(row_notes) else ""
        body.append(_text(left - 8, y + 15, name + note, "end"))
        for j, value in enumerate(cells[i]):
            if value is None:
                continue
            x = left + j * cell_w
            shade = max(0.0, min(1.0, value))
            fill = _blend("#f0f4f8", "#0b4f8a", shade if j else 0.15)
            ink = "#ffffff" if shade > 0.45 and j else INK
            body.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="{fill}"/>'
            )
            body.append(_text(x + cell_w / 2 - 1, y + 15, f"{value * 100:.0f}%", "middle", ink))
    width = left + cell_w * max(len(columns), 1) + 8
    return _svg(width, top + cell_h * len(rows) + 6, "".join(body), label)


def _blend(low: str, high: str, x: float) -> str:
    a = [int(low[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(high[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(p + (q - p) * x):02x}" for p, q in zip(a, b, strict=True))


@dataclass(frozen=True)
class Bar:
    """One row of an error-bar chart."""

    name: str
    estimate: float
    low: float
    high: float
    verdict: str  # better | worse | inconclusive | so far
    text: str  # the estimate and interval as people read it


def error_bars(items: Sequence[Bar], label: str, unit: str, width: int = 720) -> str:
    """Each difference as a dot and its 95% interval as a line, with zero marked."""
    row, left, right = 30, 130, 300
    span = width - left - right
    lo = min([b.low for b in items] + [0.0])
    hi = max([b.high for b in items] + [0.0])
    if hi - lo == 0:
        hi, lo = 1.0, -1.0
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad

    def x(value: float) -> float:
        return left + span * (value - lo) / (hi - lo)

    height = len(items) * row + 26
    body = [
        f'<line x1="{x(0):.1f}" y1="4" x2="{x(0):.1f}" y2="{height - 20}" stroke="{MUTED}" '
        'stroke-dasharray="3 3"/>',
        _text(x(0), height - 6, f"0 {unit}".strip(), "middle", MUTED),
    ]
    for i, bar in enumerate(items):
        y = i * row + 18
        colour = COLOURS.get(bar.verdict, MUTED)
        dash = ' stroke-dasharray="4 3"' if bar.verdict == "so far" else ""
        body.append(_text(left - 8, y + 4, bar.name, "end"))
        body.append(
            f'<line x1="{x(bar.low):.1f}" y1="{y}" x2="{x(bar.high):.1f}" y2="{y}" '
            f'stroke="{colour}" stroke-width="3"{dash}/>'
        )
        for end in (bar.low, bar.high):
            body.append(
                f'<line x1="{x(end):.1f}" y1="{y - 6}" x2="{x(end):.1f}" y2="{y + 6}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        body.append(f'<circle cx="{x(bar.estimate):.1f}" cy="{y}" r="5" fill="{colour}"/>')
        body.append(_text(width - right + 10, y + 4, f"{bar.text} {bar.verdict}", fill=MUTED))
    return _svg(width, height, "".join(body), label)


def progress(start: float, target: float, now: float | None, expected: float) -> str:
    """A goal's way from start (left) to target (right): where it is, where it should be."""
    width, height, left, right = 220, 22, 6, 6
    span = width - left - right

    def x(value: float) -> float:
        share = (value - start) / (target - start) if target != start else 1.0
        return left + span * max(0.0, min(1.0, share))

    body = [
        f'<rect x="{left}" y="8" width="{span}" height="6" fill="{GRID}" rx="3"/>',
        f'<line x1="{x(expected):.1f}" y1="3" x2="{x(expected):.1f}" y2="19" stroke="{MUTED}" '
        'stroke-width="2"/>',
    ]
    if now is not None:
        body.append(
            f'<rect x="{left}" y="8" width="{x(now) - left:.1f}" height="6" '
            f'fill="{COLOURS["better"]}" rx="3"/>'
        )
        body.append(f'<circle cx="{x(now):.1f}" cy="11" r="5" fill="{COLOURS["better"]}"/>')
    return _svg(width, height, "".join(body), "progress from start to target")
