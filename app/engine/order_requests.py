"""Checks of a strategy's new order request: its numbers and options coerced, its size worked
out (base amount, quote notional, equity fraction or risk to the stop), then the account's rules
(amount, leverage bounds, spot limits, stop-loss/take-profit sides, options that cannot go
together) before it becomes an order. A failed check is a `Refusal` (a `RejectReason` code and a
sentence naming the field) that the caller records as an `OrderDenied` event."""

from __future__ import annotations

import math

from app.engine.config import RunConfig
from app.engine.errors import OrderRequestError
from app.engine.events import Refusal, RejectReason
from app.engine.types import Mode, TimeInForce

SIZE_FIELDS = ("amount", "quote", "equity_fraction", "risk")


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
    refusal = check_leverage(leverage, config)
    if refusal is not None:
        return refusal
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


def check_leverage(leverage: float, config: RunConfig) -> Refusal | None:
    """Why `leverage` is not allowed in this run, or None."""
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
    return None


def spot_oversell_message(amount: float, held: float) -> str:
    """The sentence for a spot sell of more than is held (at placement or at the fill)."""
    return f"spot mode cannot sell {amount:g} when {held:g} is held: shorting needs futures mode"


def as_fraction(value: object, name: str, *, upper: float, closed: bool) -> float | None:
    """An optional number in (0, `upper`] (`closed`) or (0, `upper`); raises OrderRequestError."""
    if value is None:
        return None
    number = as_number(value, name)
    if number <= 0 or number > upper or (number == upper and not closed):
        bound = f"at most {upper:g}" if closed else f"below {upper:g}"
        raise OrderRequestError(
            RejectReason.INVALID_OPTION,
            f"{name} must be above 0 and {bound}, got {number:g}",
        )
    return number


def as_distance(value: object, name: str) -> float | None:
    """An optional positive distance in quote price units; raises OrderRequestError."""
    if value is None:
        return None
    number = as_number(value, name)
    if number <= 0:
        raise OrderRequestError(
            RejectReason.INVALID_OPTION, f"{name} must be a positive distance, got {number:g}"
        )
    return number


def as_flag(value: object, name: str) -> bool:
    """True or False exactly (1, "yes" and None are refused); raises OrderRequestError."""
    if type(value) is not bool:
        raise OrderRequestError(
            RejectReason.INVALID_OPTION, f"{name} must be True or False, got {value!r:.40}"
        )
    return value


def as_time_in_force(value: object) -> TimeInForce:
    """ "gtc", "ioc" or "fok" (any case); raises OrderRequestError."""
    if isinstance(value, str):
        try:
            return TimeInForce(value.lower())
        except ValueError:
            pass
    raise OrderRequestError(
        RejectReason.INVALID_OPTION,
        f"time_in_force must be 'gtc', 'ioc' or 'fok', got {value!r:.40}",
    )


def check_options(
    *,
    order_kind: str,
    stop_loss: float | None,
    take_profit: float | None,
    trailing_stop: float | None,
    trailing_percent: float | None,
    risk: float | None,
    reduce_only: bool,
    post_only: bool,
    time_in_force: TimeInForce,
    has_oco: bool,
) -> Refusal | None:
    """Why options of a request cannot go together, or None. `order_kind` is "market",
    "limit" or "stop"."""
    conflict = RejectReason.CONFLICTING_OPTIONS
    if trailing_stop is not None and trailing_percent is not None:
        return Refusal(conflict, "give trailing_stop (a distance) or trailing_percent, not both")
    if reduce_only and (
        stop_loss is not None
        or take_profit is not None
        or trailing_stop is not None
        or trailing_percent is not None
    ):
        return Refusal(
            conflict,
            "reduce_only orders open no position, so they take no stop_loss, take_profit or "
            "trailing stop",
        )
    if risk is not None and stop_loss is None:
        return Refusal(
            conflict, "risk sizes the order from its stop-loss distance: give stop_loss= too"
        )
    if post_only and order_kind != "limit":
        return Refusal(conflict, "post_only applies to limit orders: give limit= too")
    if post_only and time_in_force is not TimeInForce.GTC:
        return Refusal(
            conflict, "post_only limits rest in the book; ioc and fok take at once: pick one"
        )
    if time_in_force is not TimeInForce.GTC and order_kind == "stop":
        return Refusal(
            conflict,
            f"time_in_force {time_in_force.value} applies to market and limit orders; a stop "
            "waits for its trigger",
        )
    if has_oco and (order_kind == "market" or time_in_force is not TimeInForce.GTC):
        return Refusal(
            conflict, "oco pairs resting orders: give limit= or stop=, time_in_force gtc"
        )
    return None


def check_size_given(given: dict[str, float | None]) -> Refusal | None:
    """Exactly one of SIZE_FIELDS must be set."""
    named = [name for name in SIZE_FIELDS if given.get(name) is not None]
    if not named:
        return Refusal(
            RejectReason.SIZE_MISSING,
            "give the order's size: amount (base units), quote (notional in quote), "
            "equity_fraction (of equity, as margin) or risk (of equity, to the stop_loss)",
        )
    if len(named) > 1:
        return Refusal(
            RejectReason.CONFLICTING_OPTIONS,
            f"give one size, not {' and '.join(named)}: amount, quote, equity_fraction or risk",
        )
    return None


def sized_amount(
    *,
    amount: float | None,
    quote: float | None,
    equity_fraction: float | None,
    risk: float | None,
    stop_loss: float | None,
    price: float,
    equity: float,
    leverage: float,
    fee_rate: float,
) -> float:
    """The order's amount in base units from whichever size was given, at `price` (the
    order's limit or stop, or the current close for a market order) and `equity` now.

    quote: quote / price. equity_fraction f: margin plus fee is f x equity, so notional =
    f x equity x leverage / (1 + leverage x fee_rate). risk r: losing r x equity if the
    stop-loss fills at its price, so amount = r x equity / |price - stop_loss| (fees and
    slippage come on top).
    """
    if amount is not None:
        return amount
    if quote is not None:
        return quote / price
    if equity_fraction is not None:
        notional = equity_fraction * max(equity, 0.0) * leverage / (1.0 + leverage * fee_rate)
        return notional / price
    if risk is not None and stop_loss is not None and stop_loss != price:
        return risk * max(equity, 0.0) / abs(price - stop_loss)
    return 0.0


def check_post_only(direction: int, limit: float, price: float) -> Refusal | None:
    """A post-only limit at or through the current price would take liquidity."""
    if (price - limit) * direction <= 0:
        where = "below" if direction > 0 else "above"
        return Refusal(
            RejectReason.POST_ONLY_WOULD_TAKE,
            f"post_only limit {limit:g} would take liquidity at the price {price:g}: a post-only "
            f"{'buy' if direction > 0 else 'sell'} must rest {where} the price",
        )
    return None
