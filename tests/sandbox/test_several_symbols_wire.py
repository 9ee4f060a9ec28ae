"""The wire of a run over several symbols: the job carries every symbol's bars, the result
every symbol's account marks and totals, and the parent checks what the worker says against
its own market (symbols it does not trade, totals of other symbols, missing marks)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.engine import (
    Bar,
    MarketData,
    Mode,
    RunConfig,
    Strategy,
    align_symbols,
    simulate,
    summarize,
)
from sandbox import codec
from sandbox.errors import ProtocolError


def market(symbol: str, start_price: float) -> MarketData:
    index = pd.date_range("2024-01-01", periods=30, freq="1h", tz="UTC", name="time")
    close = start_price * (1 + 0.01 * np.sin(np.arange(30)))
    frame = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99}, index=index)
    frame["close"], frame["volume"] = close, 1.0
    return MarketData.from_frame(frame, symbol=symbol)


class Both(Strategy):
    def on_data(self, bar: Bar) -> None:
        if bar.index % 5 == 0:
            self.close_position()
            self.close_position(symbol="ETHUSDT")
        elif bar.index % 5 == 1:
            self.buy(0.1)
            self.sell(1.0, symbol="ETHUSDT")


CONFIG = RunConfig(mode=Mode.FUTURES, fee_maker=0.0, fee_taker=0.0005)


@pytest.fixture
def aligned() -> MarketData:
    return align_symbols([market("BTCUSDT", 40_000.0), market("ETHUSDT", 2_000.0)])


def wire(aligned: MarketData) -> tuple[dict[str, Any], dict[str, Any]]:
    record = simulate(Both, aligned, CONFIG)
    return codec.record_body(record)


def test_the_job_carries_every_symbol(aligned: MarketData) -> None:
    described = codec.market_symbols(aligned)
    rebuilt = codec.market_from_arrays(
        codec.market_arrays(aligned),
        described["symbol"],
        described["other_symbols"],
        described["bars_dropped"],
    )
    assert rebuilt.symbols == ("BTCUSDT", "ETHUSDT")
    assert np.array_equal(rebuilt.other_symbols[0].close, aligned.other_symbols[0].close)


def test_the_result_is_the_run_the_engine_summarizes(aligned: MarketData) -> None:
    body, arrays = wire(aligned)
    result = codec.result_from_frame(body, arrays, aligned, CONFIG)
    expected = summarize(simulate(Both, aligned, CONFIG), aligned, CONFIG)
    assert result.trades == expected.trades
    assert np.array_equal(result.equity.equity, expected.equity.equity)
    assert result.symbols == expected.symbols and len(result.symbols) == 2


def test_a_symbol_the_run_does_not_trade_is_refused(aligned: MarketData) -> None:
    body, arrays = wire(aligned)
    body["trades"]["symbol"] = ["SOLUSDT"] * len(body["trades"]["symbol"])
    with pytest.raises(ProtocolError, match="names a symbol the run does not trade"):
        codec.result_from_frame(body, arrays, aligned, CONFIG)


def test_totals_of_other_symbols_are_refused(aligned: MarketData) -> None:
    body, arrays = wire(aligned)
    body["symbol_totals"][1][0] = "SOLUSDT"
    with pytest.raises(ProtocolError, match="per-symbol totals"):
        codec.result_from_frame(body, arrays, aligned, CONFIG)
    body["symbol_totals"] = body["symbol_totals"][:1]
    with pytest.raises(ProtocolError, match="per-symbol totals"):
        codec.result_from_frame(body, arrays, aligned, CONFIG)


def test_missing_marks_of_a_further_symbol_are_refused(aligned: MarketData) -> None:
    body, arrays = wire(aligned)
    del arrays["marks.symbol0.entry_price"]
    with pytest.raises(ProtocolError):
        codec.result_from_frame(body, arrays, aligned, CONFIG)
