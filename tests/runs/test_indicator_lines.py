"""indicators.json: the lines of a run's declared indicators, the same bytes for the same run,
thinned to the candles' grid with each point the value at its candle's last bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app import strict_json
from app.engine import RunConfig, Strategy, run_backtest
from app.engine.indicators import compute_indicator
from app.runs import RunOrder, RunService, indicator_lines
from app.runs.indicator_lines import INDICATORS_FILE, indicator_document, write_indicator_file
from app.runs.prepare import load_data_file
from sandbox import SharedIndicators
from tests.conftest import build_market
from tests.jobs.fixtures import write_sample

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


def test_the_overlap_names_are_pandas_tas_overlap_category() -> None:
    import pandas_ta

    assert frozenset(pandas_ta.Category["overlap"]) == indicator_lines.OVERLAP_INDICATORS


TIMEFRAMES = """
class Lines(Strategy):
    def initialize(self):
        self.fast = self.indicator("sma", length=10)
        self.slow = self.indicator("ema", length=5, timeframe="4h")
        self.bands = self.indicator("bbands", length=20)
        self.rsi = self.timeframe("1d").indicator("rsi", length=14)

    def on_data(self, bar):
        if crossover(self.fast, self.slow):
            self.buy(0.1)
        elif crossover(self.slow, self.fast):
            self.close_position()
"""


@pytest.mark.slow
def test_a_sandboxed_run_draws_what_its_worker_computed_without_computing_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's points give the bytes the parent's own computation gives, and the parent
    computes none of the run's indicators (each one is computed once, by the worker)."""
    data = write_sample(tmp_path, bars=2_000)
    strategy = tmp_path / "lines.py"
    strategy.write_text(TIMEFRAMES, encoding="utf-8")
    market, _ = load_data_file(data, symbol="TESTUSDT")
    order = RunOrder(start=int(market.time[300]), end=int(market.time[1_700]))

    def refuse(*args: object) -> None:
        raise AssertionError("the parent computed an indicator")

    with monkeypatch.context() as patched:
        patched.setattr(SharedIndicators, "columns", refuse)
        outcome = RunService().run_file(
            strategy, data, order, symbol="TESTUSDT", out_dir=tmp_path / "run"
        )
    written = (tmp_path / "run" / INDICATORS_FILE).read_text(encoding="utf-8")
    computed = strict_json.dumps(indicator_document(outcome.result, market), sort_keys=True)
    assert written == computed + "\n"
    document = json.loads(written)
    assert [len(i["lines"]) for i in document["indicators"]] == [1, 1, 5, 1]
    assert all("error" not in i for i in document["indicators"])
