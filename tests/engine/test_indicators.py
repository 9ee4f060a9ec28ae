"""Indicators: pandas-ta values seen bar by bar, multi-column access, look-ahead refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandas_ta as ta
import pytest

from app.engine import (
    Bar,
    IndicatorError,
    IndicatorFrame,
    MarketData,
    RunConfig,
    SeriesView,
    Strategy,
    StrategyRuntimeError,
    look_ahead_reason,
    run_backtest,
)
from app.engine.indicators import _run_pandas_ta, compute_indicator
from app.engine.repaint import check_prefix_stable

from .scripted import MarketBuilder

BARS = 120


def wavy(make_market: MarketBuilder) -> MarketData:
    t = np.arange(BARS, dtype=np.float64)
    closes = 100 + 10 * np.sin(t / 7) + t / 10
    rows = [(c - 0.3, c + 1.0, c - 1.0, c) for c in closes]
    return make_market(rows)


def values_seen(
    market: MarketData, name: str, column: str | None, **kwargs: Any
) -> tuple[list[float], list[int]]:
    """The indicator's [-1] (optionally one column of it) and its len, after every bar."""
    latest: list[float] = []
    lengths: list[int] = []

    class Reader(Strategy):
        warmup = 0  # every bar, the warm-up's too

        def initialize(self) -> None:
            self.view = self.indicator(name, **kwargs)

        def on_data(self, bar: Bar) -> None:
            view = self.view
            series = view[column] if isinstance(view, IndicatorFrame) and column else view
            assert isinstance(series, SeriesView)
            latest.append(series[-1])
            lengths.append(len(series))

    run_backtest(Reader, market, RunConfig())
    return latest, lengths


@pytest.mark.parametrize(
    ("name", "kwargs", "column", "pandas_ta_column"),
    [
        pytest.param("sma", {"length": 10}, None, "SMA_10", id="sma"),
        pytest.param("rsi", {"length": 14}, None, "RSI_14", id="rsi"),
        pytest.param("macd", {}, "MACDh", "MACDh_12_26_9", id="macd-short-name"),
        pytest.param("macd", {}, "macds", "MACDs_12_26_9", id="macd-short-any-case"),
        pytest.param("macd", {}, "MACDs_12_26_9", "MACDs_12_26_9", id="macd-full-name"),
        pytest.param("macd", {}, "MACD", "MACD_12_26_9", id="macd-line"),
        pytest.param("bbands", {"length": 20}, "BBU", "BBU_20_2.0_2.0", id="bbands-upper"),
        pytest.param("supertrend", {}, "SUPERTd", "SUPERTd_7_3.0", id="supertrend-direction"),
        pytest.param("stochrsi", {}, "STOCHRSIk", "STOCHRSIk_14_14_3_3", id="stochrsi-k"),
    ],
)
def test_indicator_at_each_bar_equals_pandas_ta_on_the_whole_data(
    make_market: MarketBuilder,
    name: str,
    kwargs: dict[str, Any],
    column: str | None,
    pandas_ta_column: str,
) -> None:
    market = wavy(make_market)
    latest, lengths = values_seen(market, name, column, **kwargs)
    frame = market.to_frame()
    expected = getattr(frame.ta, name)(**kwargs)
    expected = expected[pandas_ta_column] if isinstance(expected, pd.DataFrame) else expected
    np.testing.assert_allclose(latest, expected.to_numpy(dtype=np.float64), rtol=1e-12)
    assert lengths == list(range(1, BARS + 1))


def test_multi_column_indicator_lists_its_columns_and_refuses_bare_indexing(
    make_market: MarketBuilder,
) -> None:
    found: list[Any] = []

    class Reader(Strategy):
        def initialize(self) -> None:
            self.macd = self.indicator("macd")

        def on_data(self, bar: Bar) -> None:
            if bar.index == BARS - 1:
                found.append(self.macd.columns)  # type: ignore[union-attr]
                for key in (-1, "nope"):
                    try:
                        self.macd[key]  # type: ignore[index]
                    except (TypeError, KeyError) as error:
                        found.append(str(error))

    run_backtest(Reader, wavy(make_market), RunConfig())
    columns, not_a_name, unknown = found
    assert columns == ["MACD_12_26_9", "MACDh_12_26_9", "MACDs_12_26_9"]
    assert "pick one by name first" in not_a_name
    assert "has no column 'nope'" in unknown


def test_same_indicator_declared_twice_is_computed_once(make_market: MarketBuilder) -> None:
    same: list[bool] = []

    class Twice(Strategy):
        def initialize(self) -> None:
            same.append(self.indicator("sma", length=5) is self.indicator("SMA", length=5))

        def on_data(self, bar: Bar) -> None:
            pass

    run_backtest(Twice, wavy(make_market), RunConfig())
    assert same == [True]


LOOK_AHEAD = [
    pytest.param("sma", {"length": 5, "offset": -2}, "negative offset", id="negative-offset"),
    pytest.param("dpo", {"length": 10}, "'dpo' is centred by default", id="dpo-default"),
    pytest.param("dpo", {"length": 10, "centered": True}, "centred", id="dpo-centred"),
    pytest.param("zigzag", {}, "repaints", id="zigzag"),
    pytest.param("tos_stdevall", {}, "whole data set", id="tos-stdevall"),
    pytest.param("ichimoku", {}, "chikou", id="ichimoku-chikou"),
]


@pytest.mark.parametrize(("name", "kwargs", "why"), LOOK_AHEAD)
def test_look_ahead_settings_are_refused_before_the_run(
    make_market: MarketBuilder, name: str, kwargs: dict[str, Any], why: str
) -> None:
    reason = look_ahead_reason(name, kwargs)
    assert reason is not None and why in reason

    class Peeking(Strategy):
        def initialize(self) -> None:
            self.indicator(name, **kwargs)

        def on_data(self, bar: Bar) -> None:
            pass

    with pytest.raises(IndicatorError, match="refused"):
        run_backtest(Peeking, wavy(make_market), RunConfig())


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("dpo", {"length": 10, "centered": False}),
        ("sma", {"length": 5, "offset": 2}),
        ("ichimoku", {"include_chikou": False}),
    ],
)
def test_causal_settings_of_those_indicators_are_allowed(name: str, kwargs: dict[str, Any]) -> None:
    assert look_ahead_reason(name, kwargs) is None


def test_values_that_change_when_later_bars_arrive_are_refused(
    make_market: MarketBuilder,
) -> None:
    # The prefix check recomputes on prefixes: a value that differs there repaints.
    frame = wavy(make_market).to_frame()
    honest = compute_indicator(frame, "sma", {"length": 5})
    (column,) = honest
    repainted = honest[column].copy()
    repainted[30] += 1.0
    with pytest.raises(IndicatorError, match="value at bar 30 changes when later bars"):
        check_prefix_stable(frame, "sma", {"length": 5}, {column: repainted}, _run_pandas_ta)


def test_unknown_indicator_suggests_the_close_names(make_market: MarketBuilder) -> None:
    with pytest.raises(IndicatorError, match="unknown indicator 'smaa'; did you mean 'sma'"):
        compute_indicator(wavy(make_market).to_frame(), "smaa", {})


def test_indicators_cannot_be_declared_after_initialize(make_market: MarketBuilder) -> None:
    class Late(Strategy):
        def on_data(self, bar: Bar) -> None:
            self.indicator("sma", length=3)

    with pytest.raises(StrategyRuntimeError, match="IndicatorError: indicators are declared in"):
        run_backtest(Late, wavy(make_market), RunConfig())


def test_pandas_ta_sma_is_the_reference_used_here() -> None:
    # Guards the cross-check's assumption: pandas-ta's sma is the plain rolling mean.
    closes = pd.Series(np.arange(1.0, 11.0))
    np.testing.assert_allclose(ta.sma(closes, 3).to_numpy()[2:], np.arange(2.0, 10.0))
