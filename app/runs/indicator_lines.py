"""A run's indicators.json: each indicator its strategy declared, as lines the price chart
draws (on the candles, or in a pane of its own below them), thinned to the candles' grid.

The values are computed by the trusted parent from its own copy of the bars, through the same
checks and computation a run's indicators go through (`sandbox.SharedIndicators`), never read
from the worker: the worker only names what it declared. Each line holds at most `max_points`
points: the run's traded bars are cut into buckets of whole multiples of the data's bar, as
`GET /api/runs/{id}/candles` cuts them into candles (same bucket edges, same default bound), and
a bucket's point is the value at its last bar (the indicator as it stood at the candle's close).
The file is plain JSON with sorted keys and numbers as Python's shortest repr: the same run
writes the same bytes.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Final

import numpy as np

from app import strict_json
from app.engine import IndicatorSetting, MarketData, RunResult
from app.engine.errors import IndicatorError
from app.engine.feed import FloatArray, IntArray
from app.engine.loop import cut_after_end
from app.engine.timeframes import MONDAY_AFTER_EPOCH_NS, NS_PER_WEEK, timeframe_market
from sandbox import SharedIndicators

INDICATORS_FILE: Final = "indicators.json"
MAX_POINTS: Final = 2_000
"""Points per line at most: the candles route's default bound, so points fall on candles."""
SIGNIFICANT_DIGITS: Final = 8
PRICE_BANDS: Final = frozenset(
    {"aberration", "accbands", "atrts", "bbands", "chandelier_exit", "donchian", "hwc", "kc"}
    | {"psar", "zigzag", "alphatrend", "cksp", "vwap", "vwma"}
)
"""Indicators outside pandas-ta's "overlap" category whose lines are prices (bands, stops)."""
PRICE_RANGE: Final = (0.5, 2.0)
"""A line is drawn on the candles when all its values lie within these multiples of the
traded bars' lowest low and highest high (a band's width or a %B column is not a price)."""


def indicator_document(result: RunResult, market: MarketData) -> dict[str, Any]:
    """indicators.json's content for `result`, a run on `market` (its bars, not yet cut at the
    run's end): `bucket_seconds` (the candle length the points are spaced by) and per declared
    indicator its `label`, `name`, `timeframe`, `settings`, `time` (epoch s, its points') and
    `lines`, each line a pandas-ta column with its `placement` ("price" or "pane") and `values`
    (8 significant digits; null where the indicator has no value yet). An indicator that
    cannot be computed carries `error` and no lines."""
    market = cut_after_end(market, result.config.end)
    times = result.equity.time
    if len(times) == 0 or len(market) == 0:
        return {"bucket_seconds": 0, "indicators": []}
    first = int(np.searchsorted(market.time, int(times[0])))
    last = int(np.searchsorted(market.time, int(times[-1]), side="right"))
    merge = max(1, -(-(last - first) // MAX_POINTS))
    step_ns = market.bar_ns * merge
    low = float(np.min(market.low[first:last]))
    high = float(np.max(market.high[first:last]))
    window = (int(market.time[first]), int(market.time[last - 1]))
    shared = SharedIndicators(market)
    return {
        "bucket_seconds": step_ns // 1_000_000_000,
        "indicators": [
            _indicator(shared, market, setting, window, step_ns, (low, high))
            for setting in result.indicators
        ],
    }


def write_indicator_file(result: RunResult, market: MarketData, out_dir: Path) -> Path:
    """indicators.json of `result` in `out_dir` (which exists); returns its path."""
    path = out_dir / INDICATORS_FILE
    document = indicator_document(result, market)
    path.write_text(strict_json.dumps(document, sort_keys=True) + "\n", encoding="utf-8")
    return path


def label(setting: IndicatorSetting) -> str:
    """How the chart names an indicator: `SMA(length=10)`, `RSI(length=14) @4h`."""
    settings = ", ".join(f"{key}={value}" for key, value in setting.settings)
    rule = f" @{setting.timeframe}" if setting.timeframe else ""
    return f"{setting.name.upper()}({settings}){rule}"


def _indicator(
    shared: SharedIndicators,
    market: MarketData,
    setting: IndicatorSetting,
    window: tuple[int, int],
    step_ns: int,
    price_range: tuple[float, float],
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "label": label(setting),
        "name": setting.name,
        "timeframe": setting.timeframe,
        "settings": dict(setting.settings),
        "time": [],
        "lines": [],
    }
    try:
        columns = shared.columns(setting.name, setting.timeframe, dict(setting.settings))
        times = market.time if setting.timeframe is None else _timeframe_times(setting, market)
    except IndicatorError as error:
        entry["error"] = str(error)
        return entry
    shown = (times >= window[0]) & (times <= window[1])
    for column, values in columns.items():
        point_times, point_values = _thinned(times[shown], values[shown], step_ns)
        entry["time"] = point_times.tolist()  # the same for every column
        entry["lines"].append(
            {
                "column": column,
                "placement": _placement(setting.name, point_values, price_range),
                "values": _rounded(point_values),
            }
        )
    return entry


def _rounded(values: FloatArray) -> list[float | None]:
    """Values to SIGNIFICANT_DIGITS (more than a chart can show), NaN as None (no value)."""
    return [None if v != v else float(f"{v:.{SIGNIFICANT_DIGITS}g}") for v in values.tolist()]


def _timeframe_times(setting: IndicatorSetting, market: MarketData) -> IntArray:
    bars, _ = timeframe_market(str(setting.timeframe), market)
    return bars.time


def _thinned(times: IntArray, values: FloatArray, step_ns: int) -> tuple[IntArray, FloatArray]:
    """One point per bucket of `step_ns` (edges as `app.engine.timeframes.resample` puts
    them): the bucket's start time in epoch seconds and the value at its last bar."""
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    origin = MONDAY_AFTER_EPOCH_NS if step_ns % NS_PER_WEEK == 0 else 0
    bucket = (times - origin) // step_ns
    starts = np.flatnonzero(np.diff(bucket, prepend=bucket[0] - 1) != 0)
    ends = np.append(starts[1:], len(bucket)) - 1
    seconds = (origin + bucket[starts] * step_ns) // 1_000_000_000
    return seconds.astype(np.int64), np.asarray(values, dtype=np.float64)[ends]


def _placement(name: str, values: FloatArray, price_range: tuple[float, float]) -> str:
    """ "price" for a line of prices (an overlap indicator or a band inside the bars' range),
    "pane" for everything else (oscillators, widths, directions)."""
    if name not in _price_indicators():
        return "pane"
    finite = values[np.isfinite(values)]
    low, high = price_range
    is_inside = bool(
        finite.size
        and finite.min() >= low * PRICE_RANGE[0]
        and finite.max() <= high * PRICE_RANGE[1]
    )
    return "price" if is_inside else "pane"


@functools.cache
def _price_indicators() -> frozenset[str]:
    """pandas-ta's "overlap" indicators (moving averages and the like) and PRICE_BANDS."""
    import pandas_ta  # seconds to import: only once indicators are drawn

    overlap: list[str] = list(pandas_ta.Category.get("overlap", []))
    return frozenset(overlap) | PRICE_BANDS


__all__ = ["INDICATORS_FILE", "MAX_POINTS", "indicator_document", "label", "write_indicator_file"]
