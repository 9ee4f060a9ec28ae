"""The chart points of a run's indicators come from the worker that computed them, and reach
the parent only as float64 arrays of exactly the points the parent expects from its own bars;
anything else ends the run as a protocol error."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.engine import RunConfig, Strategy, simulate
from app.engine.indicators import compute_indicator
from app.engine.timeframes import timeframe_market
from sandbox.codec import record_body, result_from_frame
from sandbox.errors import ProtocolError
from sandbox.indicator_points import (
    MAX_POINT_COLUMNS,
    POINTS_KEY,
    ChartRecorder,
    point_grid,
    point_indices,
    points_from_result,
)
from tests.conftest import build_market

MARKET = build_market([100.0 + 5 * np.sin(i / 7) for i in range(600)], freq="1h")
POINTS = 50  # 600 bars: buckets of 12 hours


class Declares(Strategy):
    def initialize(self) -> None:
        self.fast = self.indicator("sma", length=10)
        self.bands = self.indicator("bbands", length=20)
        self.slow = self.timeframe("4h").indicator("rsi", length=3)

    def on_data(self, bar: Any) -> None:
        pass


def worker_result(config: RunConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a worker asked for chart points sends: the record, then the points."""
    recorder = ChartRecorder(MARKET)
    record = simulate(Declares, MARKET, config, indicator_source=recorder)
    body, arrays = record_body(record)
    names, points = recorder.points_parts(record.indicators, record.start, POINTS)
    return {**body, POINTS_KEY: names}, {**arrays, **points}


def checked(body: dict[str, Any], arrays: dict[str, Any], config: RunConfig) -> Any:
    result = result_from_frame(body, arrays, MARKET, config)
    return points_from_result(body, arrays, result.indicators, MARKET, body["start"], POINTS)


def test_the_points_are_each_buckets_last_value_of_what_the_run_computed() -> None:
    config = RunConfig(start=int(MARKET.time[100]))
    points = checked(*worker_result(config), config)
    assert [list(p) for p in points] == [
        ["SMA_10"],
        ["BBL_20_2.0_2.0", "BBM_20_2.0_2.0", "BBU_20_2.0_2.0", "BBB_20_2.0_2.0", "BBP_20_2.0_2.0"],
        ["RSI_3"],
    ]
    grid = point_grid(MARKET, 100, POINTS)
    assert grid is not None and grid.step_ns == 10 * 3_600_000_000_000  # 500 bars in 50
    sma = compute_indicator(MARKET.to_frame(), "sma", {"length": 10})["SMA_10"]
    indices = point_indices(grid, MARKET.time)
    assert indices[0] >= 100 and indices[-1] == len(MARKET) - 1
    assert np.array_equal(points[0]["SMA_10"], sma[indices], equal_nan=True)
    higher, _ = timeframe_market("4h", MARKET)
    rsi = compute_indicator(higher.to_frame(), "rsi", {"length": 3})["RSI_3"]
    expected = rsi[point_indices(grid, higher.time)]
    assert np.array_equal(points[2]["RSI_3"], expected, equal_nan=True)


def test_the_recorder_gives_the_run_the_values_it_computes_itself() -> None:
    config = RunConfig()
    own = simulate(Declares, MARKET, config)
    recorded = simulate(Declares, MARKET, config, indicator_source=ChartRecorder(MARKET))
    assert record_body(own)[0] == record_body(recorded)[0]


def test_values_without_a_number_yet_or_infinite_are_kept() -> None:
    config = RunConfig()
    body, arrays = worker_result(config)
    arrays["points.0.0"] = np.full_like(arrays["points.0.0"], np.nan)
    arrays["points.2.0"] = np.full_like(arrays["points.2.0"], np.inf)
    points = checked(body, arrays, config)
    assert np.isnan(points[0]["SMA_10"]).all() and np.isinf(points[2]["RSI_3"]).all()


def forge(body: dict[str, Any], arrays: dict[str, Any], how: str) -> None:
    if how == "short":
        arrays["points.0.0"] = arrays["points.0.0"][:-1]
    elif how == "long":
        arrays["points.2.0"] = np.r_[arrays["points.2.0"], 1.0]
    elif how == "integers":
        arrays["points.0.0"] = arrays["points.0.0"].astype(np.int64)
    elif how == "missing":
        del arrays["points.1.4"]
    elif how == "unnamed":
        arrays["points.3.0"] = arrays["points.0.0"]
    elif how == "no list":
        del body[POINTS_KEY]
    elif how == "one fewer":
        body[POINTS_KEY] = body[POINTS_KEY][:-1]
    elif how == "twice":
        body[POINTS_KEY][1] = ["BBL", "BBL", "x", "y", "z"]
    elif how == "not text":
        body[POINTS_KEY][0] = [7]
    elif how == "too many":
        body[POINTS_KEY][0] = [f"c{k}" for k in range(MAX_POINT_COLUMNS + 1)]
    elif how == "too long":
        body[POINTS_KEY][0] = ["x" * 500]


FORGERIES = ["short", "long", "integers", "missing", "unnamed", "no list", "one fewer"]
FORGERIES += ["twice", "not text", "too many", "too long"]


@pytest.mark.parametrize("how", FORGERIES)
def test_forged_points_are_a_protocol_error(how: str) -> None:
    config = RunConfig()
    body, arrays = worker_result(config)
    forge(body, arrays, how)
    with pytest.raises(ProtocolError):
        checked(body, arrays, config)
