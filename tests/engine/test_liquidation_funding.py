"""Worked examples: liquidation (isolated margin lost, gap-through at the open) and funding
(8 h instants, longs pay a positive rate, constant or series, settled against the margin)."""

from __future__ import annotations

import pandas as pd
import pytest

from app.engine import ExitReason, LogLevel, Mode

from .scripted import Action, MarketBuilder, OhlcRow, run_script

FLAT: OhlcRow = (100.0, 100.0, 100.0, 100.0)
TAKER = 0.0005
LONG_LP = 90.0 / 0.996  # long 1 @ 100, 10x: (10 - 100) / (0.004 - 1) = 90.3614
SHORT_LP = 110.0 / 1.004  # short 1 @ 100, 10x: (10 + 100) / (0.004 + 1) = 109.5618


@pytest.mark.parametrize(
    ("enter", "bar", "lp"),
    [
        # the low 90 crosses the long's LP 90.36 inside the bar
        pytest.param(
            lambda s: s.buy(1.0, leverage=10), (100, 100, 90, 95), LONG_LP, id="long-inside-bar"
        ),
        # the bar opens at 80, far through the LP: the loss is still the margin
        pytest.param(
            lambda s: s.buy(1.0, leverage=10), (80, 85, 79, 84), LONG_LP, id="long-gap-through-open"
        ),
        # the high 110 crosses the short's LP 109.56
        pytest.param(
            lambda s: s.sell(1.0, leverage=10),
            (100, 110, 100, 105),
            SHORT_LP,
            id="short-inside-bar",
        ),
        pytest.param(
            lambda s: s.sell(1.0, leverage=10),
            (125, 130, 120, 121),
            SHORT_LP,
            id="short-gap-through-open",
        ),
    ],
)
def test_liquidation_loses_the_isolated_margin_plus_entry_fee(
    make_market: MarketBuilder, enter: Action, bar: OhlcRow, lp: float
) -> None:
    # Margin 100 / 10 = 10, entry fee 100 x 0.0005 = 0.05: the trade loses 10.05 and the
    # account ends at 1,000 - 10.05 = 989.95 whatever the price did after the LP.
    market = make_market([FLAT, FLAT, bar, bar])
    result, seen = run_script(market, {0: enter}, cash=1_000.0, fee_taker=TAKER)
    assert seen.positions[1].liquidation_price == pytest.approx(lp)
    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.LIQUIDATION
    assert trade.exit_index == 2
    assert trade.exit_price == pytest.approx(lp)
    assert trade.pnl == pytest.approx(-10.05)
    assert result.metrics["final_equity"] == pytest.approx(989.95)
    assert result.metrics["liquidations"] == 1
    assert result.equity.position[2] == 0.0
    assert any(
        line.level is LogLevel.WARNING and "liquidated" in line.message for line in result.logs
    )


def test_clearance_fee_is_the_margin_left_at_the_liquidation_price(
    make_market: MarketBuilder,
) -> None:
    # At LP 90.3614 the long has lost 9.6386 of its 10 margin; the 0.3614 left is the
    # clearance fee, reported with the entry fee 0.05 in the trade's fees.
    market = make_market([FLAT, FLAT, (100, 100, 90, 95)])
    result, _ = run_script(market, {0: lambda s: s.buy(1.0, leverage=10)}, fee_taker=TAKER)
    (trade,) = result.trades
    assert trade.fees == pytest.approx(0.05 + (10 - (100 - LONG_LP)))


def test_position_survives_a_bar_that_stays_above_the_liquidation_price(
    make_market: MarketBuilder,
) -> None:
    market = make_market([FLAT, FLAT, (100, 100, 90.4, 95), (95, 95, 95, 95)])
    result, _ = run_script(market, {0: lambda s: s.buy(1.0, leverage=10)})
    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.END_OF_DATA
    assert trade.pnl == pytest.approx(-5.0)


# -- funding ----------------------------------------------------------------------------------

HOURS_20 = [FLAT] * 20  # 1 h bars from 2024-01-01 00:00: funding instants at bars 8 and 16


@pytest.mark.parametrize(
    ("enter", "funding_paid"),
    [
        # long 1 @ 100 held over 08:00 and 16:00: 2 x 1 x 100 x 0.0001 = 0.02 paid
        pytest.param(lambda s: s.buy(1.0), 0.02, id="long-pays"),
        # a short receives the same
        pytest.param(lambda s: s.sell(1.0), -0.02, id="short-receives"),
    ],
)
def test_constant_funding_is_paid_at_each_8h_instant(
    make_market: MarketBuilder, enter: Action, funding_paid: float
) -> None:
    market = make_market(HOURS_20)
    result, _ = run_script(market, {0: enter}, funding_rate=0.0001, cash=1_000.0)
    assert result.metrics["funding_paid"] == pytest.approx(funding_paid)
    assert result.metrics["final_equity"] == pytest.approx(1_000.0 - funding_paid)
    # Funding is not in the trade's pnl: the flat price made it 0.
    assert result.trades[0].pnl == 0.0


def test_funding_is_settled_against_the_isolated_margin(make_market: MarketBuilder) -> None:
    # Long 1 @ 100 at 10x: margin 10; at 08:00 it pays 0.01 -> 9.99, cash untouched; the LP
    # rises to (9.99 - 100) / (0.004 - 1) = 90.3715.
    market = make_market(HOURS_20)
    result, seen = run_script(
        market, {0: lambda s: s.buy(1.0, leverage=10)}, funding_rate=0.0001, cash=1_000.0
    )
    assert result.equity.margin[7] == pytest.approx(10.0)
    assert result.equity.margin[8] == pytest.approx(9.99)
    assert result.equity.cash[8] == result.equity.cash[7]
    assert seen.positions[8].liquidation_price == pytest.approx(90.01 / 0.996)


def test_funding_from_a_rate_series_uses_the_rate_in_force_at_each_instant(
    make_market: MarketBuilder,
) -> None:
    # Rates: 00:00 +0.0001, 08:00 -0.0002, 16:00 +0.0003. A long @ 100 from 01:00:
    # 08:00: 100 x -0.0002 = -0.02 (received); 16:00: 100 x 0.0003 = 0.03; net 0.01.
    times = pd.date_range("2024-01-01", periods=3, freq="8h", tz="UTC")
    rates = pd.Series([0.0001, -0.0002, 0.0003], index=times)
    market = make_market(HOURS_20, funding=rates)
    # The constant rate (the largest allowed, 3 % per interval) is ignored: the series rules.
    result, _ = run_script(market, {0: lambda s: s.buy(1.0)}, funding_rate=0.03)
    assert result.metrics["funding_paid"] == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("interval_h", "payments"),
    [(8, 2), (4, 4), (1, 18)],  # 01:00 to 19:00 holds 2, 4 or 18 instants (02:00 .. 19:00)
)
def test_funding_interval_sets_the_instants(
    make_market: MarketBuilder, interval_h: int, payments: int
) -> None:
    market = make_market(HOURS_20)
    result, _ = run_script(
        market, {0: lambda s: s.buy(1.0)}, funding_rate=0.0001, funding_interval_h=interval_h
    )
    assert result.metrics["funding_paid"] == pytest.approx(payments * 0.01)


def test_daily_bars_settle_every_instant_the_bar_spans(make_market: MarketBuilder) -> None:
    # 1 d bars: bar 2's open settles 08:00, 16:00 of day 1 and 00:00 of day 2; so does bar 3.
    market = make_market([FLAT] * 4, freq="1D")
    result, _ = run_script(market, {0: lambda s: s.buy(1.0)}, funding_rate=0.0001)
    assert result.metrics["funding_paid"] == pytest.approx(6 * 0.01)


def test_position_opened_at_a_funding_open_pays_nothing_for_that_instant(
    make_market: MarketBuilder,
) -> None:
    # Ordered at 07:00, filled at 08:00's open after the 08:00 funding is settled; the 16:00
    # instant is paid: 0.01.
    market = make_market(HOURS_20)
    result, _ = run_script(market, {7: lambda s: s.buy(1.0)}, funding_rate=0.0001)
    assert result.metrics["funding_paid"] == pytest.approx(0.01)


def test_spot_positions_pay_no_funding(make_market: MarketBuilder) -> None:
    market = make_market(HOURS_20)
    result, _ = run_script(market, {0: lambda s: s.buy(1.0)}, funding_rate=0.0001, mode=Mode.SPOT)
    assert result.metrics["funding_paid"] == 0.0


def test_funding_that_drains_the_margin_liquidates_and_the_loss_stays_the_margin(
    make_market: MarketBuilder,
) -> None:
    # Long 1 @ 100 at 50x: margin 2. The 08:00 rate 0.02 charges 2, leaving 0: the LP becomes
    # (0 - 100) / (0.004 - 1) = 100.40, above the open 100, so it is liquidated at 08:00.
    # Total loss 2 = funding 2 + trade pnl 0 (no fees).
    times = pd.date_range("2024-01-01", periods=2, freq="8h", tz="UTC")
    market = make_market(HOURS_20, funding=pd.Series([0.0, 0.02], index=times))
    result, _ = run_script(market, {0: lambda s: s.buy(1.0, leverage=50)}, cash=1_000.0)
    (trade,) = result.trades
    assert (trade.exit_reason, trade.exit_index) == (ExitReason.LIQUIDATION, 8)
    assert result.metrics["funding_paid"] == pytest.approx(2.0)
    assert trade.pnl == pytest.approx(0.0, abs=1e-12)
    assert result.metrics["final_equity"] == pytest.approx(998.0)


def test_position_opened_by_a_resting_fill_is_liquidated_by_that_bars_close(
    make_market: MarketBuilder,
) -> None:
    # Buy stop 100 at 10x fills in bar 1 (open 99, high 101); LP 90.36. Bar 1 closes at 86,
    # below the LP, after the fill: the position was liquidated in bar 1 (loss = margin 10).
    # Bar 2 opening back at 95 must not revive it.
    market = make_market([FLAT, (99, 101, 85, 86), (95, 96, 94, 95)])
    result, _ = run_script(market, {0: lambda s: s.buy(1.0, leverage=10, stop=100)}, cash=1_000.0)
    assert result.equity.equity[1] >= 1_000.0 - 10.0
    (trade,) = result.trades
    assert (trade.exit_reason, trade.exit_index) == (ExitReason.LIQUIDATION, 1)


def test_resting_close_past_the_liquidation_price_in_the_fill_bar_is_a_liquidation(
    make_market: MarketBuilder,
) -> None:
    # Buy stop 100 at 10x (LP 90.36) and a sell stop 85, both placed at bar 0. In bar 1
    # (99..101..84) the engine fills them in the order placed: long at 100, then out at 85,
    # a loss of 15 on a margin of 10. On the way from 100 to 85 the price crossed the LP, so
    # the position was liquidated there and lost its margin, 10.
    market = make_market([FLAT, (99, 101, 84, 95), (95, 95, 95, 95)])
    result, _ = run_script(
        market,
        {0: [lambda s: s.buy(1.0, leverage=10, stop=100), lambda s: s.sell(1.0, stop=85)]},
        cash=1_000.0,
    )
    assert result.trades[0].exit_reason is ExitReason.LIQUIDATION
    assert result.trades[0].pnl == pytest.approx(-10.0)
