"""Inline SVG charts drawn in Python: no script, no network, prints as it shows."""

from __future__ import annotations

import math
from html import escape
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

__all__ = ["PALETTE", "PRIORITY_COLOURS", "hbars", "histogram_row", "line_chart", "stacked_bars"]

# Okabe-Ito: distinguishable with the common colour-vision deficiencies, and in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
PRIORITY_COLOURS = {"P0": "#D55E00", "P1": "#E69F00", "P2": "#999999"}
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(label)}" {_FONT}>' + "".join(body) + "</svg>"
    )


def nice_max(value: float) -> float:
    """A round axis maximum at or above value (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(float(step * power) for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if step * power >= value)


def _num(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def histogram_row(
    values: Sequence[float] | NDArray[np.float64],
    marks: Sequence[tuple[str, float, str]],
    label: str,
    *,
    bins: int = 30,
) -> str:
    """A small histogram of one stage's latencies with vertical marks (p50, p95, target)."""
    width, height, left, right, top, bottom = 560, 64, 8, 8, 6, 16
    # Scale to the data, not to the marks: a target far above every query would flatten the bars.
    # A few far outliers would do the same: past twice the 99th percentile they are counted in an
    # overflow note instead of stretching the axis.
    ordered = np.sort(np.asarray(values, dtype=float))
    p99 = float(ordered[int(0.99 * (len(ordered) - 1))]) if ordered.size else 1.0  # the order statistic below the max
    top_value = nice_max(float(ordered[-1]) if ordered.size and ordered[-1] <= 2 * p99 else p99 * 1.1)
    overflow = int((ordered > top_value).sum())
    inside = ordered[ordered <= top_value]
    counts = np.bincount(np.minimum(bins - 1, (inside / top_value * bins).astype(int)), minlength=bins).tolist()
    peak = max(counts) or 1
    plot_w, plot_h = width - left - right, height - top - bottom
    bar_w = plot_w / bins
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#888"/>']
    for i, count in enumerate(counts):
        if count:
            h = count / peak * plot_h
            body.append(
                f'<rect x="{left + i * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{count} queries</title></rect>'
            )
    for name, value, colour in marks:
        beyond = value > top_value
        x = left + min(value, top_value) / top_value * plot_w
        if beyond:
            label_text = f"{name} {_num(value)} ms →"
            body.append(f'<text x="{x - 4:.1f}" y="{top + 10}" text-anchor="end" fill="{colour}">{label_text}</text>')
            continue
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="{colour}" stroke-width="2" '
            f'stroke-dasharray="{"4 2" if name == "target" else "none"}"><title>{name} {_num(value)} ms</title></line>'
        )
    body.append(f'<text x="{left}" y="{height - 3}">0</text>')
    axis_end = f"{_num(top_value)} ms" + (f" (+{overflow} beyond, max {_num(float(ordered[-1]))})" if overflow else "")
    body.append(f'<text x="{width - right}" y="{height - 3}" text-anchor="end">{axis_end}</text>')
    return _svg(width, height, body, f"latency distribution of {label}")


def stacked_bars(
    bars: Sequence[tuple[str, Sequence[float]]], series: Sequence[str], label: str, *, sort_by_total: bool = False
) -> str:
    """One stacked column per item (a query), one colour per series (a stage), a y axis in ms."""
    width, height, left, right, top, bottom = 960, 300, 48, 8, 10, 40
    items = sorted(bars, key=lambda b: -sum(b[1])) if sort_by_total else list(bars)
    top_value = nice_max(max((sum(v) for _, v in items), default=1.0))
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(items), 1)
    body = _y_axis(left, top, plot_w, plot_h, top_value, "ms")
    for i, (name, values) in enumerate(items):
        y = float(top + plot_h)
        for j, value in enumerate(values):
            h = value / top_value * plot_h
            y -= h
            tip = f"{escape(name)}: {escape(series[j])} {_num(value)} ms"
            body.append(
                f'<rect x="{left + i * step:.2f}" y="{y:.2f}" width="{max(step * 0.85, 0.5):.2f}" height="{h:.2f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{tip}</title></rect>'
            )
    body += _legend(series, left, height - 12)
    return _svg(width, height, body, label)


def _y_axis(left: int, top: int, plot_w: int, plot_h: int, top_value: float, unit: str) -> list[str]:
    body = []
    for k in range(5):
        value = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_num(value)}</text>')
    body.append(f'<text x="4" y="{top + 8}">{unit}</text>')
    return body


def _legend(series: Sequence[str], x0: int, y: int) -> list[str]:
    body, x = [], float(x0)
    for j, name in enumerate(series):
        body.append(f'<rect x="{x:.0f}" y="{y - 9}" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>')
        body.append(f'<text x="{x + 14:.0f}" y="{y}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return body


def hbars(rows: Sequence[tuple[str, float, str, str]], thresholds: Sequence[tuple[str, float]], label: str) -> str:
    """Horizontal bars of fractions (0..1), each (name, fraction, colour, note), with threshold lines."""
    row_h, left, right, top = 26, 140, 140, 18
    width, height = 720, top + row_h * max(len(rows), 1) + 8
    plot_w = width - left - right
    body = []
    for i, (name, fraction, colour, note) in enumerate(rows):
        y = top + i * row_h
        body.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end">{escape(name)}</text>')
        body.append(
            f'<rect x="{left}" y="{y + 4}" width="{fraction * plot_w:.1f}" height="{row_h - 8}" fill="{colour}"/>'
        )
        body.append(f'<text x="{left + fraction * plot_w + 4:.1f}" y="{y + 16}">{escape(note)}</text>')
    for name, value in thresholds:
        x = left + value * plot_w
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 4}" stroke="#333" stroke-dasharray="3 3"/>'
        )
        body.append(f'<text x="{x:.1f}" y="{top - 6}" text-anchor="middle">{escape(name)}</text>')
    return _svg(width, height, body, label)


def line_chart(
    series: Sequence[tuple[str, Sequence[tuple[float, float]], str, bool]], label: str, x_unit: str, y_unit: str
) -> str:
    """Lines over x (memory per iteration); each series (name, points, colour, dashed); y spans the data."""
    width, height, left, right, top, bottom = 480, 250, 56, 12, 22, 44
    points = [p for _, pts, _, _ in series for p in pts]
    x_lo, x_hi = min((p[0] for p in points), default=0.0), max((p[0] for p in points), default=1.0)
    y_lo, y_hi = min((p[1] for p in points), default=0.0), max((p[1] for p in points), default=1.0)
    # Memory sits far from zero and moves little: span the data (padded) so a slope is visible.
    pad = max((y_hi - y_lo) * 0.1, abs(y_hi) * 0.01, 0.01)
    y_lo, y_hi = y_lo - pad, y_hi + pad
    x_span, y_span = (x_hi - x_lo) or 1.0, y_hi - y_lo
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(x: float, y: float) -> str:
        return f"{left + (x - x_lo) / x_span * plot_w:.1f},{top + plot_h - (y - y_lo) / y_span * plot_h:.1f}"

    body = []
    for k in range(5):
        value = y_lo + y_span * k / 4
        y = top + plot_h - plot_h * k / 4
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{value:.4g}</text>')
    body.append(f'<text x="4" y="12">{escape(y_unit)}</text>')
    for name, pts, colour, dashed in series:
        dash = ' stroke-dasharray="6 3"' if dashed else ""
        path = " ".join(xy(x, y) for x, y in pts)
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}>'
            f"<title>{escape(name)}</title></polyline>"
        )
    body.append(f'<text x="{left}" y="{top + plot_h + 14}">{_num(x_lo)}</text>')
    body.append(
        f'<text x="{width - right}" y="{top + plot_h + 14}" text-anchor="end">{_num(x_hi)} {escape(x_unit)}</text>'
    )
    legend_x = float(left)
    for name, _, colour, dashed in series:
        dash = ' stroke-dasharray="6 3"' if dashed else ""
        body.append(
            f'<line x1="{legend_x:.0f}" y1="{height - 12}" x2="{legend_x + 16:.0f}" y2="{height - 12}" '
            f'stroke="{colour}" stroke-width="2"{dash}/>'
        )
        body.append(f'<text x="{legend_x + 20:.0f}" y="{height - 8}">{escape(name)}</text>')
        legend_x += 30 + 6 * len(name)
    return _svg(width, height, body, label)
