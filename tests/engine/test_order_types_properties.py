"""Invariants with the newer order types in play (trailing stops, OCO pairs, reduce-only,
post-only, ioc/fok, closes by amount, sizes by quote/equity/risk): skipping quiet bars changes
nothing, no order fill is outside its bar, and the account adds up."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine import OrderStatus, ParamValue, RunResult, run_backtest
from app.engine.bar_ranges import BLOCK
from app.engine.broker import Broker

from .randomized import RandomTrader
from .test_properties import PROPERTY_SETTINGS, Scenario, scenarios


class OptionTrader(RandomTrader):
    """RandomTrader's orders, each given some of the newer options at random."""

    params: ClassVar[dict[str, ParamValue]] = {**RandomTrader.params}

    def _place(self, price: float) -> None:
        rng = self.rng
        roll = rng.random()
        options: dict[str, Any] = {"leverage": float(self.params["leverage"])}
        direction = 1 if rng.random() < 0.5 else -1
        if roll < 0.15:
            self.close_position(amount=abs(self.get_position_size()) * rng.uniform(0.1, 1.5) + 1e-3)
            return
        if roll < 0.35:
            options["trailing_percent" if rng.random() < 0.5 else "trailing_stop"] = (
                rng.uniform(0.2, 5.0) if rng.random() < 0.5 else price * rng.uniform(0.002, 0.05)
            )
        size_kind = rng.choice(("amount", "quote", "equity_fraction", "risk"))
        offset = price * rng.uniform(0.0, 0.03)
        kind = rng.choice(("market", "limit", "stop"))
        entry = price
        if kind == "limit":
            entry = options["limit"] = price - direction * offset - direction * 1e-6
            options["post_only"] = rng.random() < 0.3
        elif kind == "stop":
            entry = options["stop"] = price + direction * offset + direction * 1e-6
        if kind != "stop" and rng.random() < 0.2:
            options["time_in_force"] = rng.choice(("ioc", "fok"))
            options.pop("post_only", None)
        if size_kind == "risk" or rng.random() < 0.3:
            options["stop_loss"] = entry * (1 - direction * rng.uniform(0.005, 0.1))
        options.update(self._size(size_kind, price))
        if rng.random() < 0.2 and not any(
            k.startswith("trail") or k == "stop_loss" for k in options
        ):
            options["reduce_only"] = True
        partner = self.open_orders[-1] if self.open_orders and rng.random() < 0.3 else None
        if partner is not None and kind != "market" and "time_in_force" not in options:
            options["oco"] = partner
        place = self.buy if direction > 0 else self.sell
        ticket = place(**options)
        if ticket is not None:
            self.tickets.append(ticket)

    def _size(self, kind: str, price: float) -> dict[str, float]:
        rng = self.rng
        if kind == "amount":
            return {"amount": rng.uniform(0.05, 0.9) * self.get_cash() / price}
        if kind == "quote":
            return {"quote": rng.uniform(0.05, 0.9) * self.get_cash()}
        if kind == "equity_fraction":
            return {"equity_fraction": rng.uniform(0.05, 0.5)}
        return {"risk": rng.uniform(0.001, 0.02)}


def run(scenario: Scenario) -> RunResult:
    return run_backtest(OptionTrader, scenario.market(), scenario.config())


def every_bar_schedule(broker: Broker, index: int) -> None:
    broker.next_work = index


@PROPERTY_SETTINGS
@given(scenarios(), st.integers(BLOCK, 6 * BLOCK))
def test_skipping_quiet_bars_changes_nothing_with_every_order_type(
    scenario: Scenario, bars: int
) -> None:
    scenario = dataclasses.replace(scenario, bars=bars)
    scheduled = run(scenario)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Broker, "_schedule", every_bar_schedule)
        checked = run(scenario)
    assert scheduled.trades == checked.trades
    assert scheduled.orders == checked.orders
    np.testing.assert_array_equal(scheduled.equity.equity, checked.equity.equity)


@PROPERTY_SETTINGS
@given(scenarios())
def test_order_fills_stay_inside_their_bar_and_the_account_adds_up(scenario: Scenario) -> None:
    market = scenario.market()
    result = run(scenario)
    for record in result.orders:
        if record.status is not OrderStatus.FILLED or record.reason == "liquidation":
            continue
        assert record.filled_time is not None and record.filled_price is not None
        index = int(np.searchsorted(market.time, record.filled_time))
        assert market.low[index] - 1e-9 <= record.filled_price <= market.high[index] + 1e-9
    # everything is closed at the end: the final equity is the cash plus every trade's pnl
    # (net of fees) less the funding paid
    funding = result.metrics["funding_paid"]
    assert isinstance(funding, float)
    expected = 10_000.0 + sum(t.pnl for t in result.trades) - funding
    assert result.equity.equity[-1] == pytest.approx(expected, abs=1e-6)
