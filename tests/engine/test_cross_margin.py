"""Cross margin (app/engine/cross_margin.py): one wallet backs every position, so a
position's liquidation price moves with the other positions' unrealised PnL and maintenance
(Binance's cross formula), checked against hand numbers.

Worked example: cash 300, no fees, brackets 0.4 % cum 0 below 50,000. Bar 0 orders BTC long
10 at 10x (margin 100) and ETH long 10 at 5x (margin 100), filled at bar 1's opens 100 and 50:
cash 100, wallet balance WB = 100 + 100 + 100 = 300.
  BTC's LP, ETH at 50: (WB - TMM_eth + UPNL_eth - 10 x 100) / (10 x 0.004 - 10)
                       = (300 - 2 + 0 - 1,000) / -9.96 = 70.4819...
  ETH falls to 40 (bar 2): TMM_eth = 400 x 0.004 = 1.6, UPNL_eth = -100:
                       (300 - 1.6 - 100 - 1,000) / -9.96 = 80.4819...
Bar 3 BTC's low 85 stays above it (isolated, its LP would be (100 - 1,000) / -9.96 = 90.36,
liquidated); bar 4's low 79 reaches it: BTC is liquidated at 80.4819, its clearance fee the
maintenance there (10 x 80.4819 x 0.004 = 3.2193), the price loss 195.18 taken from the
wallet: cash 100 + 100 - 195.1807 - 3.2193 = 1.6 (exactly ETH's maintenance at 40). ETH is
closed at the end at 42: cash 1.6 + 100 - 80 = 21.6.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.engine import ExitReason, MarketData, Mode, align_symbols
from tests.engine.scripted import QUIET, Observed, run_script

OhlcRow = tuple[float, float, float, float]
LP_ETH_50 = (300 - 2 - 1_000) / (10 * 0.004 - 10)
LP_ETH_40 = (300 - 1.6 - 100 - 1_000) / (10 * 0.004 - 10)


def market(symbol: str, rows: list[float | OhlcRow]) -> MarketData:
    ohlc = np.array([r if isinstance(r, tuple) else (r, r, r, r) for r in rows], dtype=float)
    index = pd.date_range("2024-01-01", periods=len(ohlc), freq="1h", tz="UTC", name="time")
    frame = pd.DataFrame(ohlc, columns=["open", "high", "low", "close"], index=index)
    frame["volume"] = 1.0
    return MarketData.from_frame(frame, symbol=symbol)


def run(margin_mode: str) -> tuple[Any, Observed]:
    btc = market("BTCUSDT", [100, 100, 100, (100, 100, 85, 95), (95, 95, 79, 80)])
    eth = market("ETHUSDT", [50, 50, 40, 40, 42])
    script = {
        0: [
            lambda s: s.buy(10.0, leverage=10),
            lambda s: s.buy(10.0, leverage=5, symbol="ETHUSDT"),
        ]
    }
    return run_script(
        align_symbols([btc, eth]),
        script,
        mode=Mode.FUTURES,
        leverage_max=20,
        cash=300.0,
        margin_mode=margin_mode,
        **QUIET,
    )


def test_the_liquidation_price_moves_with_the_other_positions_pnl() -> None:
    result, seen = run("cross")
    assert seen.positions[1].liquidation_price == pytest.approx(LP_ETH_50)
    assert seen.positions[2].liquidation_price == pytest.approx(LP_ETH_40)
    btc, eth = result.trades
    assert (btc.symbol, btc.exit_reason, btc.exit_index) == ("BTCUSDT", ExitReason.LIQUIDATION, 4)
    assert btc.exit_price == pytest.approx(LP_ETH_40)
    clearance = 10 * LP_ETH_40 * 0.004
    assert btc.fees == pytest.approx(clearance)
    assert btc.pnl == pytest.approx(10 * (LP_ETH_40 - 100) - clearance)
    assert seen.cash[4] == pytest.approx(1.6)
    assert (eth.symbol, eth.exit_reason, eth.pnl) == ("ETHUSDT", ExitReason.END_OF_DATA, -80.0)
    assert result.equity.equity[-1] == pytest.approx(21.6)
    assert result.metrics["liquidations"] == 1


def test_isolated_margin_liquidates_each_position_on_its_own_margin() -> None:
    # isolated LPs: BTC (1,000 - 100) / 9.96 = 90.36 (bar 3's low 85), ETH (500 - 100) /
    # 9.96 = 40.16 (bar 2 at 40): both lose their own margin, 100 each; cash stays 100
    result, seen = run("isolated")
    by_symbol = {trade.symbol: trade for trade in result.trades}
    assert by_symbol["BTCUSDT"].exit_price == pytest.approx(900 / 9.96)
    assert by_symbol["ETHUSDT"].exit_price == pytest.approx(400 / 9.96)
    assert {t.exit_reason for t in result.trades} == {ExitReason.LIQUIDATION}
    assert result.equity.equity[-1] == pytest.approx(100.0)
    assert seen.positions[1].liquidation_price == pytest.approx(900 / 9.96)


def test_cross_margin_on_one_symbol_uses_the_whole_balance() -> None:
    # cash 300, long 10 at 100 with margin 100: WB 300, LP = (300 - 1,000) / -9.96 = 70.28
    btc = market("BTCUSDT", [100, 100, (100, 100, 75, 80), (80, 80, 70, 72)])
    result, seen = run_script(
        btc,
        {0: lambda s: s.buy(10.0, leverage=10)},
        mode=Mode.FUTURES,
        leverage_max=20,
        cash=300.0,
        margin_mode="cross",
        **QUIET,
    )
    assert seen.positions[1].liquidation_price == pytest.approx(700 / 9.96)
    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.LIQUIDATION and trade.exit_index == 3
    assert trade.exit_price == pytest.approx(700 / 9.96)
    # what is left: the maintenance at the LP, paid as the clearance fee: nothing
    assert result.equity.equity[-1] == pytest.approx(0.0, abs=1e-9)
