"""The engine's outcomes as events: what happened to an order, the position or the account, in
the order it happened.

Every change of an order's status is one of these events (see `app.engine.orders` for the
transition table they go through); the order records and the run log's engine notices are
derived from them. A refusal is data here, not a log line: `OrderDenied` (the request never
became a working order) and `OrderRejected` (the account could not carry it at its fill) carry a
`RejectReason` code a program can match on, beside the sentence a trader reads.

The events are named tuples, like the engine's records (`app.engine.types`): immutable, with no
instance dictionary (`__slots__ = ()`), and about four times cheaper to build than a frozen
dataclass. They are built only where an order changes state or funding is settled, never per bar.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from app.engine.types import PositionSide


class RejectReason(StrEnum):
    """Why a request or an order was refused; stable codes, safe to match on."""

    # at placement: the request never becomes a working order (OrderDenied)
    PLACED_IN_INITIALIZE = "placed_in_initialize"
    NOT_A_NUMBER = "not_a_number"
    NOT_FINITE = "not_finite"
    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    PRICE_NOT_POSITIVE = "price_not_positive"
    PERCENTAGE_OUT_OF_RANGE = "percentage_out_of_range"
    LEVERAGE_OUT_OF_RANGE = "leverage_out_of_range"
    SPOT_HAS_NO_LEVERAGE = "spot_has_no_leverage"
    LIMIT_AND_STOP = "limit_and_stop"
    STOP_LOSS_WRONG_SIDE = "stop_loss_wrong_side"
    TAKE_PROFIT_WRONG_SIDE = "take_profit_wrong_side"
    INVALID_OPTION = "invalid_option"  # an order option of the wrong kind or out of its range
    CONFLICTING_OPTIONS = "conflicting_options"  # options that cannot go together
    SIZE_MISSING = "size_missing"  # none of amount, quote, equity_fraction, risk
    POST_ONLY_WOULD_TAKE = "post_only_would_take"  # also at its arrival (OrderRejected)
    OCO_PARTNER_NOT_WORKING = "oco_partner_not_working"
    # at placement or at the fill
    SPOT_CANNOT_SHORT = "spot_cannot_short"
    # at the fill: the account cannot carry it (OrderRejected, or the rest of a partial fill)
    INSUFFICIENT_CASH = "insufficient_cash"
    TIER_LEVERAGE = "tier_leverage"
    NOTIONAL_CAP = "notional_cap"  # over the tier table's largest position
    BELOW_MINIMUM_SIZE = "below_minimum_size"
    FILL_OR_KILL = "fill_or_kill"  # a fok order the account could not carry in full


class CancelReason(StrEnum):
    """Why a working order was cancelled."""

    BY_STRATEGY = "by_strategy"
    NO_POSITION_TO_CLOSE = "no_position_to_close"
    LIQUIDATED_FIRST = "liquidated_first"
    OCO_PARTNER_FILLED = "oco_partner_filled"
    OCO_PARTNER_CANCELLED = "oco_partner_cancelled"
    NOTHING_TO_REDUCE = "nothing_to_reduce"  # a reduce-only order with no opposite position
    NOT_FILLED_AT_ARRIVAL = "not_filled_at_arrival"  # an ioc/fok limit the open did not reach


class Liquidity(StrEnum):
    """The side of the book a fill took: a maker rests (limit, take-profit), a taker crosses
    (market, stop, stop-loss, the end-of-data close). The fee rate is chosen from it once."""

    MAKER = "maker"
    TAKER = "taker"


class Refusal(NamedTuple):
    """A reason code and the sentence that explains it to a trader."""

    reason: RejectReason
    message: str


class OrderAccepted(NamedTuple):
    """The order passed the placement checks and is working (or, for an order the engine makes
    for an exit, is about to fill)."""

    order_id: int
    time: int  # epoch ns, UTC, of the bar it happened at
    bar_index: int


class OrderDenied(NamedTuple):
    """The request was refused at placement: it has an id and a record, and never works."""

    order_id: int
    time: int
    bar_index: int
    reason: RejectReason
    message: str


class OrderFilled(NamedTuple):
    """The order executed `amount` base units at `price`, paying `fee` (quote units) at the
    `liquidity` side's rate. `rest_refused` is set when only part could be carried; `note` is
    then its sentence, otherwise what an engine order was for (an exit reason) or empty."""

    order_id: int
    time: int
    bar_index: int
    price: float
    amount: float
    fee: float
    liquidity: Liquidity | None  # None for a liquidation (its fee is the clearance fee)
    rest_refused: RejectReason | None
    note: str


class OrderRejected(NamedTuple):
    """The account could not carry the order when it came to fill; nothing executed."""

    order_id: int
    time: int
    bar_index: int
    reason: RejectReason
    message: str


class OrderCancelled(NamedTuple):
    order_id: int
    time: int
    bar_index: int
    reason: CancelReason
    message: str


class OrderExpired(NamedTuple):
    """The data ended before the order filled."""

    order_id: int
    time: int
    bar_index: int
    message: str


class PositionLiquidated(NamedTuple):
    """The position was closed at its liquidation price by order `order_id`, losing its margin
    (`loss`, quote units, incl. the entry fees and the clearance fee)."""

    order_id: int
    time: int
    bar_index: int
    side: PositionSide
    size: float
    price: float
    loss: float


class FundingSettled(NamedTuple):
    """Funding at one funding instant on the open position: `payment` (quote units, positive
    when the position paid) = signed size x `mark_price` x `rate`."""

    time: int  # the funding instant, epoch ns UTC
    bar_index: int  # the bar whose open settled it
    rate: float
    mark_price: float
    payment: float


OrderEvent = (
    OrderAccepted | OrderDenied | OrderFilled | OrderRejected | OrderCancelled | OrderExpired
)
Event = OrderEvent | PositionLiquidated | FundingSettled
