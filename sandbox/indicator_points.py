"""The points of a run's declared indicators that its price chart draws (indicators.json), so
each indicator is computed once, by the worker that ran the strategy, and never again by the
parent.

The chart draws one point per bucket of whole bars (as `GET /api/runs/{id}/candles` cuts the
traded bars into candles): the value at the bucket's last bar. Both sides choose those bars
with the same functions on the same bars (`point_grid`, `point_indices`): the worker sends the
values there for every declared indicator (`ChartRecorder`, `points_parts`), and the parent
checks what arrives against the points it expects from its own copy of the bars
(`points_from_result`: one float64 array per column, exactly one value per point; text
cleaned, counts bounded) before anything is written. NaN (no value yet) and infinities are
kept; indicators.json writes both as null, as it does for values the parent computes itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from app.deferred_imports import deferred
from app.engine import MarketData
from app.engine.errors import IndicatorError
from app.engine.feed import FloatArray, IntArray
from app.engine.indicators import IndicatorArg, IndicatorSource, compute_indicator
from app.engine.results import IndicatorSetting
from app.engine.timeframes import MONDAY_AFTER_EPOCH_NS, NS_PER_WEEK, timeframe_market
from sandbox.errors import ProtocolError
from sandbox.shared_indicators import SettingsKey, settings_key
from sandbox.text import MAX_NAME_CHARS

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

MAX_POINT_COLUMNS: Final = 128
"""Columns of one indicator the parent accepts points for (cdl_pattern's all-patterns frame,
the widest pandas-ta returns, has 62)."""
MAX_CHART_POINTS: Final = 100_000
"""Largest points-per-line a job may ask for (the chart asks for 2,000)."""
POINTS_KEY: Final = "indicator_points"
"""The result message's list of each declared indicator's column names; the values travel
as arrays `points.<indicator>.<column>` (their positions in those lists)."""

Points = dict[str, FloatArray]
"""One indicator's columns, each its values at the chart's points, in pandas-ta's order."""


@dataclass(slots=True)
class ChartRequest:
    """Asks a sandboxed run (sandbox.run_sandboxed) for its declared indicators' chart points,
    at most `max_points` per line; `points` holds them, checked, once the run has ended (one
    Points per indicator of the result, in order). It stays None when the run failed, or when
    the worker sent no points at all (the caller then computes them itself, as
    app.runs.indicator_lines does); points sent malformed end the run as a ProtocolError."""

    max_points: int
    points: tuple[Points, ...] | None = None


@dataclass(frozen=True, slots=True)
class PointGrid:
    """The chart's buckets over a run's traded bars: those from `first_ns` to `last_ns`
    (bar open times, epoch ns UTC) in buckets of `step_ns` (whole bars of the data)."""

    first_ns: int
    last_ns: int
    step_ns: int

    @property
    def origin_ns(self) -> int:
        """Where bucket edges are counted from: a Monday for whole weeks (as the candles
        route, app.engine.timeframes), the epoch otherwise."""
        return MONDAY_AFTER_EPOCH_NS if self.step_ns % NS_PER_WEEK == 0 else 0


def point_grid(market: MarketData, start: int, max_points: int) -> PointGrid | None:
    """The grid of a run on `market` (cut at the run's end) trading from bar `start`: buckets
    of the fewest whole bars that put the traded bars in at most `max_points` buckets.
    None when no bar is traded."""
    if not 0 <= start < len(market):
        return None
    merge = max(1, -(-(len(market) - start) // max_points))
    return PointGrid(int(market.time[start]), int(market.time[-1]), market.bar_ns * merge)


def point_indices(grid: PointGrid, times: IntArray) -> IntArray:
    """Positions in `times` (ascending bar open times of the indicator's bars) of each
    bucket's last bar, for the bars inside the grid's traded span, in time order."""
    low = int(np.searchsorted(times, grid.first_ns, side="left"))
    high = int(np.searchsorted(times, grid.last_ns, side="right"))
    if high <= low:
        return np.zeros(0, dtype=np.int64)
    bucket = times[low:high] - grid.origin_ns
    bucket //= grid.step_ns  # in place: one int64 per bar, not three (1M bars: 8 MB, not 24)
    ends = np.append(np.flatnonzero(bucket[1:] != bucket[:-1]), len(bucket) - 1)
    return (low + ends).astype(np.int64)


def point_seconds(grid: PointGrid, times: IntArray, indices: IntArray) -> IntArray:
    """Each point's bucket start in epoch seconds (the candle it is drawn at)."""
    bucket = (times[indices] - grid.origin_ns) // grid.step_ns
    return ((grid.origin_ns + bucket * grid.step_ns) // 1_000_000_000).astype(np.int64)


def indicator_times(setting: IndicatorSetting, market: MarketData) -> IntArray:
    """Open times of the bars `setting` is computed on: the run's, or its timeframe's."""
    if setting.timeframe is None:
        return market.time
    return timeframe_market(setting.timeframe, market)[0].time


def setting_key(setting: IndicatorSetting) -> SettingsKey:
    """The cache identity of a declared setting (the type of each value is part of it)."""
    return settings_key(setting.name, setting.timeframe, dict(setting.settings))


class ChartRecorder:
    """The worker's indicator source (app.engine.indicators.IndicatorSource): computes each
    indicator as the run's context would on its own (`compute_indicator` on the run's bars,
    or on a timeframe's, built by the same function), or takes it from `inner` (a sweep
    trial's parent), and keeps the columns so their chart points can be sent with the result.
    It holds references, no copies: the run's views hold the same arrays."""

    def __init__(self, market: MarketData, inner: IndicatorSource | None = None) -> None:
        self._market = market  # cut at the run's end, as the run's context has it
        self._inner = inner
        self._frames: dict[str | None, pd.DataFrame] = {}
        self._times: dict[str, IntArray] = {}
        self._columns: dict[SettingsKey, dict[str, FloatArray]] = {}

    def __call__(
        self, name: str, rule: str | None, args: Mapping[str, IndicatorArg]
    ) -> dict[str, FloatArray]:
        if self._inner is not None:
            columns = self._inner(name, rule, args)
        else:
            columns = compute_indicator(self._frame(rule), name, dict(args))
        self._columns[settings_key(name, rule, args)] = columns
        return columns

    def _frame(self, rule: str | None) -> pd.DataFrame:
        frame = self._frames.get(rule)
        if frame is None:
            market = self._market if rule is None else timeframe_market(rule, self._market)[0]
            frame = self._frames[rule] = market.to_frame()
            if rule is not None:
                self._times[rule] = market.time
        return frame

    def times(self, setting: IndicatorSetting) -> IntArray:
        """Bar open times of `setting`'s bars (those it was computed on)."""
        rule = setting.timeframe
        if rule is None:
            return self._market.time
        if rule not in self._times:
            self._times[rule] = indicator_times(setting, self._market)
        return self._times[rule]

    def points_parts(
        self, declared: Sequence[IndicatorSetting], start: int, max_points: int
    ) -> tuple[list[list[str]], dict[str, FloatArray]]:
        """The `indicator_points` list and arrays of a result: for each of `declared` (the
        result's indicators, in order) its column names and values at the chart's points."""
        grid = point_grid(self._market, start, max_points)
        names: list[list[str]] = []
        arrays: dict[str, FloatArray] = {}
        for i, setting in enumerate(declared):
            columns = self._columns.get(setting_key(setting), {})
            indices = point_indices(grid, self.times(setting)) if grid is not None else None
            names.append(list(columns))
            for j, values in enumerate(columns.values()):
                picked = values[indices] if indices is not None else values[:0]
                arrays[f"points.{i}.{j}"] = np.ascontiguousarray(picked, dtype=np.float64)
        return names, arrays


def points_from_result(
    body: Mapping[str, Any],
    arrays: Mapping[str, npt.NDArray[Any]],
    declared: Sequence[IndicatorSetting],
    market: MarketData,
    start: int,
    max_points: int,
) -> tuple[Points, ...]:
    """The chart points of an untrusted worker's result, for each of `declared` (the result's
    checked indicators), checked against the points the parent expects on `market` (its own
    bars, cut at the run's end) from bar `start`: ProtocolError for anything else."""
    listed = body.get(POINTS_KEY)
    if not isinstance(listed, list) or len(listed) != len(declared):
        raise ProtocolError("the result's indicator points do not match its indicators")
    grid = point_grid(market, start, max_points)
    found: list[Points] = []
    used = 0
    for i, (setting, names) in enumerate(zip(declared, listed, strict=True)):
        if (
            not isinstance(names, list)
            or len(names) > MAX_POINT_COLUMNS
            or not all(isinstance(n, str) and 0 < len(n) <= MAX_NAME_CHARS for n in names)
            or len(set(names)) != len(names)
        ):
            raise ProtocolError("an indicator of the result names its columns wrongly")
        try:
            times = indicator_times(setting, market)
        except IndicatorError:
            raise ProtocolError(
                "an indicator of the result has a timeframe the data has not"
            ) from None
        expected = len(point_indices(grid, times)) if grid is not None else 0
        points: Points = {}
        for j, name in enumerate(names):
            values = arrays.get(f"points.{i}.{j}")
            if values is None or values.dtype != np.float64 or len(values) != expected:
                raise ProtocolError(f"indicator {setting.name}'s points are not the chart's")
            points[name] = values
        used += len(names)
        found.append(points)
    if used != sum(1 for key in arrays if key.startswith("points.")):
        raise ProtocolError("the result carries indicator points no indicator names")
    return tuple(found)


__all__ = [
    "MAX_CHART_POINTS",
    "MAX_POINT_COLUMNS",
    "POINTS_KEY",
    "ChartRecorder",
    "ChartRequest",
    "PointGrid",
    "Points",
    "indicator_times",
    "point_grid",
    "point_indices",
    "point_seconds",
    "points_from_result",
    "setting_key",
]
