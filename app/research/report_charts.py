"""Inline SVG charts for the self-contained report, drawn in Python (no JavaScript, no CDN).

Every chart is one `<svg class="chart" data-chart="NAME">` element with a `<title>`, axes
with labelled ticks and one `<path>` (or `<rect>`) per series, so a report opened from disk
shows it without any script or network. Every piece of text is escaped with markupsafe (a
strategy's name, a parameter's name and a log line are untrusted); numbers are written by
this module only. Long series are thinned to at most `MAX_POINTS` per line, keeping each
bucket's lowest and highest point, so a drawdown's trough survives the thinning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from markupsafe import Markup, escape

from app.engine.feed import FloatArray, IntArray

WIDTH = 900
HEIGHT = 280
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 70, 20, 28, 34
MAX_POINTS = 1_500
PALETTE = ("#2563eb", "#9ca3af", "#dc2626", "#16a34a", "#9333ea", "#ea580c")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Formatter = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Line:
    """One series of a line chart: x in epoch ns (or any increasing number), y finite or NaN
    (NaN breaks the line)."""

    name: str
    x: FloatArray | IntArray
    y: FloatArray
    color: str = PALETTE[0]
    fill_to_zero: bool = False


def percent(value: float) -> str:
    """0.1234 -> '12.3 %' (fractions shown as percent)."""
    return f"{value * 100:,.1f} %"


def number(value: float) -> str:
    """A compact number: thousands separators, 3 significant digits for small values."""
    if abs(value) >= 1_000:
        return f"{value:,.0f}"
    return f"{value:,.3g}"


def _svg(name: str, title: str, body: str, height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">'
        f"<title>{escape(title)}</title>"
        f'<text class="caption" x="{WIDTH - MARGIN_RIGHT}" y="14" text-anchor="end" '
        f'font-weight="600" fill="#111827">{escape(title)}</text>{body}</svg>'
    )


def empty_chart(name: str, title: str, reason: str) -> Markup:
    """A placeholder that says why there is nothing to draw (too few days, no trades)."""
    body = (
        f'<text class="empty" x="{WIDTH / 2}" y="40" text-anchor="middle" fill="#6b7280">'
        f"{escape(reason)}</text>"
    )
    return _svg(name, title, body, height=80)


def thin(x: FloatArray | IntArray, y: FloatArray, max_points: int = MAX_POINTS) -> list[int]:
    """Positions to draw: all when few, else each bucket's first, lowest and highest point."""
    count = len(x)
    if count <= max_points:
        return list(range(count))
    buckets = max_points // 3
    edges = np.linspace(0, count, buckets + 1).astype(np.int64)
    keep: set[int] = {count - 1}
    filled = np.where(np.isnan(y), np.inf, y)
    raised = np.where(np.isnan(y), -np.inf, y)
    for low, high in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        if high <= low:
            continue
        keep.add(low)
        keep.add(low + int(np.argmin(filled[low:high])))
        keep.add(low + int(np.argmax(raised[low:high])))
    return sorted(keep)


def _nice_ticks(low: float, high: float, count: int = 5, *, whole: bool = False) -> list[float]:
    """About `count` round tick values in [low, high]; `whole` keeps steps >= 1 (counts)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low] if math.isfinite(low) else []
    raw = max((high - low) / count, 1.0) if whole else (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


class _Frame:
    """Maps data coordinates to the plot area of one chart."""

    def __init__(self, x_low: float, x_high: float, y_low: float, y_high: float) -> None:
        if x_high <= x_low:  # one point: a span float precision keeps (x may be epoch ns)
            x_high = x_low + max(abs(x_low) * 1e-9, 1.0)
        if y_high <= y_low:
            pad = abs(y_low) * 0.05 or 1.0
            y_low, y_high = y_low - pad, y_high + pad
        self.x_low, self.x_high, self.y_low, self.y_high = x_low, x_high, y_low, y_high
        self.left, self.right = MARGIN_LEFT, WIDTH - MARGIN_RIGHT
        self.top, self.bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM

    def px(self, x: float) -> float:
        return self.left + (x - self.x_low) / (self.x_high - self.x_low) * (self.right - self.left)

    def py(self, y: float) -> float:
        return self.bottom - (y - self.y_low) / (self.y_high - self.y_low) * (
            self.bottom - self.top
        )


def _time_label(ns: float, span_ns: float) -> str:
    stamp = pd.Timestamp(int(ns), unit="ns", tz="UTC")
    return stamp.strftime("%Y-%m-%d" if span_ns > 3 * 86_400e9 else "%m-%d %H:%M")


def _axes(
    frame: _Frame,
    y_format: Formatter,
    *,
    x_is_time: bool,
    x_format: Formatter,
    whole_y: bool = False,
) -> str:
    parts = [
        f'<rect x="{frame.left}" y="{frame.top}" width="{frame.right - frame.left}" '
        f'height="{frame.bottom - frame.top}" fill="none" stroke="#d1d5db"/>'
    ]
    for tick in _nice_ticks(frame.y_low, frame.y_high, whole=whole_y):
        y = frame.py(tick)
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#eef0f3"/><text x="{frame.left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end" fill="#374151">{escape(y_format(tick))}</text>'
        )
    span = frame.x_high - frame.x_low
    for i in range(6):
        value = frame.x_low + span * i / 5
        label = _time_label(value, span) if x_is_time else x_format(value)
        anchor = "start" if i == 0 else "end" if i == 5 else "middle"
        parts.append(
            f'<text x="{frame.px(value):.1f}" y="{frame.bottom + 18}" text-anchor="{anchor}" '
            f'fill="#374151">{escape(label)}</text>'
        )
    return "".join(parts)


def _path_data(frame: _Frame, x: FloatArray | IntArray, y: FloatArray) -> str:
    commands: list[str] = []
    pen_down = False
    for position in thin(x, y):
        value = float(y[position])
        if not math.isfinite(value):
            pen_down = False
            continue
        verb = "L" if pen_down else "M"
        commands.append(f"{verb}{frame.px(float(x[position])):.1f},{frame.py(value):.1f}")
        pen_down = True
    return "".join(commands)


def _legend(lines: Sequence[Line]) -> str:
    parts = []
    x = MARGIN_LEFT
    for line in lines:
        parts.append(
            f'<rect x="{x}" y="8" width="12" height="4" fill="{escape(line.color)}"/>'
            f'<text x="{x + 16}" y="14" fill="#111827">{escape(line.name)}</text>'
        )
        x += 24 + 7 * len(line.name)
    return "".join(parts)


def line_chart(
    name: str,
    title: str,
    lines: Sequence[Line],
    *,
    y_format: Formatter = number,
    x_is_time: bool = True,
    x_format: Formatter = number,
    zero_line: bool = False,
) -> Markup:
    """Lines over a shared x axis (times in epoch ns unless `x_is_time` is False)."""
    drawn = [line for line in lines if len(line.x) and np.isfinite(line.y).any()]
    if not drawn:
        return empty_chart(name, title, "nothing to draw")
    xs = np.concatenate([np.asarray(line.x, dtype=np.float64) for line in drawn])
    ys = np.concatenate([line.y[np.isfinite(line.y)] for line in drawn])
    y_low, y_high = float(ys.min()), float(ys.max())
    if zero_line or any(line.fill_to_zero for line in drawn):
        y_low, y_high = min(y_low, 0.0), max(y_high, 0.0)
    frame = _Frame(float(xs.min()), float(xs.max()), y_low, y_high)
    parts = [_axes(frame, y_format, x_is_time=x_is_time, x_format=x_format)]
    if zero_line:
        zero = frame.py(0.0)
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.right}" y1="{zero:.1f}" y2="{zero:.1f}" '
            f'stroke="#6b7280" stroke-dasharray="4 3"/>'
        )
    for line in drawn:
        data = _path_data(frame, line.x, line.y)
        color = escape(line.color)
        if line.fill_to_zero and data:
            zero = frame.py(0.0)
            first_x = frame.px(float(line.x[0]))
            last_x = frame.px(float(line.x[-1]))
            area = f"M{first_x:.1f},{zero:.1f}L{data[1:]}L{last_x:.1f},{zero:.1f}Z"
            parts.append(f'<path d="{area}" fill="{color}" fill-opacity="0.25" stroke="none"/>')
        parts.append(
            f'<path class="series" data-series="{escape(line.name)}" d="{data}" fill="none" '
            f'stroke="{color}" stroke-width="1.4"/>'
        )
    parts.append(_legend(drawn))
    return _svg(name, title, "".join(parts))


def bar_chart(
    name: str,
    title: str,
    edges: FloatArray,
    counts: IntArray,
    *,
    x_format: Formatter = percent,
    color: str = PALETTE[0],
) -> Markup:
    """A histogram: one rect per bin between `edges`, height `counts`."""
    if len(counts) == 0 or int(counts.sum()) == 0:
        return empty_chart(name, title, "no values")
    frame = _Frame(float(edges[0]), float(edges[-1]), 0.0, float(counts.max()))
    parts = [_axes(frame, lambda v: f"{v:,.0f}", x_is_time=False, x_format=x_format, whole_y=True)]
    for low, high, count in zip(
        edges[:-1].tolist(), edges[1:].tolist(), counts.tolist(), strict=True
    ):
        if count == 0:
            continue
        x0, x1, top = frame.px(low), frame.px(high), frame.py(count)
        parts.append(
            f'<rect class="bin" x="{x0:.1f}" y="{top:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
            f'height="{frame.bottom - top:.1f}" fill="{escape(color)}"/>'
        )
    outline = "".join(
        f"{'M' if i == 0 else 'L'}{frame.px(float(edges[i])):.1f},{frame.py(float(c)):.1f}"
        f"L{frame.px(float(edges[i + 1])):.1f},{frame.py(float(c)):.1f}"
        for i, c in enumerate(counts.tolist())
    )
    parts.append(f'<path class="series" d="{outline}" fill="none" stroke="#1e3a8a"/>')
    if frame.x_low < 0 < frame.x_high:
        zero = frame.px(0.0)
        parts.append(
            f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{frame.top}" y2="{frame.bottom}" '
            f'stroke="#6b7280" stroke-dasharray="4 3"/>'
        )
    return _svg(name, title, "".join(parts))


def _heat_color(value: float, scale: float) -> str:
    if not math.isfinite(value):
        return "#f3f4f6"
    strength = min(abs(value) / scale, 1.0) if scale > 0 else 0.0
    light = int(245 - 150 * strength)
    return f"rgb({light},{245},{light})" if value >= 0 else f"rgb({245},{light},{light})"


def heatmap(name: str, title: str, cells: dict[tuple[int, int], float]) -> Markup:
    """Monthly returns: one row per year, one column per month, colour by sign and size."""
    if not cells:
        return empty_chart(name, title, "no months")
    years = sorted({year for year, _ in cells})
    cell_w, cell_h, left, top = 62, 24, 60, 26
    height = top + cell_h * len(years) + 10
    scale = max(abs(v) for v in cells.values() if math.isfinite(v)) if cells else 0.0
    parts = [
        f'<text x="{left + cell_w * i + cell_w / 2}" y="{top - 8}" text-anchor="middle" '
        f'fill="#374151">{month}</text>'
        for i, month in enumerate(MONTHS)
    ]
    for row, year in enumerate(years):
        y = top + row * cell_h
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{year}</text>')
        for column in range(12):
            value = cells.get((year, column + 1))
            if value is None:
                continue
            x = left + column * cell_w
            parts.append(
                f'<path class="cell" d="M{x},{y}h{cell_w - 2}v{cell_h - 2}h-{cell_w - 2}Z" '
                f'fill="{_heat_color(value, scale)}"/>'
                f'<text x="{x + cell_w / 2 - 1}" y="{y + 16}" text-anchor="middle" '
                f'fill="#111827">{escape(percent(value))}</text>'
            )
    return _svg(name, title, "".join(parts), height=height)


def fan_chart(
    name: str,
    title: str,
    x: FloatArray,
    bands: Sequence[tuple[str, FloatArray, FloatArray]],
    median: FloatArray | None,
    *,
    x_is_time: bool = False,
    x_format: Formatter = number,
    y_format: Formatter = number,
) -> Markup:
    """Percentile bands (label, low, high) around a median line, widest band first."""
    if len(x) == 0 or not bands:
        return empty_chart(name, title, "no paths")
    values = np.concatenate([np.concatenate((low, high)) for _, low, high in bands])
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return empty_chart(name, title, "no paths")
    frame = _Frame(float(x.min()), float(x.max()), float(finite.min()), float(finite.max()))
    parts = [_axes(frame, y_format, x_is_time=x_is_time, x_format=x_format)]
    for index, (label, low, high) in enumerate(bands):
        upper = "".join(
            f"{'M' if i == 0 else 'L'}{frame.px(float(a)):.1f},{frame.py(float(b)):.1f}"
            for i, (a, b) in enumerate(zip(x.tolist(), high.tolist(), strict=True))
        )
        lower = "".join(
            f"L{frame.px(float(a)):.1f},{frame.py(float(b)):.1f}"
            for a, b in reversed(list(zip(x.tolist(), low.tolist(), strict=True)))
        )
        opacity = 0.15 + 0.15 * index
        parts.append(
            f'<path class="band" data-series="{escape(label)}" d="{upper}{lower}Z" '
            f'fill="{PALETTE[0]}" fill-opacity="{opacity:.2f}" stroke="none"/>'
        )
    if median is not None:
        parts.append(
            f'<path class="series" data-series="median" d="{_path_data(frame, x, median)}" '
            f'fill="none" stroke="#1e3a8a" stroke-width="1.4"/>'
        )
    return _svg(name, title, "".join(parts))
