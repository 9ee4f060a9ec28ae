"""Placement: a strategy's `buy`/`sell`/`close_position` call becomes an order with an id, which
is either accepted (it works from the next bar) or denied with a reason code.

A denied request is a real order: it takes the next id, ends with status DENIED and the reason's
sentence, and its `OrderDenied` event writes the run log's "... refused: ..." line. Its record
keeps the terms that were understood: numbers that could not be read are recorded as 0 (amount)
and 1 (leverage), prices as absent. The strategy gets None back, as before.
"""

from __future__ import annotations

from app.engine.broker import Broker
from app.engine.errors import OrderRequestError
from app.engine.events import Refusal, RejectReason
from app.engine.order_requests import as_number, as_price, check_percentage, check_request
from app.engine.orders import Order
from app.engine.types import OrderType

IN_INITIALIZE = Refusal(
    RejectReason.PLACED_IN_INITIALIZE, "orders are placed from on_data(), once bars have closed"
)
CLOSE_IN_INITIALIZE = Refusal(RejectReason.PLACED_IN_INITIALIZE, "orders are placed from on_data()")


def place(
    broker: Broker,
    index: int,
    direction: int,
    amount: object,
    leverage: object,
    limit: object,
    stop: object,
    stop_loss: object,
    take_profit: object,
    reference_price: float,
) -> Order | None:
    """The accepted order for a `buy` (+1) or `sell` (-1) made at bar `index`, or None when
    it was denied."""
    limit_price: float | None = None
    stop_price: float | None = None
    loss_price: float | None = None
    profit_price: float | None = None
    size, lev = 0.0, 1.0  # what a request refused before they were read records
    try:
        size = as_number(amount, "amount")
        lev = as_number(leverage, "leverage")
        if limit is not None or stop is not None:
            limit_price, stop_price = as_price(limit, "limit"), as_price(stop, "stop")
        if stop_loss is not None or take_profit is not None:
            loss_price = as_price(stop_loss, "stop_loss")
            profit_price = as_price(take_profit, "take_profit")
    except OrderRequestError as refused:
        deny(broker, new_order(broker, direction, OrderType.MARKET, size, lev, index), refused)
        return None
    order_type = (
        OrderType.LIMIT
        if limit_price is not None
        else OrderType.STOP
        if stop_price is not None
        else OrderType.MARKET
    )
    order = new_order(broker, direction, order_type, size, lev, index)
    order.limit, order.stop = limit_price, stop_price
    order.stop_loss, order.take_profit = loss_price, profit_price
    position = broker.portfolio.position
    refusal = check_request(
        direction=direction,
        amount=size,
        leverage=lev,
        limit=limit_price,
        stop=stop_price,
        stop_loss=loss_price,
        take_profit=profit_price,
        reference_price=reference_price,
        position_side=position.side,
        position_size=position.size,
        config=broker.config,
    )
    if refusal is not None:
        broker.deny(order, refusal)
        return None
    broker.submit(order)
    return order


def place_close(broker: Broker, index: int, percentage: object) -> Order | None:
    """The accepted order closing `percentage` % of the position, or None: when denied, or
    when there is no position to close (then no order is made at all)."""
    side = broker.portfolio.position.side
    try:
        pct = as_number(percentage, "percentage")
    except OrderRequestError as refused:
        deny(broker, close_order(broker, side, 0.0, index), refused)
        return None
    refusal = check_percentage(pct)
    if refusal is not None:
        broker.deny(close_order(broker, side, pct, index), refusal)
        return None
    if side == 0:
        return None
    order = close_order(broker, side, pct, index)
    broker.submit(order)
    return order


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
