"""What a strategy can read: series end at the current bar, whichever way they are reached."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.engine import (
    Bar,
    IndicatorFrame,
    MarketData,
    RunConfig,
    SeriesView,
    Strategy,
    run_backtest,
)

from .scripted import MarketBuilder

BARS = 60
# Bar i trades only at 1,000 + i: any value above 1,000 + k read at bar k came from the future.
RISING = [1_000.0 + i for i in range(BARS)]

Probe = Callable[[Any, Bar], Any]  # the strategy, typed Any to reach `views`


def probe_each_bar(
    market: MarketData, probe: Probe, *indicators: tuple[str, dict[str, Any]]
) -> list[Any]:
    """Run `probe(strategy, bar)` after every bar; indicators declared go in `strategy.views`."""
    seen: list[Any] = []

    class Probing(Strategy):
        warmup = 0  # every bar, the warm-up's too

        def initialize(self) -> None:
            self.views = [self.indicator(name, **kwargs) for name, kwargs in indicators]

        def on_data(self, bar: Bar) -> None:
            seen.append(probe(self, bar))

    run_backtest(Probing, market, RunConfig())
    return seen


def test_minus_one_is_the_current_bar_and_minus_two_the_previous(
    make_market: MarketBuilder,
) -> None:
    seen = probe_each_bar(
        make_market(RISING),
        lambda s, bar: (
            bar.index,
            s.data.close[-1],
            s.data.close[-2] if bar.index else None,
            bar.close,
        ),
    )
    for index, now, before, bar_close in seen:
        assert now == bar_close == 1_000.0 + index
        assert before == (999.0 + index if index else None)


def test_integer_indexes_past_the_current_bar_raise(make_market: MarketBuilder) -> None:
    def reach(s: Strategy, bar: Bar) -> list[str]:
        close = s.data.close
        outcomes = []
        # one past now (as len and as index), the last bar of the data, one before the first
        for key in (len(close), bar.index + 1, BARS - 1, -(bar.index + 2)):
            try:
                close[key]
                outcomes.append(f"read {key}")
            except IndexError:
                outcomes.append("refused")
        return outcomes

    seen = probe_each_bar(make_market(RISING), reach)
    # (at the last bar, BARS - 1 is the current bar and readable)
    assert all(outcomes == ["refused"] * 4 for outcomes in seen[:-1])
    assert seen[-1] == ["refused", "refused", f"read {BARS - 1}", "refused"]
    # Absolute index 0 is the first bar, and stays reachable.
    assert probe_each_bar(make_market(RISING), lambda s, _: s.data.close[0])[5] == 1_000.0


def test_slices_iteration_arrays_and_len_end_at_the_current_bar(
    make_market: MarketBuilder,
) -> None:
    def everything(s: Strategy, bar: Bar) -> dict[str, Any]:
        close = s.data.close
        return {
            "len": len(close),
            "data_len": len(s.data),
            "all": close[:],
            "huge": close[0 : 10**9],
            "tail": close[-3:],
            "iter": list(close),
            "array": np.asarray(close),
            "values": close.values,
            "list": close.to_list(),
            "float": float(close),
            "index": bar.index,
        }

    for seen in probe_each_bar(make_market(RISING), everything):
        k, newest = seen["index"], 1_000.0 + seen["index"]
        assert seen["len"] == seen["data_len"] == k + 1
        for name in ("all", "huge", "iter", "array", "values", "list"):
            assert len(seen[name]) == k + 1, name
            assert max(seen[name]) == newest, name
        assert list(seen["tail"]) == [v for v in (newest - 2, newest - 1, newest) if v >= 1_000]
        assert seen["float"] == newest


def test_arrays_handed_out_are_read_only_or_copies(make_market: MarketBuilder) -> None:
    def tamper(s: Strategy, bar: Bar) -> float:
        window = s.data.close[:]
        with pytest.raises(ValueError, match="read-only"):
            window[-1] = 0.0
        copy = np.asarray(s.data.close)
        copy[-1] = 0.0
        return float(s.data.close[-1])

    seen = probe_each_bar(make_market(RISING[:5]), tamper)
    assert seen == RISING[:5]


def test_data_view_and_bar_describe_only_the_current_bar(make_market: MarketBuilder) -> None:
    market = make_market(RISING)
    seen = probe_each_bar(
        market,
        lambda s, bar: (
            bar.index,
            s.data.time,
            bar.time,
            bar.high,
            s.data.high[-1],
            s.data.volume[-1],
        ),
    )
    for index, data_time, bar_time, bar_high, high, volume in seen:
        expected = pd.Timestamp(int(market.time[index]), unit="ns", tz="UTC").to_pydatetime()
        assert data_time == bar_time == expected
        assert bar_high == high == 1_000.0 + index
        assert volume == 1.0


def _public_numbers(value: Any, depth: int = 0) -> list[float]:
    """Every number reachable from `value` through public attributes, items and iteration
    (bar times are checked on their own: a datetime's fields are not prices)."""
    if depth > 3 or isinstance(value, str | bytes | type | datetime) or callable(value):
        return []
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [float(value)]
    if isinstance(value, np.ndarray):
        return [float(v) for v in value.ravel() if np.isfinite(v)]
    found: list[float] = []
    if isinstance(value, SeriesView | list | tuple):
        found += [n for item in value for n in _public_numbers(item, depth + 1)]
    if isinstance(value, IndicatorFrame):
        found += [n for column in value.columns for n in _public_numbers(value[column], depth + 1)]
    for name in dir(value):
        if name.startswith("_") or isinstance(value, list | tuple):
            continue
        try:
            attribute = getattr(value, name)
        except (AttributeError, IndexError, TypeError):
            continue
        found += _public_numbers(attribute, depth + 1)
    return found


def test_no_public_path_from_the_strategy_reaches_a_future_price(
    make_market: MarketBuilder,
) -> None:
    # OHLC all 1,000 + i: an sma or a Donchian channel of it never exceeds the current price.
    def crawl(s: Any, bar: Bar) -> tuple[int, float]:
        roots = [s.data, s.data.close, s.data.high, bar, s.position, s.open_orders, *s.views]
        return bar.index, max(n for root in roots for n in _public_numbers(root))

    seen = probe_each_bar(
        make_market(RISING),
        crawl,
        ("sma", {"length": 3}),
        ("donchian", {"lower_length": 3, "upper_length": 3}),
    )
    for index, largest in seen:
        assert largest == 1_000.0 + index, index  # the current price, nothing beyond it


def test_warm_up_bars_before_start_feed_indicators_but_are_not_traded(
    make_market: MarketBuilder,
) -> None:
    # start = bar 10: on_data first sees bar 10, whose sma(5) is already (1,006..1,010) / 5.
    market = make_market(RISING)
    seen: list[tuple[int, float]] = []

    class Late(Strategy):
        def initialize(self) -> None:
            sma = self.indicator("sma", length=5)
            assert isinstance(sma, SeriesView)
            self.sma = sma

        def on_data(self, bar: Bar) -> None:
            seen.append((bar.index, float(self.sma[-1])))

    result = run_backtest(Late, market, RunConfig(start=int(market.time[10])))
    assert seen[0] == (10, 1_008.0)
    assert result.bars_total == BARS - 10
    assert int(result.equity.time[0]) == int(market.time[10])


def test_bars_after_end_are_never_seen(make_market: MarketBuilder) -> None:
    market = make_market(RISING)
    largest = probe_each_bar(market, lambda s, _: max(s.data.high), ("sma", {"length": 3}))
    cut_run: list[float] = []

    class Peek(Strategy):
        def on_data(self, bar: Bar) -> None:
            cut_run.append(max(self.data.close))

    run_backtest(Peek, market, RunConfig(end=int(market.time[20])))
    assert cut_run == largest[:21]


def test_snapshots_handed_to_the_strategy_cannot_be_changed(make_market: MarketBuilder) -> None:
    refused: list[str] = []
    after: list[float] = []

    def tamper(s: Strategy, bar: Bar) -> None:
        if bar.index == 0:
            s.buy(1.0, limit=900.0)
        if bar.index == 2:
            for target, name in ((s.position, "size"), (s.open_orders[0], "amount")):
                try:
                    setattr(target, name, 1e9)
                except AttributeError:  # a frozen dataclass / a named tuple
                    refused.append(name)
            after.extend((s.position.size, s.open_orders[0].amount))

    probe_each_bar(make_market([(1_000.0, 1_001.0, 999.0, 1_000.0)] * 4), tamper)
    assert refused == ["size", "amount"]
    assert after == [0.0, 1.0]
