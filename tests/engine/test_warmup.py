"""The warm-up: on_data starts once every declared indicator (and higher timeframe) has a value,
or where the strategy's `warmup` says; worked examples for each rule (app/engine/warmup.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pytest

from app.engine import (
    Bar,
    MarketData,
    RunConfig,
    RunResult,
    Strategy,
    StrategyDefinitionError,
    crossover,
    run_backtest,
)
from app.engine.indicators import compute_indicator
from app.engine.warmup import WarmupSetting
from sandbox import run_sandboxed
from tests.conftest import MarketBuilder

BARS = 120


def wavy(make_market: MarketBuilder, bars: int = BARS) -> MarketData:
    """Hourly bars from 2024-01-01 00:00 UTC, closes on a slow wave with wicks."""
    closes = 100.0 + 10.0 * np.sin(np.arange(bars) / 7.0) + np.arange(bars) * 0.05
    return make_market([(c, c + 1.0, c - 1.0, c) for c in closes])


Declare = Callable[[Strategy], object]


def first_bars(
    market: MarketData,
    declare: Declare,
    *,
    warmup: WarmupSetting | str = "automatic",
    config: RunConfig | None = None,
    probe: Callable[[Strategy, Bar], Any] | None = None,
) -> tuple[list[int], list[Any], RunResult]:
    """The bar indexes on_data saw, what `probe` returned on each, and the result."""
    seen: list[int] = []
    probed: list[Any] = []

    class Recorder(Strategy):
        def initialize(self) -> None:
            declare(self)

        def on_data(self, bar: Bar) -> None:
            seen.append(bar.index)
            if probe is not None:
                probed.append(probe(self, bar))

    if warmup != "automatic":
        Recorder.warmup = warmup
    result = run_backtest(Recorder, market, config or RunConfig())
    return seen, probed, result


def sma(length: int) -> Declare:
    def declare(strategy: Strategy) -> None:
        strategy.values = strategy.indicator("sma", length=length)  # type: ignore[attr-defined]

    return declare


def test_on_data_starts_at_the_first_bar_every_indicator_has_a_value(
    make_market: MarketBuilder,
) -> None:
    def declare(strategy: Strategy) -> None:
        strategy.indicator("sma", length=10)  # first value at bar 9
        strategy.indicator("sma", length=20)  # first value at bar 19: the last to arrive

    seen, _, result = first_bars(wavy(make_market), declare)
    assert seen == list(range(19, BARS))
    assert result.metrics["warmup_bars"] == 19
    (line,) = [log for log in result.logs if log.message.startswith("warm-up")]
    assert line.message == (
        "warm-up: 19 bars; on_data starts with this bar (19 of the data): "
        "sma(length=20) has its first value"
    )
    assert line.bar_index == 19  # stamped with that bar: no line tells of a later one


def test_a_multi_column_indicator_waits_for_its_slowest_steady_column(
    make_market: MarketBuilder,
) -> None:
    # macd 12/26/9: the MACD line has its first value at bar 25 (26 - 1), the signal (an EMA
    # of 9 MACD values) at bar 25 + 8 = 33, the histogram with it.
    seen, _, _ = first_bars(wavy(make_market), lambda s: s.indicator("macd"))
    assert seen[0] == 33


def test_columns_nan_by_design_are_not_waited_for(make_market: MarketBuilder) -> None:
    # On a rising market supertrend's short line (SUPERTs) never has a value; with the long
    # line (from bar 6) it is one column pair. The line has values from bar 6, the direction
    # from bar 7: on_data starts there.
    market = make_market([100.0 + i for i in range(60)])
    columns = compute_indicator(market.to_frame(), "supertrend", {})
    first = {name: int(np.argmin(np.isnan(v))) for name, v in columns.items()}
    assert np.isnan(columns["SUPERTs_7_3.0"]).all()
    assert (first["SUPERT_7_3.0"], first["SUPERTd_7_3.0"]) == (6, 7)
    seen, _, _ = first_bars(market, lambda s: s.indicator("supertrend"))
    assert seen[0] == 7


def test_a_higher_timeframe_view_waits_for_its_first_closed_bar(
    make_market: MarketBuilder,
) -> None:
    # 1h bars from 00:00: the 4h bar 00:00-04:00 has closed once bar 3 (03:00-04:00) closes.
    seen, _, _ = first_bars(wavy(make_market), lambda s: s.timeframe("4h"))
    assert seen[0] == 3


def test_a_higher_timeframe_indicator_waits_until_its_first_value_has_closed(
    make_market: MarketBuilder,
) -> None:
    # sma(3) on 4h bars has its first value on the third 4h bar, 08:00-12:00, closed at the
    # close of the 1h bar 11 (11:00-12:00).
    seen, _, _ = first_bars(
        wavy(make_market), lambda s: s.indicator("sma", length=3, timeframe="4h")
    )
    assert seen[0] == 11


@pytest.mark.parametrize(
    ("warmup", "first"),
    [
        pytest.param(0, 0, id="off"),
        pytest.param(5, 5, id="fewer-bars-than-the-indicators-need"),
        pytest.param(50, 50, id="bars"),
        pytest.param("1d", 24, id="a-day-of-hourly-bars"),
        pytest.param("90m", 2, id="the-first-bar-at-or-after-90-minutes"),
        pytest.param(None, 19, id="none-is-automatic"),
    ],
)
def test_a_strategy_sets_its_own_warmup(
    make_market: MarketBuilder, warmup: WarmupSetting, first: int
) -> None:
    seen, _, result = first_bars(wavy(make_market), sma(20), warmup=warmup)
    assert seen[0] == first
    assert result.metrics["warmup_bars"] == first


def test_warmup_may_be_set_in_initialize_from_the_params(make_market: MarketBuilder) -> None:
    seen: list[int] = []

    class TwiceSlow(Strategy):
        params: ClassVar[dict[str, Any]] = {"slow": 20}

        def initialize(self) -> None:
            self.slow = self.indicator("sma", length=self.params["slow"])
            self.warmup = self.params["slow"] * 2  # type: ignore[misc]

        def on_data(self, bar: Bar) -> None:
            seen.append(bar.index)

    run_backtest(TwiceSlow, wavy(make_market), RunConfig())
    assert seen[0] == 40


def test_is_ready_tells_a_strategy_that_opted_out_when_a_series_has_values(
    make_market: MarketBuilder,
) -> None:
    def probe(strategy: Strategy, bar: Bar) -> tuple[bool, bool, bool]:
        values = strategy.values  # type: ignore[attr-defined]
        return (
            strategy.is_ready(values),
            strategy.is_ready(values, bars=2),
            strategy.is_ready(strategy.data.close, bars=2),
        )

    _, probed, _ = first_bars(wavy(make_market), sma(20), warmup=0, probe=probe)
    assert [p[0] for p in probed[17:21]] == [False, False, True, True]  # bars 17..20
    assert [p[1] for p in probed[17:21]] == [False, False, False, True]
    assert probed[0][2] is False and probed[1][2] is True  # close[-2] exists from bar 1


def test_is_ready_refuses_what_is_not_a_series(make_market: MarketBuilder) -> None:
    def probe(strategy: Strategy, bar: Bar) -> list[str]:
        errors = []
        for series, bars in (([1.0], 1), (strategy.data.close, 0)):
            try:
                strategy.is_ready(series, bars=bars)  # type: ignore[arg-type]
            except TypeError as error:
                errors.append(str(error))
        return errors

    _, probed, _ = first_bars(make_market([100.0] * 3), lambda s: None, probe=probe)
    assert probed[0][0].startswith("is_ready takes a series or indicator")
    assert probed[0][1] == "is_ready(x, bars=N): N is a whole number of bars, 1 or more"


def test_bars_before_the_start_warm_up_too(make_market: MarketBuilder) -> None:
    market = wavy(make_market)
    late = RunConfig(start=int(market.time[30]))
    seen, _, result = first_bars(market, sma(20), config=late)
    assert (seen[0], result.metrics["warmup_bars"]) == (30, 0)  # a walk-forward test window

    early = RunConfig(start=int(market.time[10]))
    seen, _, result = first_bars(market, sma(20), config=early)
    assert (seen[0], result.metrics["warmup_bars"]) == (19, 9)
    assert result.metrics["bars"] == BARS - 10


def test_an_indicator_that_never_has_a_value_means_on_data_never_runs(
    make_market: MarketBuilder,
) -> None:
    seen, _, result = first_bars(make_market([100.0 + i for i in range(50)]), sma(200))
    assert seen == []
    assert result.metrics["warmup_bars"] == 50
    assert result.trades == ()
    (line,) = result.logs
    assert line.message.startswith(
        "warm-up never ends: sma(length=200) has no value on any of the 50 bars"
    )
    assert line.message.endswith("; on_data was never called")
    assert line.bar_index == 49  # told at the end, where it is known


def test_equity_and_metrics_cover_the_warmup_bars(make_market: MarketBuilder) -> None:
    class Cross(Strategy):
        def initialize(self) -> None:
            self.fast = self.indicator("sma", length=5)
            self.slow = self.indicator("sma", length=20)

        def on_data(self, bar: Bar) -> None:
            if crossover(self.fast, self.slow):
                self.close_position()
                self.buy(1.0)
            elif crossover(self.slow, self.fast):
                self.close_position()
                self.sell(1.0)

    config = RunConfig(cash=10_000.0)
    result = run_backtest(Cross, wavy(make_market), config)
    assert len(result.equity.equity) == result.metrics["bars"] == BARS
    assert (result.equity.equity[:20] == 10_000.0).all()
    assert result.trades and result.trades[0].entry_time > int(wavy(make_market).time[19])


@pytest.mark.parametrize(
    ("warmup", "words"),
    [
        (-1, "warmup = -1 is negative"),
        (1.5, "warmup = 1.5 is not understood"),
        (True, "warmup = True is not understood"),
        ("soon", "warmup = 'soon' is not a duration"),
        ("1M", "months vary in length"),
    ],
)
def test_a_warmup_the_engine_cannot_read_is_refused_in_one_sentence(
    make_market: MarketBuilder, warmup: object, words: str
) -> None:
    with pytest.raises(StrategyDefinitionError, match=words):
        first_bars(make_market([100.0] * 5), sma(2), warmup=warmup)  # type: ignore[arg-type]


WARMUP_SOURCE = """
class Cross(Strategy):
    params = {"fast": 5, "slow": 20}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"], timeframe="2h")

    def on_data(self, bar):
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(1.0)
"""


def test_the_sandboxed_run_has_the_same_warmup(make_market: MarketBuilder) -> None:
    market = wavy(make_market)
    from sandbox.compile import compile_strategy

    compiled = compile_strategy(WARMUP_SOURCE, "cross.py")
    in_process = run_backtest(compiled.strategy_class, market, RunConfig())
    sandboxed = run_sandboxed(WARMUP_SOURCE, market, RunConfig())
    # sma(20) on 2h bars: its first value on the 20th 2h bar (38:00-40:00), closed at 1h bar 39
    assert in_process.metrics["warmup_bars"] == sandboxed.metrics["warmup_bars"] == 39
    assert sandboxed.metrics == in_process.metrics
    assert sandboxed.logs == in_process.logs


@pytest.mark.parametrize(
    ("name", "settings"),
    [("supertrend", {}), ("psar", {}), ("macd", {}), ("bbands", {"length": 20})],
)
def test_cutting_later_bars_never_moves_the_start(
    make_market: MarketBuilder, name: str, settings: dict[str, Any]
) -> None:
    # Only values up to a bar decide whether the warm-up ends there: a long/short pair is one
    # column, so a side the indicator takes later changes nothing before it.
    market = wavy(make_market)
    seen, _, _ = first_bars(market, lambda s: s.indicator(name, **settings))
    start = seen[0]
    for stop in (start + 30, start + 50, BARS - 20):
        cut, _, _ = first_bars(market.slice(0, stop), lambda s: s.indicator(name, **settings))
        assert cut[0] == start, stop
