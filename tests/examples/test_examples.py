"""Every example strategy runs end to end and its result is what the strategy intends."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pandas_ta as ta
import pytest

from app.data import generate_ohlcv
from app.engine import ExitReason, MarketData, Mode, RunConfig, RunResult, align_symbols
from app.engine.indicators import compute_indicator
from sandbox import ForkServer, run_sandboxed, start_worker
from tests.examples.conftest import EXAMPLES_DIR

TAKER = 0.0005


SEVERAL_SYMBOLS = {"relative_strength": "ETHUSDT"}
"""Examples that trade a second symbol beside the frame's (BTCUSDT), and its name."""


def second_symbol(frame: pd.DataFrame) -> pd.DataFrame:
    """An ETHUSDT-like series on the frame's bar times (the ETH sample's generator and seed)."""
    start = frame.index[0].strftime("%Y-%m-%dT%H:%M:%S")
    return generate_ohlcv(
        bars=len(frame), timeframe="1h", start=start, seed=23, start_price=1_200.0
    )


def run_example(
    fork_server: ForkServer, name: str, frame: pd.DataFrame, **config: object
) -> RunResult:
    """The example file's source run as every run is: validated, in a sandbox worker (forked by
    `fork_server`, as the server's job pool forks its workers)."""
    source = (EXAMPLES_DIR / f"{name}.py").read_text()
    settings: dict[str, object] = {"cash": 10_000.0, "fee_taker": TAKER, **config}
    market = MarketData.from_frame(frame)
    if name in SEVERAL_SYMBOLS:
        other = MarketData.from_frame(second_symbol(frame), symbol=SEVERAL_SYMBOLS[name])
        market = align_symbols([market, other])
    run_config = RunConfig(**settings)  # type: ignore[arg-type]
    return run_sandboxed(source, market, run_config, worker=start_worker(fork_server))


def test_every_example_file_is_covered_here() -> None:
    tested = {
        "buy_and_hold",
        "sma_crossover",
        "rsi_mean_reversion",
        "trend_pullback",
        "breakout_sl_tp",
        "high_leverage_liquidation",
        "never_trades",
        "trailing_stop",
        "relative_strength",
    }
    assert {path.stem for path in EXAMPLES_DIR.glob("*.py")} == tested


def test_buy_and_hold_tracks_the_market(
    hourly_frame: pd.DataFrame, fork_server: ForkServer
) -> None:
    result = run_example(fork_server, "buy_and_hold", hourly_frame, mode=Mode.SPOT)
    assert len(result.trades) == 1
    trade = result.trades[0]
    assert trade.exit_reason is ExitReason.END_OF_DATA
    assert trade.entry_price == pytest.approx(hourly_frame["open"].iloc[1])
    assert trade.exit_price == pytest.approx(hourly_frame["close"].iloc[-1])
    market = hourly_frame["close"].iloc[-1] / hourly_frame["open"].iloc[1] - 1
    # 99 % invested, minus two taker fees.
    assert result.metrics["total_return"] == pytest.approx(0.99 * market - 2 * TAKER, abs=2e-3)


def test_sma_crossover_always_holds_one_side_and_flips_on_each_cross(
    hourly_frame: pd.DataFrame, fork_server: ForkServer
) -> None:
    result = run_example(fork_server, "sma_crossover", hourly_frame, funding_rate=0.0)
    trades = result.trades
    assert len(trades) > 20
    for before, after in itertools.pairwise(trades):
        assert before.side != after.side
        assert after.entry_time == before.exit_time
    assert not [line for line in result.logs if "refused" in line.message]


def test_rsi_mean_reversion_buys_only_after_an_oversold_close(
    hourly_frame: pd.DataFrame, fork_server: ForkServer
) -> None:
    result = run_example(fork_server, "rsi_mean_reversion", hourly_frame, mode=Mode.SPOT)
    # The engine's own rsi (pandas-ta without TA-Lib, as every run computes it): in this
    # process TA-Lib is importable and `ta.rsi` would be TA-Lib's, NaN where pandas-ta's is not.
    rsi = compute_indicator(hourly_frame, "rsi", {"length": 14})["RSI_14"]
    times = hourly_frame.index.as_unit("ns").asi8
    assert len(result.trades) >= 5
    for trade in result.trades:
        assert trade.side.value == "long"
        signal_bar = int(np.searchsorted(times, trade.entry_time)) - 1
        assert rsi[signal_bar] < 30


def test_trend_pullback_trades_both_ways_at_its_leverage(
    hourly_frame: pd.DataFrame, fork_server: ForkServer
) -> None:
    result = run_example(fork_server, "trend_pullback", hourly_frame)
    assert {trade.side.value for trade in result.trades} == {"long", "short"}
    entry_times = {trade.entry_time for trade in result.trades}
    entries = [o for o in result.orders if o.filled_time in entry_times and o.leverage != 1.0]
    assert entries and all(order.leverage == 2.0 for order in entries)
    for trade in result.trades:  # each slice put up half its notional as margin
        assert trade.size * trade.entry_price / trade.margin == pytest.approx(2.0, rel=1e-9)


def test_breakout_exits_only_through_its_stop_or_target(
    hourly_frame: pd.DataFrame, fork_server: ForkServer
) -> None:
    result = run_example(fork_server, "breakout_sl_tp", hourly_frame)
    reasons = {trade.exit_reason for trade in result.trades}
    assert ExitReason.STOP_LOSS in reasons and ExitReason.TAKE_PROFIT in reasons
    assert reasons <= {ExitReason.STOP_LOSS, ExitReason.TAKE_PROFIT, ExitReason.END_OF_DATA}
    for trade in result.trades:
        if trade.exit_reason is ExitReason.STOP_LOSS:
            assert trade.pnl < 0
        elif trade.exit_reason is ExitReason.TAKE_PROFIT:
            assert trade.pnl > 0


def test_high_leverage_is_liquidated_and_loses_exactly_its_margin(
    hourly_frame: pd.DataFrame, fork_server: ForkServer
) -> None:
    result = run_example(fork_server, "high_leverage_liquidation", hourly_frame, funding_rate=0.0)
    liquidated = [t for t in result.trades if t.exit_reason is ExitReason.LIQUIDATION]
    assert result.metrics["liquidations"] == len(liquidated) >= 3
    for trade in liquidated:
        notional = trade.size * trade.entry_price
        assert trade.pnl == pytest.approx(-(notional / 100 + notional * TAKER))
        # Binance isolated LP with tier 1 (MMR 0.4 %, amount 0) and margin = notional / 100:
        # LP = EP x (1 - s/100) / (1 - s x 0.004)
        side = 1 if trade.side.value == "long" else -1
        expected = trade.entry_price * (1 - side / 100) / (1 - side * 0.004)
        assert trade.exit_price == pytest.approx(expected, rel=1e-12)


def test_trailing_stop_rides_the_trend_and_risks_one_percent(
    hourly_frame: pd.DataFrame, fork_server: ForkServer
) -> None:
    result = run_example(fork_server, "trailing_stop", hourly_frame)
    trades = result.trades
    reasons = [trade.exit_reason for trade in trades]
    assert reasons.count(ExitReason.TRAILING_STOP) >= 10
    assert set(reasons) <= {ExitReason.TRAILING_STOP, ExitReason.STOP_LOSS, ExitReason.END_OF_DATA}
    high = hourly_frame["high"].to_numpy()
    frame = hourly_frame
    atr = ta.atr(frame["high"], frame["low"], frame["close"], 14, talib=False).to_numpy()
    close = hourly_frame["close"].to_numpy()
    orders = {(o.filled_time, o.reason): o for o in result.orders if o.filled_time is not None}
    for trade in trades:
        signal = trade.entry_index - 1  # the order was placed at the close before its fill
        entry = orders[(trade.entry_time, "")]
        assert entry.stop_loss == pytest.approx(close[signal] - 2 * atr[signal], rel=1e-12)
        # risk sizing: the stop-loss 2 ATR away loses 1 % of the equity the order saw
        risked = trade.size * 2 * atr[signal]
        assert risked == pytest.approx(0.01 * result.equity.equity[signal], rel=1e-9)
        if trade.exit_reason is ExitReason.TRAILING_STOP:
            # 3 ATR behind the best price since the entry: the highest high before the exit
            # bar at least, the exit bar's own high at most
            stop = orders[(trade.exit_time, "trailing_stop")].stop_price
            assert stop is not None
            best_before = high[trade.entry_index : trade.exit_index].max(initial=0.0)
            best_at_most = high[trade.entry_index : trade.exit_index + 1].max()
            distance = 3 * atr[signal]
            assert best_before - distance - 1e-6 <= stop <= best_at_most - distance + 1e-6
            assert trade.exit_price <= stop + 1e-6  # a sell stop: at the level or a gap below


def test_relative_strength_holds_the_stronger_symbol(
    hourly_frame: pd.DataFrame, fork_server: ForkServer
) -> None:
    frame = hourly_frame.iloc[:1_500]
    result = run_example(fork_server, "relative_strength", frame, mode=Mode.SPOT)
    closes = {
        "BTCUSDT": frame["close"],
        "ETHUSDT": second_symbol(frame)["close"].set_axis(frame.index),
    }
    momentum = {symbol: ta.roc(close, length=72).to_numpy() for symbol, close in closes.items()}
    assert len(result.trades) >= 10
    assert {t.symbol for t in result.trades} == {"BTCUSDT", "ETHUSDT"}
    for before, after in itertools.pairwise(result.trades):
        assert after.entry_index > before.exit_index  # one symbol held at a time
    for trade in result.trades:
        decided = trade.entry_index - 1  # bought at the open after the bar that chose it
        leader = (
            "BTCUSDT" if momentum["BTCUSDT"][decided] >= momentum["ETHUSDT"][decided] else "ETHUSDT"
        )
        assert trade.symbol == leader
        assert trade.exit_reason in (ExitReason.SIGNAL, ExitReason.END_OF_DATA)
    per_symbol = {summary.symbol: summary for summary in result.symbols}
    assert sum(s.trades for s in per_symbol.values()) == len(result.trades)
    assert sum(s.net_pnl for s in per_symbol.values()) == pytest.approx(
        sum(t.pnl for t in result.trades)
    )
    assert result.equity.equity[-1] == pytest.approx(10_000.0 + sum(t.pnl for t in result.trades))


def test_never_trades_keeps_its_cash(hourly_frame: pd.DataFrame, fork_server: ForkServer) -> None:
    result = run_example(fork_server, "never_trades", hourly_frame)
    assert result.trades == () and result.orders == ()
    assert np.all(result.equity.equity == 10_000.0)
    assert len(result.logs) == 4  # bars 0, 1000, 2000, 3000


@pytest.mark.parametrize("path", sorted(EXAMPLES_DIR.glob("*.py")), ids=lambda p: Path(p).stem)
def test_examples_are_deterministic(
    path: Path, hourly_frame: pd.DataFrame, fork_server: ForkServer
) -> None:
    first = run_example(fork_server, path.stem, hourly_frame.iloc[:800])
    second = run_example(fork_server, path.stem, hourly_frame.iloc[:800])
    assert first.trades == second.trades
    assert np.array_equal(first.equity.equity, second.equity.equity)
