"""Checks of a strategy's new order request: its numbers coerced, then the account's rules
(amount, leverage bounds, spot limits, stop-loss/take-profit sides) before it becomes an order.
A failed check is a `Refusal` (a `RejectReason` code and a sentence) that the caller records as
an `OrderDenied` event."""

from __future__ import annotations

import math

from app.engine.config import RunConfig
from app.engine.errors import OrderRequestError
from app.engine.events import Refusal, RejectReason
from app.engine.types import Mode


def as_price(value: object, name: str) -> float | None:
    """Coerce an optional price argument; raises OrderRequestError with a trader-readable reason."""
    if value is None:
        return None
    number = as_number(value, name)
    if number <= 0:
        raise OrderRequestError(
            RejectReason.PRICE_NOT_POSITIVE, f"{name} must be a positive price, got {number:g}"
        )
    return number


def as_number(value: object, name: str) -> float:
    """A finite real number (bools and strings are refused) as float; raises OrderRequestError."""
    if type(value) is float and value - value == 0.0:  # the hot path: a finite float
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OrderRequestError(
            RejectReason.NOT_A_NUMBER, f"{name} must be a number, got {type(value).__name__}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise OrderRequestError(
            RejectReason.NOT_FINITE, f"{name} must be a finite number, got {number}"
        )
    return number


def check_percentage(percentage: float) -> Refusal | None:
    """Why a `close_position(percentage)` cannot be accepted, or None."""
    if not 0.0 < percentage <= 100.0:
        return Refusal(
            RejectReason.PERCENTAGE_OUT_OF_RANGE,
            f"percentage must be in (0, 100], got {percentage:g}",
        )
    return None


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
) -> Refusal | None:
    """Why a new order cannot be accepted, or None. Numbers are already coerced and finite."""
    if amount <= 0:
        return Refusal(RejectReason.AMOUNT_NOT_POSITIVE, f"amount must be positive, got {amount:g}")
    if config.mode is Mode.SPOT and leverage != 1.0:
        return Refusal(
            RejectReason.SPOT_HAS_NO_LEVERAGE,
            f"spot mode has no leverage (asked {leverage:g}x); use futures mode",
        )
    if not 1.0 <= leverage <= config.leverage_max:
        return Refusal(
            RejectReason.LEVERAGE_OUT_OF_RANGE,
            f"leverage {leverage:g}x is outside 1x to {config.leverage_max:g}x allowed",
        )
    if limit is not None and stop is not None:
        return Refusal(RejectReason.LIMIT_AND_STOP, "give either limit or stop, not both")
    if config.mode is Mode.SPOT and direction < 0:
        held = position_size if position_side > 0 else 0.0
        if amount > held * (1 + 1e-9):
            return Refusal(RejectReason.SPOT_CANNOT_SHORT, spot_oversell_message(amount, held))
    entry = limit if limit is not None else stop if stop is not None else reference_price
    if stop_loss is not None and (stop_loss - entry) * direction >= 0:
        where = "below" if direction > 0 else "above"
        return Refusal(
            RejectReason.STOP_LOSS_WRONG_SIDE,
            f"stop_loss {stop_loss:g} must be {where} the entry price {entry:g}",
        )
    if take_profit is not None and (take_profit - entry) * direction <= 0:
        where = "above" if direction > 0 else "below"
        return Refusal(
            RejectReason.TAKE_PROFIT_WRONG_SIDE,
            f"take_profit {take_profit:g} must be {where} the entry price {entry:g}",
        )
    return None


def spot_oversell_message(amount: float, held: float) -> str:
    """The sentence for a spot sell of more than is held (at placement or at the fill)."""
    return f"spot mode cannot sell {amount:g} when {held:g} is held: shorting needs futures mode"
