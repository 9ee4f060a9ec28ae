"""Placement: a strategy's `buy`/`sell`/`close_position` call becomes an order with an id, which
is either accepted (it works from the next bar) or denied with a reason code.

A denied request is a real order: it takes the next id, ends with status DENIED and the reason's
sentence, and its `OrderDenied` event writes the run log's "... refused: ..." line. Its record
keeps the terms that were understood: numbers that could not be read are recorded as 0 (amount)
and 1 (leverage), prices as absent. The strategy gets None back, as before.

A size given as quote, equity_fraction or risk is turned into base units here, once, at the
order's own price (its limit or stop, or the current close for a market order) and the equity
now (`order_requests.sized_amount`); the ticket and the record show that amount.
"""

from __future__ import annotations

from typing import NamedTuple

from app.engine.broker import Broker
from app.engine.errors import OrderRequestError
from app.engine.events import Refusal, RejectReason
from app.engine.order_requests import (
    as_distance,
    as_flag,
    as_fraction,
    as_number,
    as_price,
    as_time_in_force,
    check_leverage,
    check_options,
    check_percentage,
    check_post_only,
    check_request,
    check_size_given,
    sized_amount,
)
from app.engine.orders import Order, OrderTicket
from app.engine.types import OrderType, TimeInForce

IN_INITIALIZE = Refusal(
    RejectReason.PLACED_IN_INITIALIZE, "orders are placed from on_data(), once bars have closed"
)
CLOSE_IN_INITIALIZE = Refusal(RejectReason.PLACED_IN_INITIALIZE, "orders are placed from on_data()")


class OrderRequest(NamedTuple):
    """A `buy`/`sell` call's arguments exactly as the strategy passed them (nothing checked)."""

    amount: object = None
    leverage: object = 1.0
    limit: object = None
    stop: object = None
    stop_loss: object = None
    take_profit: object = None
    trailing_stop: object = None
    trailing_percent: object = None
    quote: object = None
    equity_fraction: object = None
    risk: object = None
    reduce_only: object = False
    post_only: object = False
    time_in_force: object = "gtc"
    oco: object = None


def place(
    broker: Broker,
    index: int,
    direction: int,
    request: OrderRequest,
    reference_price: float,
    account_equity: float | None = None,
) -> Order | None:
    """The accepted order for a `buy` (+1) or `sell` (-1) made at bar `index`, or None when
    it was denied. `reference_price` is the current close. `account_equity` is what
    equity_fraction and risk size against in a run over several symbols (the whole account's);
    None: the broker's own portfolio at `reference_price`."""
    order = new_order(broker, direction, OrderType.MARKET, 0.0, 1.0, index)
    try:
        size = _read_terms(order, request)
    except OrderRequestError as refused:
        # the record keeps the amount and leverage read so far; no prices, options or type
        order.type, order.limit, order.stop = OrderType.MARKET, None, None
        order.stop_loss = order.take_profit = order.trailing_stop = order.trailing_percent = None
        deny(broker, order, refused)
        return None
    refusal = _check_and_size(broker, order, size, request.oco, reference_price, account_equity)
    if refusal is not None:
        broker.deny(order, refusal)
        return None
    broker.submit(order)
    return order


class _Size(NamedTuple):
    amount: float | None
    quote: float | None
    equity_fraction: float | None
    risk: float | None


_NO_SIZE = _Size(None, None, None, None)


def _read_terms(order: Order, request: OrderRequest) -> _Size | None:
    """Coerce the request's numbers and options onto `order` (raises OrderRequestError).
    The sizes given, or None for the common request: a base `amount` alone (the order's)."""
    amount = None if request.amount is None else as_number(request.amount, "amount")
    if amount is not None:
        order.amount = amount
    order.leverage = as_number(request.leverage, "leverage")
    if request.limit is not None or request.stop is not None:
        order.limit, order.stop = as_price(request.limit, "limit"), as_price(request.stop, "stop")
        order.type = OrderType.LIMIT if order.limit is not None else OrderType.STOP
    if request.stop_loss is not None or request.take_profit is not None:
        order.stop_loss = as_price(request.stop_loss, "stop_loss")
        order.take_profit = as_price(request.take_profit, "take_profit")
    if request.trailing_stop is not None or request.trailing_percent is not None:
        order.trailing_stop = as_distance(request.trailing_stop, "trailing_stop")
        order.trailing_percent = as_fraction(
            request.trailing_percent, "trailing_percent", upper=100.0, closed=False
        )
    if request.reduce_only is not False:
        order.reduce_only = as_flag(request.reduce_only, "reduce_only")
    if request.post_only is not False:
        order.post_only = as_flag(request.post_only, "post_only")
    if request.time_in_force != "gtc":
        order.time_in_force = as_time_in_force(request.time_in_force)
    if request.quote is None and request.equity_fraction is None and request.risk is None:
        return None if amount is not None else _NO_SIZE
    return _Size(
        amount,
        as_distance(request.quote, "quote"),
        as_fraction(request.equity_fraction, "equity_fraction", upper=1.0, closed=True),
        as_fraction(request.risk, "risk", upper=1.0, closed=True),
    )


def _check_and_size(
    broker: Broker,
    order: Order,
    size: _Size | None,
    oco: object,
    reference_price: float,
    account_equity: float | None = None,
) -> Refusal | None:
    """Check the request's options and size (None: a base amount alone, already the order's),
    set the order's amount; why it is refused, or None."""
    if size is not None:
        refusal = check_size_given(size._asdict()) or _check_options(order, size.risk, oco)
        if refusal is None and size.amount is None:
            refusal = _size_order(broker, order, size, reference_price, account_equity)
        if refusal is not None:
            return refusal
    elif not _has_no_options(order, oco):
        refusal = _check_options(order, None, oco)
        if refusal is not None:
            return refusal
    position = broker.portfolio.position
    refusal = check_request(
        direction=order.direction,
        amount=order.amount,
        leverage=order.leverage,
        limit=order.limit,
        stop=order.stop,
        stop_loss=order.stop_loss,
        take_profit=order.take_profit,
        reference_price=reference_price,
        position_side=position.side,
        position_size=position.size,
        config=broker.config,
    )
    if refusal is None and order.post_only and order.limit is not None:
        refusal = check_post_only(order.direction, order.limit, reference_price)
    if refusal is None and oco is not None:
        refusal = _pair(broker, order, oco)
    return refusal


def _check_options(order: Order, risk: float | None, oco: object) -> Refusal | None:
    return check_options(
        order_kind=order.type.value,
        stop_loss=order.stop_loss,
        take_profit=order.take_profit,
        trailing_stop=order.trailing_stop,
        trailing_percent=order.trailing_percent,
        risk=risk,
        reduce_only=order.reduce_only,
        post_only=order.post_only,
        time_in_force=order.time_in_force,
        has_oco=oco is not None,
    )


def _size_order(
    broker: Broker,
    order: Order,
    size: _Size,
    reference_price: float,
    account_equity: float | None,
) -> Refusal | None:
    """Set the order's amount from its quote, equity_fraction or risk, at its own price (its
    limit or stop, or the current close); why it cannot be sized, or None."""
    refusal = check_leverage(order.leverage, broker.config)  # sizing needs a sound one
    if refusal is not None:
        return refusal
    price = order.limit if order.limit is not None else order.stop or reference_price
    is_maker = order.type is OrderType.LIMIT and order.time_in_force is TimeInForce.GTC
    fees = broker.fees
    order.amount = sized_amount(
        **size._asdict(),
        stop_loss=order.stop_loss,
        price=price,
        equity=(
            broker.portfolio.equity(reference_price) if account_equity is None else account_equity
        ),
        leverage=order.leverage,
        fee_rate=fees.maker if is_maker else fees.taker,
    )
    if order.amount <= 0:
        return Refusal(
            RejectReason.AMOUNT_NOT_POSITIVE,
            f"the size from {_size_name(size)} is {order.amount:g} base units: "
            "it must be positive (is equity above 0, the stop_loss away from the price?)",
        )
    return None


def _has_no_options(order: Order, oco: object) -> bool:
    """The common request (a base amount, no newer option): nothing for check_options."""
    return (
        oco is None
        and not order.reduce_only
        and not order.post_only
        and order.time_in_force is TimeInForce.GTC
        and order.trailing_stop is None
        and order.trailing_percent is None
    )


def _size_name(size: _Size) -> str:
    return next(name for name, value in size._asdict().items() if value is not None)


def _pair(broker: Broker, order: Order, oco: object) -> Refusal | None:
    """Put `order` in one OCO group with the working order `oco` names (a ticket or an id)."""
    partner_id = oco.id if isinstance(oco, OrderTicket) else oco
    if type(partner_id) is not int:
        return Refusal(
            RejectReason.INVALID_OPTION,
            f"oco takes an order returned by buy or sell, got {type(oco).__name__}",
        )
    partner = broker.book.find(partner_id)
    if partner is None:
        return Refusal(
            RejectReason.OCO_PARTNER_NOT_WORKING,
            f"oco: order #{partner_id} is not working (filled, cancelled or never placed), "
            "so nothing can be paired with it",
        )
    if partner.type is OrderType.MARKET or partner.time_in_force is not TimeInForce.GTC:
        return Refusal(
            RejectReason.CONFLICTING_OPTIONS,
            f"oco: order #{partner_id} is not a resting limit or stop order",
        )
    group = partner.oco_group if partner.oco_group is not None else partner.id
    partner.oco_group = order.oco_group = group
    return None


def place_close(
    broker: Broker, index: int, percentage: object, amount: object = None
) -> Order | None:
    """The accepted order closing `percentage` % of the position, or `amount` base units of it
    (at most all of it), or None: when denied, or when there is no position to close (then no
    order is made at all)."""
    side = broker.portfolio.position.side
    try:
        pct = as_number(percentage, "percentage")
        base = None if amount is None else as_number(amount, "amount")
    except OrderRequestError as refused:
        deny(broker, close_order(broker, side, 0.0, index), refused)
        return None
    refusal = check_percentage(pct)
    if refusal is None and base is not None:
        refusal = _check_close_amount(pct, base)
    if refusal is not None:
        broker.deny(close_order(broker, side, pct, index), refusal)
        return None
    if side == 0:
        return None
    order = close_order(broker, side, pct, index)
    if base is not None:
        order.close_percentage, order.close_amount, order.amount = None, base, base
    broker.submit(order)
    return order


def _check_close_amount(percentage: float, amount: float) -> Refusal | None:
    if percentage != 100.0:
        return Refusal(
            RejectReason.CONFLICTING_OPTIONS,
            "close_position takes percentage or amount, not both",
        )
    if amount <= 0:
        return Refusal(
            RejectReason.AMOUNT_NOT_POSITIVE,
            f"amount must be positive base units, got {amount:g}",
        )
    return None


def deny_request(broker: Broker, index: int, direction: int, refusal: Refusal) -> None:
    """Record a `buy`/`sell` refused before its arguments were read (e.g. in initialize())."""
    broker.deny(new_order(broker, direction, OrderType.MARKET, 0.0, 1.0, index), refusal)


def deny_close(broker: Broker, index: int, refusal: Refusal) -> None:
    """Record a `close_position` refused before its argument was read."""
    side = broker.portfolio.position.side
    broker.deny(close_order(broker, side, 0.0, index), refusal)


def deny(broker: Broker, order: Order, refused: OrderRequestError) -> None:
    broker.deny(order, Refusal(refused.reason, refused.message))


def new_order(
    broker: Broker,
    direction: int,
    order_type: OrderType,
    amount: float,
    leverage: float,
    index: int,
) -> Order:
    """A new order made at bar `index`, with the next id."""
    return Order(  # positional, in Order's field order: one is made per request
        broker.next_order_id(),
        direction,
        order_type,
        amount,
        None,  # limit
        None,  # stop
        leverage,
        None,  # stop_loss
        None,  # take_profit
        index,
        broker.times[index],
    )


def close_order(broker: Broker, side: int, percentage: float, index: int) -> Order:
    """A market order closing `percentage` % of a position on `side` (a close asked while flat
    is recorded as a sell)."""
    order = new_order(broker, -side if side else -1, OrderType.MARKET, 0.0, 1.0, index)
    order.close_percentage = percentage
    return order
