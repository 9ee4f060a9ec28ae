"""A run's indicators.json: each indicator its strategy declared, as lines the price chart
draws (on the candles, or in a pane of its own below them), thinned to the candles' grid.

Each line holds at most `max_points` points: the run's traded bars are cut into buckets of
whole multiples of the data's bar, as `GET /api/runs/{id}/candles` cuts them into candles (same
bucket edges, same default bound), and a bucket's point is the value at its last bar (the
indicator as it stood at the candle's close; sandbox.indicator_points chooses those bars).
A sandboxed run's values are the ones its worker computed for the strategy, sent at those
points only and checked by the parent against its own copy of the bars
(sandbox.ChartRequest): nothing is computed twice. A run without them (one run in this
process) has them computed here, through the same checks and computation a run's indicators go
through (`sandbox.SharedIndicators`); both give the same document.
The file is plain JSON with sorted keys and numbers as Python's shortest repr: the same run
writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from app import strict_json
from app.engine import IndicatorSetting, MarketData, RunResult
from app.engine.errors import IndicatorError
from app.engine.feed import FloatArray
from app.engine.loop import cut_after_end
from sandbox import Points, SharedIndicators
from sandbox.indicator_points import (
    PointGrid,
    indicator_times,
    point_grid,
    point_indices,
    point_seconds,
)

INDICATORS_FILE: Final = "indicators.json"
MAX_POINTS: Final = 2_000
"""Points per line at most: the candles route's default bound, so points fall on candles."""
SIGNIFICANT_DIGITS: Final = 8
OVERLAP_INDICATORS: Final = frozenset(
    {"alligator", "alma", "dema", "ema", "fwma", "hilo", "hl2", "hlc3", "hma", "hwma"}
    | {"ichimoku", "jma", "kama", "linreg", "mama", "mcgd", "midpoint", "midprice", "ohlc4"}
    | {"pivots", "pwma", "rma", "sinwma", "sma", "smma", "ssf", "ssf3", "supertrend", "swma"}
    | {"t3", "tema", "trima", "vidya", "wcp", "wma", "zlma"}
)
"""pandas-ta's "overlap" category (`pandas_ta.Category["overlap"]`, checked by the tests):
moving averages and the like, drawn on the candles. Written out, so writing a run's files
never imports pandas-ta (seconds) for its list of names."""
PRICE_BANDS: Final = frozenset(
    {"aberration", "accbands", "atrts", "bbands", "chandelier_exit", "donchian", "hwc", "kc"}
    | {"psar", "zigzag", "alphatrend", "cksp", "vwap", "vwma"}
)
"""Indicators outside pandas-ta's "overlap" category whose lines are prices (bands, stops)."""
PRICE_RANGE: Final = (0.5, 2.0)
"""A line is drawn on the candles when all its values lie within these multiples of the
traded bars' lowest low and highest high (a band's width or a %B column is not a price)."""


def indicator_document(
    result: RunResult, market: MarketData, points: Sequence[Points] | None = None
) -> dict[str, Any]:
    """indicators.json's content for `result`, a run on `market` (its bars, not yet cut at the
    run's end): `bucket_seconds` (the candle length the points are spaced by) and per declared
    indicator its `label`, `name`, `timeframe`, `settings`, `time` (epoch s, its points') and
    `lines`, each line a pandas-ta column with its `placement` ("price" or "pane") and `values`
    (8 significant digits; null where the indicator has no value yet). An indicator that
    cannot be computed carries `error` and no lines.

    `points` are the values the run's worker computed, one Points per indicator of the result
    (sandbox.ChartRequest, checked); without them the indicators are computed here."""
    market = cut_after_end(market, result.config.end)
    times = result.equity.time
    if len(times) == 0 or len(market) == 0:
        return {"bucket_seconds": 0, "indicators": []}
    first = int(np.searchsorted(market.time, int(times[0])))
    grid = point_grid(market, first, MAX_POINTS)
    if grid is None:
        return {"bucket_seconds": 0, "indicators": []}
    last = int(np.searchsorted(market.time, int(times[-1]), side="right"))
    price_range = (float(np.min(market.low[first:last])), float(np.max(market.high[first:last])))
    shared = SharedIndicators(market) if points is None else None
    entries = []
    for k, setting in enumerate(result.indicators):
        try:
            if shared is not None:
                columns = _computed_points(shared, market, setting, grid)
            else:
                columns = dict(points[k]) if points is not None else {}
            point_times = _point_times(setting, market, grid)
        except IndicatorError as error:
            entries.append({**_entry(setting), "error": str(error)})
            continue
        entries.append(_lines(setting, columns, point_times, price_range))
    return {"bucket_seconds": grid.step_ns // 1_000_000_000, "indicators": entries}


def write_indicator_file(
    result: RunResult, market: MarketData, out_dir: Path, points: Sequence[Points] | None = None
) -> Path:
    """indicators.json of `result` in `out_dir` (which exists); returns its path. `points`:
    as for indicator_document."""
    path = out_dir / INDICATORS_FILE
    document = indicator_document(result, market, points)
    path.write_text(strict_json.dumps(document, sort_keys=True) + "\n", encoding="utf-8")
    return path


def label(setting: IndicatorSetting) -> str:
    """How the chart names an indicator: `SMA(length=10)`, `RSI(length=14) @4h`."""
    settings = ", ".join(f"{key}={value}" for key, value in setting.settings)
    rule = f" @{setting.timeframe}" if setting.timeframe else ""
    return f"{setting.name.upper()}({settings}){rule}"


def _entry(setting: IndicatorSetting) -> dict[str, Any]:
    return {
        "label": label(setting),
        "name": setting.name,
        "timeframe": setting.timeframe,
        "settings": dict(setting.settings),
        "time": [],
        "lines": [],
    }


def _computed_points(
    shared: SharedIndicators, market: MarketData, setting: IndicatorSetting, grid: PointGrid
) -> Points:
    """The setting's columns computed in this process, at the grid's points."""
    columns = shared.columns(setting.name, setting.timeframe, dict(setting.settings))
    indices = point_indices(grid, indicator_times(setting, market))
    return {
        column: np.asarray(values, dtype=np.float64)[indices] for column, values in columns.items()
    }


def _point_times(setting: IndicatorSetting, market: MarketData, grid: PointGrid) -> list[int]:
    """Each point's candle start (epoch s) for `setting`'s bars."""
    times = indicator_times(setting, market)
    return point_seconds(grid, times, point_indices(grid, times)).tolist()  # type: ignore[no-any-return]


def _lines(
    setting: IndicatorSetting,
    columns: Points,
    point_times: list[int],
    price_range: tuple[float, float],
) -> dict[str, Any]:
    entry = _entry(setting)
    for column, values in columns.items():
        entry["time"] = point_times  # the same for every column
        entry["lines"].append(
            {
                "column": column,
                "placement": _placement(setting.name, values, price_range),
                "values": _rounded(values),
            }
        )
    return entry


def _rounded(values: FloatArray) -> list[float | None]:
    """Values to SIGNIFICANT_DIGITS (more than a chart can show), NaN as None (no value)."""
    return [None if v != v else float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in values.tolist()]


def _placement(name: str, values: FloatArray, price_range: tuple[float, float]) -> str:
    """ "price" for a line of prices (an overlap indicator or a band inside the bars' range),
    "pane" for everything else (oscillators, widths, directions)."""
    if name not in OVERLAP_INDICATORS | PRICE_BANDS:
        return "pane"
    finite = values[np.isfinite(values)]
    low, high = price_range
    is_inside = bool(
        finite.size
        and finite.min() >= low * PRICE_RANGE[0]
        and finite.max() <= high * PRICE_RANGE[1]
    )
    return "price" if is_inside else "pane"


__all__ = [
    "INDICATORS_FILE",
    "MAX_POINTS",
    "OVERLAP_INDICATORS",
    "indicator_document",
    "label",
    "write_indicator_file",
]
