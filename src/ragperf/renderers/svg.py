"""Inline SVG charts drawn in Python: no script, no network, prints as it shows.

Every function takes a chart of the content model and returns markup (`markupsafe.Markup`):
text reaches the SVG only through `_t`, which escapes it, so a stage named `<script>` stays text.
Axes carry round ticks with their unit; text is 12 px in a viewBox drawn at its own width.
"""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING

import numpy as np
from markupsafe import Markup, escape

from ragperf.renderers.flame import describe

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ragperf.renderers.content import Bars, Flame, FlameNode, Histogram, Intervals, LineChart, Stacked, Values

__all__ = ["PALETTE", "STYLE_COLOURS", "bars", "flame", "histogram_row", "histograms", "intervals", "lines", "stacked"]

# Okabe-Ito: distinguishable with the common colour-vision deficiencies, and in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
STYLE_COLOURS = {
    "P0": "#D55E00",
    "P1": "#E69F00",
    "P2": "#999999",
    "bad": "#C62828",
    "good": "#1A7F37",
    "warn": "#B8860B",
    "": "#999999",
}
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
_MARKS = {"p50": PALETTE[2], "p95": PALETTE[5], "target": "#222222"}


def _t(value: object) -> Markup:
    return escape(str(value))


def _svg(width: int, height: int, body: list[str], label: str, cls: str = "chart") -> Markup:
    # Every piece of text in `body` went through `_t`: the markup is ragperf's own.
    return Markup(  # noqa: S704
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{cls}" viewBox="0 0 {width} {height}" width="{width}" '
        f'role="img" aria-label="{_t(label)}" {_FONT}>' + "".join(body) + "</svg>"
    )


def nice_max(value: float) -> float:
    """A round axis maximum at or above value (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(float(step * power) for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if step * power >= value)


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering low..high: steps of 1, 2 or 5 times a power of ten."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 2.5, 5, 10) if s * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    out, value = [], first
    while value <= high + step * 1e-6:
        out.append(round(value, 10))
        value += step
    return out


def _num(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def histogram_row(
    values: Values,
    marks: Sequence[tuple[str, float]],
    label: str,
    *,
    other: Values = (),
    bins: int = 30,
) -> Markup:
    """One stage's latency histogram on a labelled axis (ms), marks for p50/p95/target; `other` overlaid."""
    width, height, left, right, top, bottom = 600, 86, 34, 12, 8, 30
    both = np.sort(np.concatenate([np.asarray(values, dtype=float), np.asarray(other, dtype=float)]))
    # Scale to the data, not to the marks: a target far above every query would flatten the bars.
    # Far outliers would do the same: past twice the 99th percentile they are counted in a note instead.
    p99 = float(both[int(0.99 * (len(both) - 1))]) if both.size else 1.0
    top_value = nice_max(float(both[-1]) if both.size and both[-1] <= 2 * p99 else p99 * 1.1)
    plot_w, plot_h = width - left - right, height - top - bottom
    series = [(np.asarray(values, dtype=float), PALETTE[0], 0.85)]
    if len(other):
        series = [
            (np.asarray(values, dtype=float), PALETTE[7], 0.6),
            (np.asarray(other, dtype=float), PALETTE[5], 0.55),
        ]
    counted = []
    for data, colour, opacity in series:
        inside = data[data <= top_value]
        counts = np.bincount(np.minimum(bins - 1, (inside / top_value * bins).astype(int)), minlength=bins)
        counted.append((counts.tolist(), colour, opacity))
    peak = max((max(c) for c, _, _ in counted), default=1) or 1
    bar_w = plot_w / bins
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888"/>']
    body.append(f'<text x="{left - 4}" y="{top + 10}" text-anchor="end" fill="#666">{peak}</text>')
    body.append(f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" fill="#666">0</text>')
    for counts, colour, opacity in counted:
        for i, count in enumerate(counts):
            if count:
                h = count / peak * plot_h
                lo, hi = top_value * i / bins, top_value * (i + 1) / bins
                body.append(
                    f'<rect x="{left + i * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                    f'height="{h:.1f}" fill="{colour}" fill-opacity="{opacity}"><title>{count} queries, '
                    f"{_num(lo)}-{_num(hi)} ms</title></rect>"
                )
    for value in ticks(0.0, top_value, 6):
        x = left + value / top_value * plot_w
        body.append(f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" stroke="#888"/>')
        body.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_num(value)}</text>')
    body.append(f'<text x="{width - right}" y="{height - 2}" text-anchor="end" fill="#666">ms</text>')
    overflow = int((both > top_value).sum())
    if overflow:
        body.append(
            f'<text x="{left}" y="{height - 2}" fill="#666">+{overflow} beyond, max {_num(float(both[-1]))} ms</text>'
        )
    for name, value in marks:
        colour = _MARKS.get(name, "#222")
        if value > top_value:
            body.append(
                f'<text x="{width - right}" y="{top + 10}" text-anchor="end" fill="{colour}">'
                f"{_t(name)} {_num(value)} ms →</text>"
            )
            continue
        x = left + value / top_value * plot_w
        dash = ' stroke-dasharray="4 2"' if name == "target" else ""
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{colour}" stroke-width="2"{dash}>'
            f"<title>{_t(name)} {_num(value)} ms</title></line>"
        )
    return _svg(width, height, body, f"latency distribution of {label}")


def histograms(chart: Histogram) -> list[tuple[str, int, Markup]]:
    """Each row's label, depth and histogram."""
    out = []
    for n, (label, depth, values, marks) in enumerate(chart.rows):
        other = chart.overlay[n] if n < len(chart.overlay) else ()
        out.append((label, depth, histogram_row(values, marks, label, other=other)))
    return out


def stacked(chart: Stacked) -> Markup:
    """One stacked column per item (a query), one colour per series (a stage), a y axis in its unit."""
    width, height, left, right, top, bottom = 960, 320, 52, 12, 14, 58
    top_value = nice_max(max((sum(v) for _, v in chart.items), default=1.0))
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(chart.items), 1)
    body = _y_axis(left, top, plot_w, plot_h, 0.0, top_value, chart.unit)
    for i, (name, values) in enumerate(chart.items):
        y = float(top + plot_h)
        for j, value in enumerate(values):
            h = value / top_value * plot_h
            y -= h
            body.append(
                f'<rect x="{left + i * step:.2f}" y="{y:.2f}" width="{max(step * 0.85, 0.5):.2f}" height="{h:.2f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{_t(name)}: {_t(chart.series[j])} {_num(value)} '
                f"{_t(chart.unit)}</title></rect>"
            )
    count = len(chart.items)
    for k in sorted({0, count // 2, count - 1}) if count else ():
        x = left + (k + 0.5) * step
        body.append(f'<text x="{x:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{k + 1}</text>')
    body.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h + 30}" text-anchor="middle" fill="#666">'
        f"{_t(chart.x_label)} (1 to {count})</text>"
    )
    body += _legend([(name, PALETTE[j % len(PALETTE)], False) for j, name in enumerate(chart.series)], left, height - 8)
    return _svg(width, height, body, chart.caption)


def _y_axis(left: int, top: int, plot_w: int, plot_h: int, low: float, high: float, unit: str) -> list[str]:
    body = []
    for value in ticks(low, high):
        y = top + plot_h - (value - low) / (high - low) * plot_h
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        body.append(f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{_num(value)}</text>')
    body.append(
        f'<text x="12" y="{top + plot_h / 2:.0f}" transform="rotate(-90 12 {top + plot_h / 2:.0f})" '
        f'text-anchor="middle" fill="#666">{_t(unit)}</text>'
    )
    return body


def _legend(items: Sequence[tuple[str, str, bool]], x0: int, y: int) -> list[str]:
    body, x = [], float(x0)
    for name, colour, dashed in items:
        dash = ' stroke-dasharray="6 3"' if dashed else ""
        body.append(
            f'<line x1="{x:.0f}" y1="{y - 4}" x2="{x + 16:.0f}" y2="{y - 4}" stroke="{colour}" stroke-width="4"{dash}/>'
        )
        body.append(f'<text x="{x + 20:.0f}" y="{y}">{_t(name)}</text>')
        x += 32 + 6.5 * len(name)
    return body


def bars(chart: Bars) -> Markup:
    """Horizontal bars of fractions (0..1), each labelled, with threshold lines and a percent axis."""
    row_h, left, right, top = 26, 150, 120, 22
    width = 760
    height = top + row_h * max(len(chart.rows), 1) + 24
    plot_w = width - left - right
    body = []
    for i, (name, fraction, style, note) in enumerate(chart.rows):
        y = top + i * row_h
        body.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end">{_t(name)}</text>')
        colour = STYLE_COLOURS.get(style, "#999")
        body.append(
            f'<rect x="{left}" y="{y + 4}" width="{fraction * plot_w:.1f}" height="{row_h - 8}" fill="{colour}">'
            f"<title>{_t(name)}: {fraction:.1%} of queries ({_t(note)}), {_t(style)}</title></rect>"
        )
        body.append(f'<text x="{left + fraction * plot_w + 4:.1f}" y="{y + 16}">{fraction:.0%} · {_t(style)}</text>')
    axis_y = height - 20
    for value in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + value * plot_w
        body.append(f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#666">{value:.0%}</text>')
    body.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="#888"/>')
    for name, value in chart.thresholds:
        x = left + value * plot_w
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{axis_y}" stroke="#333" stroke-dasharray="3 3"/>'
        )
        body.append(f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle">{_t(name)}</text>')
    return _svg(width, height, body, chart.caption)


def lines(chart: LineChart) -> Markup:
    """Lines over a labelled x axis, with round ticks on both axes and vertical marks (a capacity found)."""
    width, height, left, right, top, bottom = 620, 300, 60, 16, 16, 68
    points = [p for line in chart.lines for p in line.points]
    x_lo, x_hi = min((p[0] for p in points), default=0.0), max((p[0] for p in points), default=1.0)
    y_lo, y_hi = min((p[1] for p in points), default=0.0), max((p[1] for p in points), default=1.0)
    y_hi = max([y_hi, *(value for _, value in chart.levels)])
    if chart.zero:
        y_lo, y_hi = 0.0, nice_max(y_hi)
    else:
        # Memory sits far from zero and moves little: span the data (padded) so a slope is visible.
        pad = max((y_hi - y_lo) * 0.1, abs(y_hi) * 0.005, 0.01)
        y_lo, y_hi = y_lo - pad, y_hi + pad
    if x_hi <= x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    plot_w, plot_h = width - left - right, height - top - bottom

    def x_of(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    def y_of(y: float) -> float:
        return top + plot_h - (y - y_lo) / (y_hi - y_lo) * plot_h

    body = _y_axis(left, top, plot_w, plot_h, y_lo, y_hi, chart.y_label)
    # The axis shows ticks inside the padded range only; labels never overlap at 5 ticks.
    for value in ticks(x_lo, x_hi, 6):
        x = x_of(value)
        body.append(f'<line x1="{x:.1f}" y1="{top + plot_h}" x2="{x:.1f}" y2="{top + plot_h + 4}" stroke="#888"/>')
        body.append(f'<text x="{x:.1f}" y="{top + plot_h + 17}" text-anchor="middle">{_num(value)}</text>')
    body.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#888"/>')
    body.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h + 34}" text-anchor="middle" fill="#666">'
        f"{_t(chart.x_label)}</text>"
    )
    for name, value in chart.marks:
        x = x_of(value)
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#1A7F37" stroke-width="2" '
            f'stroke-dasharray="2 3"><title>{_t(name)} {_num(value)}</title></line>'
        )
        body.append(f'<text x="{x + 4:.1f}" y="{top + 12}" fill="#1A7F37">{_t(name)} {_num(value)}</text>')
    for name, value in chart.levels:
        y = y_of(value)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#222" stroke-dasharray="2 3">'
            f"<title>{_t(name)} {_num(value)}</title></line>"
        )
        body.append(f'<text x="{left + plot_w - 4}" y="{y - 4:.1f}" text-anchor="end">{_t(name)} {_num(value)}</text>')
    legend = []
    for line in chart.lines:
        colour = PALETTE[line.colour % len(PALETTE)]
        dash = ' stroke-dasharray="6 3"' if line.dashed else ""
        path = " ".join(f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in line.points)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}>'
            f"<title>{_t(line.name)}</title></polyline>"
        )
        if len(line.points) <= 12 and not line.dashed:
            body += [f'<circle cx="{x_of(x):.1f}" cy="{y_of(y):.1f}" r="3" fill="{colour}"/>' for x, y in line.points]
        legend.append((line.name, colour, line.dashed))
    body += _legend(legend, left, height - 8)
    return _svg(width, height, body, chart.title)


def intervals(chart: Intervals) -> Markup:
    """Each path's relative change as a point on its interval, around zero, the threshold band shaded."""
    row_h, left, right, top = 26, 170, 70, 10
    width = 760
    height = top + row_h * max(len(chart.rows), 1) + 30
    values = [abs(v) for _, c, lo, hi, _ in chart.rows for v in (c, lo, hi) if v is not None]
    span = nice_max(max([*values, chart.threshold * 2, 0.05]))
    plot_w = width - left - right

    def x_of(v: float) -> float:
        return left + (max(-span, min(span, v)) + span) / (2 * span) * plot_w

    band = x_of(-chart.threshold), x_of(chart.threshold)
    axis_y = height - 22
    body = [
        f'<rect x="{band[0]:.1f}" y="{top}" width="{band[1] - band[0]:.1f}" height="{axis_y - top}" fill="#f0f0f0">'
        f"<title>within the ±{chart.threshold:.0%} threshold</title></rect>",
        f'<line x1="{x_of(0):.1f}" y1="{top}" x2="{x_of(0):.1f}" y2="{axis_y}" stroke="#666"/>',
    ]
    for value in ticks(-span, span, 5):
        body.append(
            f'<text x="{x_of(value):.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#666">{value:+.0%}</text>'
        )
    for i, (name, change, low, high, style) in enumerate(chart.rows):
        y = top + i * row_h + row_h / 2
        colour = STYLE_COLOURS.get(style, "#999")
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_t(name)}</text>')
        if low is not None or high is not None:
            lo, hi = x_of(low if low is not None else -span), x_of(high if high is not None else span)
            body.append(
                f'<line x1="{lo:.1f}" y1="{y:.1f}" x2="{hi:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="3"/>'
            )
        if change is not None:
            text = f"{name}: {change:+.1%}" + (
                f" [{low:+.1%}, {high:+.1%}]" if low is not None and high is not None else ""
            )
            body.append(
                f'<circle cx="{x_of(change):.1f}" cy="{y:.1f}" r="5" fill="{colour}" class="verdict {_t(style)}">'
                f"<title>{_t(text)}</title></circle>"
            )
            body.append(f'<text x="{width - right + 6}" y="{y + 4:.1f}">{change:+.1%}</text>')
    return _svg(width, height, body, chart.caption)


_ROW = 18
_FLAME_W = 960
_WARM = ("#E8703A", "#F0A04B", "#E5894D", "#F2B35E", "#DD6B3D", "#EC9546", "#F5C06A", "#E27D45")


def _library(file: str) -> str:
    parts = file.replace("\\", "/").split("/")
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1] if parts.index("site-packages") + 1 < len(parts) else file
    return parts[-2] if len(parts) > 1 else file


def _frame_colour(node: FlameNode, differential: bool) -> str:
    if differential:
        before = node.before or 0.0
        grown = node.weight - before
        scale = max(node.weight, before) or 1.0
        strength = min(1.0, abs(grown) / scale)
        if strength < 0.05:
            return "#dddddd"
        # Red grew, blue shrank: the stronger the change, the deeper the colour.
        level = round(225 - 150 * strength)
        return f"rgb(230,{level},{level})" if grown > 0 else f"rgb({level},{level},235)"
    if node.waiting:
        return "#9fb6cd"
    # One colour per library (the file's package), so a reader sees where library code starts.
    return _WARM[zlib.crc32(_library(node.file).encode()) % len(_WARM)]


def _depth(node: FlameNode) -> int:
    return 1 + max((_depth(c) for c in node.children), default=0)


def flame(chart: Flame, ident: str) -> Markup:
    """A stage's icicle: the stage on top, callees below, width its share; `<title>` per frame."""
    total = chart.root.weight or 1.0
    rows = _depth(chart.root)
    height = rows * _ROW + 4
    pattern = f"wait-{ident}"
    body = [
        f'<defs><pattern id="{pattern}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#9fb6cd"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#6d8aa8" stroke-width="3"/></pattern></defs>'
    ]

    def draw(node: FlameNode, x: float, depth: int) -> None:
        w = node.weight / total * _FLAME_W
        if w < 0.5:
            return
        y = depth * _ROW
        fill = (
            f"url(#{pattern})" if node.waiting and not chart.differential else _frame_colour(node, chart.differential)
        )
        change = "" if node.before is None else f' data-change="{node.weight - node.before:.6g}"'
        own = node.weight - sum(c.weight for c in node.children)
        body.append(
            f'<g class="frame{" waiting" if node.waiting else ""}" data-function="{_t(node.function)}" '
            f'data-weight="{node.weight:.6g}" data-self="{own:.6g}"{change}>'
            f'<rect x="{x:.2f}" y="{y}" width="{max(w - 0.6, 0.4):.2f}" '
            f'height="{_ROW - 1}" rx="1.5" fill="{fill}"/><title>{_t(describe(chart, node))}</title>'
        )
        chars = int((w - 6) / 6.8)
        if chars >= 3:
            label = node.function if len(node.function) <= chars else node.function[: chars - 1] + "…"
            body.append(f'<text x="{x + 3:.2f}" y="{y + 13}" font-size="11">{_t(label)}</text>')
        body.append("</g>")
        offset = x
        for child in node.children:
            draw(child, offset, depth + 1)
            offset += child.weight / total * _FLAME_W

    draw(chart.root, 0.0, 0)
    return _svg(_FLAME_W, height, body, f"flame graph of {chart.stage}", cls="flame")
