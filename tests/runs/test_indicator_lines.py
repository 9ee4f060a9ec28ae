"""indicators.json: the lines of a run's declared indicators, the same bytes for the same run,
thinned to the candles' grid with each point the value at its candle's last bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine import RunConfig, Strategy, run_backtest
from app.engine.indicators import compute_indicator
from app.runs import indicator_lines
from app.runs.indicator_lines import indicator_document, write_indicator_file
from tests.conftest import build_market

MARKET = build_market([100.0 + 5 * np.sin(i / 9) for i in range(1_000)], freq="1h")


class Declares(Strategy):
    def initialize(self) -> None:
        self.fast = self.indicator("sma", length=10)
        self.rsi = self.indicator("rsi", length=14)

    def on_data(self, bar: Any) -> None:
        pass


def test_the_same_run_writes_the_same_bytes(tmp_path: Path) -> None:
    result = run_backtest(Declares, MARKET, RunConfig())
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_indicator_file(result, MARKET, tmp_path / "a").read_bytes()
    again = run_backtest(Declares, MARKET, RunConfig())
    assert write_indicator_file(again, MARKET, tmp_path / "b").read_bytes() == first
    document = json.loads(first)
    assert [i["label"] for i in document["indicators"]] == ["SMA(length=10)", "RSI(length=14)"]
    assert [line["placement"] for i in document["indicators"] for line in i["lines"]] == [
        "price",
        "pane",
    ]


def test_points_are_the_values_at_each_buckets_last_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(indicator_lines, "MAX_POINTS", 100)  # 1,000 bars: buckets of 10 hours
    result = run_backtest(Declares, MARKET, RunConfig(start=int(MARKET.time[200])))
    document = indicator_document(result, MARKET)
    assert document["bucket_seconds"] == 8 * 3600  # 800 traded bars in at most 100: 8 bars each
    sma = document["indicators"][0]
    times, values = sma["time"], sma["lines"][0]["values"]
    assert len(times) <= 101  # a partial bucket at each end at most
    expected = compute_indicator(MARKET.to_frame(), "sma", {"length": 10})["SMA_10"]
    seconds = MARKET.time // 1_000_000_000
    assert times[0] <= seconds[200] < times[0] + 8 * 3600  # the first traded bar's bucket
    for k, start in enumerate(times):
        assert start % (8 * 3600) == 0  # bucket edges as the candles route puts them
        last = min(int(np.searchsorted(seconds, start + 8 * 3600)) - 1, len(seconds) - 1)
        assert values[k] == pytest.approx(expected[last], rel=1e-7)


def test_a_run_without_indicators_or_bars_has_no_lines() -> None:
    class Plain(Strategy):
        def on_data(self, bar: Any) -> None:
            pass

    document = indicator_document(run_backtest(Plain, MARKET, RunConfig()), MARKET)
    assert document["indicators"] == []
