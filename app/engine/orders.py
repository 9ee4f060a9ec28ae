"""Orders: the engine's order book, the tickets strategies hold, and checks of new requests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from app.engine.config import RunConfig
from app.engine.types import Mode, OrderRecord, OrderSide, OrderStatus, OrderType


class OrderTicket(NamedTuple):
    """What `buy`/`sell` return to the strategy: a description it can read and `cancel`.

    Immutable. A named tuple rather than a frozen dataclass: one is made per order, and a
    frozen dataclass costs about four times as much to build.
    """

    id: int
    side: OrderSide
    type: OrderType
    amount: float
    limit: float | None
    stop: float | None
    leverage: float
    stop_loss: float | None
    take_profit: float | None


@dataclass(slots=True)
class Order:
    """A working order inside the engine (mutable; never handed to strategy code)."""

    id: int
    direction: int  # +1 buy, -1 sell
    type: OrderType
    amount: float  # base units; for a percentage close, resolved at fill
    limit: float | None
    stop: float | None
    leverage: float
    stop_loss: float | None
    take_profit: float | None
    created_index: int
    created_time: int
    close_percentage: float | None = None
    status: OrderStatus = OrderStatus.PENDING
    reason: str = ""
    filled_time: int | None = None
    filled_price: float | None = None
    filled_amount: float = 0.0
    fee: float = 0.0

    @property
    def side(self) -> OrderSide:
        return OrderSide.BUY if self.direction > 0 else OrderSide.SELL

    def ticket(self) -> OrderTicket:
        return OrderTicket(
            self.id,
            OrderSide.BUY if self.direction > 0 else OrderSide.SELL,
            self.type,
            self.amount,
            self.limit,
            self.stop,
            self.leverage,
            self.stop_loss,
            self.take_profit,
        )

    def describe(self) -> str:
        what = (
            f"close {self.close_percentage:g}%"
            if self.close_percentage is not None
            else f"{self.side.value} {self.amount:g}"
        )
        price = (
            f" @ {self.limit:g}"
            if self.limit is not None
            else f" stop {self.stop:g}"
            if self.stop is not None
            else ""
        )
        return f"order #{self.id} ({what} {self.type.value}{price})"

    def record(self) -> OrderRecord:
        return OrderRecord(
            self.id,
            self.created_time,
            self.created_index,
            OrderSide.BUY if self.direction > 0 else OrderSide.SELL,
            self.type,
            self.amount,
            self.limit,
            self.stop,
            self.leverage,
            self.stop_loss,
            self.take_profit,
            self.status,
            self.filled_time,
            self.filled_price,
            self.filled_amount,
            self.fee,
            self.reason,
        )


def as_price(value: object, name: str) -> float | None:
    """Coerce an optional price argument; raises ValueError with a trader-readable reason."""
    if value is None:
        return None
    number = as_number(value, name)
    if number <= 0:
        raise ValueError(f"{name} must be a positive price, got {number:g}")
    return number


def as_number(value: object, name: str) -> float:
    """A finite real number (bools and strings are refused) as float."""
    if type(value) is float and value - value == 0.0:  # the hot path: a finite float
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {number}")
    return number


def check_request(
    *,
    direction: int,
    amount: float,
    leverage: float,
    limit: float | None,
    stop: float | None,
    stop_loss: float | None,
    take_profit: float | None,
    reference_price: float,
    position_side: int,
    position_size: float,
    config: RunConfig,
) -> str | None:
    """Why a new order cannot be accepted, or None. Numbers are already coerced and finite."""
    if amount <= 0:
        return f"amount must be positive, got {amount:g}"
    if config.mode is Mode.SPOT and leverage != 1.0:
        return f"spot mode has no leverage (asked {leverage:g}x); use futures mode"
    if not 1.0 <= leverage <= config.leverage_max:
        return f"leverage {leverage:g}x is outside 1x to {config.leverage_max:g}x allowed"
    if limit is not None and stop is not None:
        return "give either limit or stop, not both"
    if config.mode is Mode.SPOT and direction < 0:
        held = position_size if position_side > 0 else 0.0
        if amount > held * (1 + 1e-9):
            return (
                f"spot mode cannot sell {amount:g} when {held:g} is held: shorting needs "
                "futures mode"
            )
    entry = limit if limit is not None else stop if stop is not None else reference_price
    if stop_loss is not None and (stop_loss - entry) * direction >= 0:
        where = "below" if direction > 0 else "above"
        return f"stop_loss {stop_loss:g} must be {where} the entry price {entry:g}"
    if take_profit is not None and (take_profit - entry) * direction <= 0:
        where = "above" if direction > 0 else "below"
        return f"take_profit {take_profit:g} must be {where} the entry price {entry:g}"
    return None
