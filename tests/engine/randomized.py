"""Random markets and a random trader for the property tests, both driven by seeds."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from app.engine import Bar, MarketData, OrderTicket, ParamValue, SeriesView, Strategy


def random_market(seed: int, bars: int, *, gap_chance: float, freq: str = "1h") -> MarketData:
    """A positive OHLC path near 100: Gaussian log returns, some opens gapping away from the
    previous close, wicks beyond the body."""
    rng = np.random.default_rng(seed)
    volatility = rng.uniform(0.002, 0.04)
    closes = 100.0 * np.exp(np.cumsum(rng.normal(0.0, volatility, bars)))
    gaps = np.where(rng.random(bars) < gap_chance, rng.normal(0.0, 4 * volatility, bars), 0.0)
    opens = np.concatenate(([100.0], closes[:-1])) * np.exp(gaps)
    wick_up = np.abs(rng.normal(0.0, volatility, bars))
    wick_down = np.abs(rng.normal(0.0, volatility, bars))
    highs = np.maximum(opens, closes) * np.exp(wick_up)
    lows = np.minimum(opens, closes) * np.exp(-wick_down)
    index = pd.date_range("2024-01-01", periods=bars, freq=freq, tz="UTC", name="time")
    frame = pd.DataFrame(
        {"open": opens, "high": highs, "low": lows, "close": closes, "volume": 1.0}, index=index
    )
    return MarketData.from_frame(frame)


def cut(market: MarketData, bars: int) -> MarketData:
    """The first `bars` bars of `market`, as if the later ones had not happened yet."""
    return MarketData(
        time=market.time[:bars].copy(),
        open=market.open[:bars].copy(),
        high=market.high[:bars].copy(),
        low=market.low[:bars].copy(),
        close=market.close[:bars].copy(),
        volume=market.volume[:bars].copy(),
        symbol=market.symbol,
    )


@dataclass
class AccountSeen:
    """What the strategy's own API reported after each bar."""

    cash: list[float] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)
    unrealized: list[float] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    size: list[float] = field(default_factory=list)


LEVERAGES = (1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0)


class RandomTrader(Strategy):
    """Places random market, limit and stop orders (with random SL/TP), partial closes and
    cancels, from `params["seed"]`; reads only what the strategy API offers. With
    `resting_orders` False it places market orders only."""

    params: ClassVar[dict[str, ParamValue]] = {
        "seed": 0,
        "leverage": 1.0,
        "activity": 0.3,
        "resting_orders": True,
    }

    seen: AccountSeen | None = None  # set on a subclass by `trader_class`

    def initialize(self) -> None:
        self.rng = random.Random(int(self.params["seed"]))
        self.sma = self.indicator("sma", length=5)
        self.tickets: list[OrderTicket] = []

    def on_data(self, bar: Bar) -> None:
        self._record()
        if self.rng.random() >= float(self.params["activity"]):
            return
        price = self.data.close[-1]
        roll = self.rng.random()
        if roll < 0.1 and self.tickets:
            self.cancel(self.rng.choice(self.tickets))
        elif roll < 0.25:
            self.close_position(self.rng.choice((25.0, 50.0, 100.0)))
        else:
            self._place(price)

    def _place(self, price: float) -> None:
        rng = self.rng
        leverage = float(self.params["leverage"])
        trend = self.sma
        above = isinstance(trend, SeriesView) and price > trend[-1]
        direction = 1 if (rng.random() < 0.5) != above else -1
        amount = rng.uniform(0.05, 1.1) * self.get_cash() * leverage / price
        kinds = ("market", "limit", "stop") if self.params["resting_orders"] else ("market",)
        kind = rng.choice(kinds)
        offset = rng.uniform(0.0, 0.03) * price
        entry = price
        options: dict[str, Any] = {}
        if kind == "limit":
            entry = price - direction * offset
            options["limit"] = entry
        elif kind == "stop":
            entry = price + direction * offset
            options["stop"] = entry
        if rng.random() < 0.4:
            options["stop_loss"] = entry * (1 - direction * rng.uniform(0.005, 0.2))
        if rng.random() < 0.4:
            options["take_profit"] = entry * (1 + direction * rng.uniform(0.005, 0.2))
        if direction > 0:
            ticket = self.buy(amount, leverage=leverage, **options)
        else:
            size = self.get_position_size()
            if leverage == 1.0 and size > 0 and rng.random() < 0.5:
                amount = size  # in spot mode, a sell of what is held
            ticket = self.sell(amount, leverage=leverage, **options)
        if ticket is not None:
            self.tickets.append(ticket)

    def _record(self) -> None:
        seen = type(self).seen
        if seen is None:
            return
        position = self.position
        seen.cash.append(self.get_cash())
        seen.margin.append(position.margin)
        seen.unrealized.append(position.unrealized_pnl)
        seen.equity.append(self.get_equity())
        seen.size.append(self.get_position_size())


def trader_class(seen: AccountSeen) -> type[RandomTrader]:
    """A RandomTrader whose after-bar account readings go to `seen`."""
    # warmup = 0: readings after every bar, its sma's warm-up too
    return type("RecordingTrader", (RandomTrader,), {"seen": seen, "warmup": 0})
