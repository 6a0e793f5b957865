"""Inline SVG charts for the HTML report: horizontal bars, stacked bars and a line.

Each chart is a ``<figure class="chart">`` holding one ``<svg>``; every data mark is a
``<rect class="mark">`` or ``<circle class="mark">`` with a ``<title>`` (the browser's tooltip)
and a ``data-value``. ``data-marks`` on the figure says how many marks it drew, so a check in a
real browser can count what was laid out. No script, no external resource. A chart without data
is a figure with a sentence saying so, never an empty frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape

Fmt = Callable[[float], str]

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#9c755f",
)
_BAR_H = 22
_GAP = 8
_WIDTH = 640
_CHAR_W = 7.2
# Scales down with its column, never up past its drawn size.
_SIZE = f'width="100%" style="max-width:{_WIDTH}px;height:auto"'


def color(index: int) -> str:
    """The palette's colour for series ``index``."""
    return PALETTE[index % len(PALETTE)]


def _figure(name: str, title: str, marks: int, body: str, note: str = "") -> str:
    caption = f"<figcaption>{escape(title)}</figcaption>"
    extra = f'<p class="note">{escape(note)}</p>' if note else ""
    return (
        f'<figure class="chart" data-chart="{escape(name)}" data-marks="{marks}">'
        f"{caption}{body}{extra}</figure>"
    )


def empty(name: str, title: str, why: str) -> str:
    """A chart slot with no data: says why instead of drawing."""
    return (
        f'<figure class="chart empty" data-chart="{escape(name)}" data-marks="0">'
        f'<figcaption>{escape(title)}</figcaption><p class="note">{escape(why)}</p></figure>'
    )


def _label_width(labels: Sequence[str]) -> float:
    return min(260.0, max([60.0, *(len(s) * _CHAR_W + 12 for s in labels)]))


def stacked_bars(
    name: str,
    title: str,
    rows: Sequence[tuple[str, Mapping[str, float]]],
    segments: Sequence[str],
    fmt: Fmt,
    note: str = "",
) -> str:
    """One horizontal bar per row, split into ``segments`` (a legend names them).

    A single segment makes a plain bar chart. Negative and zero parts are not drawn.
    """
    totals = [sum(max(0.0, v) for v in parts.values()) for _, parts in rows]
    top = max(totals, default=0.0)
    if top <= 0:
        return empty(name, title, "no data in the window")
    label_w = _label_width([r[0] for r in rows])
    value_w = 90.0
    plot_w = _WIDTH - label_w - value_w
    legend = len(segments) > 1
    out: list[str] = []
    legend_h = 0.0
    if legend:
        x, y = label_w, 6.0
        for i, segment in enumerate(segments):
            item_w = 16 + len(segment) * _CHAR_W + 14
            if x + item_w > _WIDTH and x > label_w:
                x, y = label_w, y + 18
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="12" fill="{color(i)}"/>'
                f'<text x="{x + 16:.1f}" y="{y + 10:.1f}" class="legend">{escape(segment)}</text>'
            )
            x += item_w
        legend_h = y + 20
    height = legend_h + len(rows) * (_BAR_H + _GAP) + _GAP
    marks = 0
    for r, ((label, parts), total) in enumerate(zip(rows, totals, strict=True)):
        y = legend_h + _GAP + r * (_BAR_H + _GAP)
        out.append(
            f'<text x="{label_w - 8:.1f}" y="{y + _BAR_H * 0.7:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        x = label_w
        for i, segment in enumerate(segments):
            value = max(0.0, parts.get(segment, 0.0))
            if value <= 0:
                continue
            w = max(1.0, plot_w * value / top)
            tip = (
                f"{label} {segment}: {fmt(value)}"
                if legend
                else f"{label}: {fmt(value)}"
            )
            out.append(
                f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{_BAR_H}" '
                f'fill="{color(i)}" data-value="{value!r}"><title>{escape(tip)}</title></rect>'
            )
            marks += 1
            x += w
        out.append(
            f'<text x="{x + 6:.1f}" y="{y + _BAR_H * 0.7:.1f}" class="value">'
            f"{escape(fmt(total))}</text>"
        )
    svg = (
        f'<svg role="img" viewBox="0 0 {_WIDTH} {height:.0f}" {_SIZE} '
        f'aria-label="{escape(title)}">{"".join(out)}</svg>'
    )
    return _figure(name, title, marks, svg, note)


def bars(
    name: str, title: str, items: Sequence[tuple[str, float]], fmt: Fmt, note: str = ""
) -> str:
    """A plain horizontal bar chart."""
    rows = [(label, {"value": value}) for label, value in items]
    return stacked_bars(name, title, rows, ["value"], fmt, note)


def line(
    name: str, title: str, points: Sequence[tuple[float, float]], fmt: Fmt, xfmt: Fmt
) -> str:
    """A line through ``(x, y)`` points with a dot on each (the dots are the marks)."""
    if len(points) < 2 or max(y for _, y in points) <= 0:
        return empty(name, title, "not enough data in the range for a line")
    left, right, top_pad, bottom = 70.0, 16.0, 12.0, 28.0
    height = 220.0
    xs = [x for x, _ in points]
    y_max = max(y for _, y in points)
    x0, x1 = min(xs), max(xs)
    span = (x1 - x0) or 1.0

    def px(x: float) -> float:
        return left + (_WIDTH - left - right) * (x - x0) / span

    def py(y: float) -> float:
        return top_pad + (height - top_pad - bottom) * (1 - max(0.0, y) / y_max)

    path = " ".join(
        f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}"
        for i, (x, y) in enumerate(points)
    )
    out = [
        f'<line x1="{left}" y1="{py(0):.1f}" x2="{_WIDTH - right}" y2="{py(0):.1f}" class="axis"/>',
        f'<text x="{left - 6}" y="{py(y_max) + 4:.1f}" text-anchor="end">{escape(fmt(y_max))}</text>',
        f'<text x="{left - 6}" y="{py(0) + 4:.1f}" text-anchor="end">{escape(fmt(0.0))}</text>',
        f'<text x="{left}" y="{height - 8}">{escape(xfmt(x0))}</text>',
        f'<text x="{_WIDTH - right}" y="{height - 8}" text-anchor="end">{escape(xfmt(x1))}</text>',
        f'<path d="{path}" fill="none" stroke="{color(0)}" stroke-width="2"/>',
    ]
    for x, y in points:
        out.append(
            f'<circle class="mark" cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{color(0)}" '
            f'data-value="{y!r}"><title>{escape(xfmt(x))}: {escape(fmt(y))}</title></circle>'
        )
    svg = (
        f'<svg role="img" viewBox="0 0 {_WIDTH} {height:.0f}" {_SIZE} '
        f'aria-label="{escape(title)}">{"".join(out)}</svg>'
    )
    return _figure(name, title, len(points), svg)
