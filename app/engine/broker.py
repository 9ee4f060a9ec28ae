"""The simulated exchange: holds working orders and, bar by bar, settles funding, fills orders
and runs protective exits (stop-loss, take-profit, liquidation) against the portfolio.

Order of events inside bar t (orders placed at bar t-1 or earlier):
1. funding due at this bar's open is settled on the position held over it;
2. a position whose liquidation price the open gapped through is liquidated;
3. market orders fill at the open, in the order they were placed;
4. the position's exits are checked over the bar's range: when stop-loss and liquidation (the
   adverse exits) and take-profit could all fire, the adverse one nearest the open fires first;
5. resting limit and stop orders fill when the range reaches them, in the order placed.
A position opened by a market order is protected from its entry bar on (it filled at the open,
so the whole range came after it); one opened by a limit or stop fill from the next bar, since
the order of prices inside a bar is unknown.

Each step is its own module: `funding` (the schedule and rates), `liquidation`, `exits` (which
exit fires and the levels worth watching), `fills` (prices), `fees` (the rate from the liquidity
side), `order_book` (orders, their state table and events). This module keeps their order, and
skips the bars where none of them can do anything.
"""

from __future__ import annotations

import math

from app.engine import fills, liquidation
from app.engine.bar_ranges import BlockRanges
from app.engine.caps import RecordCounter
from app.engine.config import RunConfig
from app.engine.events import (
    CancelReason,
    Event,
    FundingSettled,
    Liquidity,
    OrderAccepted,
    OrderCancelled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    PositionLiquidated,
    Refusal,
)
from app.engine.exits import trigger_levels, triggered_exit
from app.engine.feed import MarketData
from app.engine.fees import LIQUIDITY_OF, FeeModel
from app.engine.funding import FundingSchedule
from app.engine.logbook import LogSink
from app.engine.order_book import OrderBook
from app.engine.orders import Order
from app.engine.portfolio import FillResult, Portfolio
from app.engine.types import ExitReason, OrderRecord, OrderType, Trade

CANCEL_MESSAGES = {
    CancelReason.BY_STRATEGY: "cancelled by the strategy",
    CancelReason.NO_POSITION_TO_CLOSE: "no open position to close",
    CancelReason.LIQUIDATED_FIRST: "the position was liquidated first",
}
EXPIRED_MESSAGE = "the data ended before it filled"


class Broker:
    """Working orders and their execution; the portfolio changes only through here."""

    def __init__(
        self,
        market: MarketData,
        config: RunConfig,
        log: LogSink,
        journal: list[Event] | None = None,
    ) -> None:
        self.market = market
        # Python numbers per index without building a numpy scalar (`times`: bar open times,
        # epoch ns UTC, read by placement too).
        self.times = memoryview(market.time)
        self._opens = memoryview(market.open)
        self._highs = memoryview(market.high)
        self._lows = memoryview(market.low)
        self._closes = memoryview(market.close)
        self.config = config
        self.portfolio = Portfolio(config)
        self.fees = FeeModel(config)
        self.log = log
        self.records = RecordCounter(max_orders=config.max_orders, max_trades=config.max_trades)
        self.book = OrderBook(log, self.records, journal)
        self.next_order_id = self.book.next_order_id
        self.working = self.book.working  # the same lists, read by the loop and the context
        self.finished: list[OrderRecord] = self.book.finished
        self.trades: list[Trade] = []
        self.protect_from_index = 0
        self.funding = FundingSchedule(market, config)
        self.funding_bars = self.funding.bars
        self._ranges = BlockRanges(market.low, market.high)
        # Prices that make an open position need attention: at or below `lower_trigger` (a long's
        # liquidation/stop-loss, a short's take-profit) or at or above `upper_trigger`.
        self.lower_trigger = -math.inf
        self.upper_trigger = math.inf
        # Bars before `next_work` are known to be quiet: no working order, and the position
        # (if any) owes no funding there and its exits are out of their range. The loop calls
        # `step` only from `next_work` on; a new order makes the very next bar need work.
        self.next_work = 0

    # -- orders -----------------------------------------------------------------------------

    def submit(self, order: Order) -> None:
        """Accept a checked order: it works from the next bar on."""
        self.book.accept(order, OrderAccepted(order.id, order.created_time, order.created_index))
        self.next_work = 0

    def deny(self, order: Order, refusal: Refusal) -> None:
        """Record a request refused at placement: it keeps its id and never works."""
        self.book.apply(
            order,
            OrderDenied(
                order.id, order.created_time, order.created_index, refusal.reason, refusal.message
            ),
        )

    def cancel(self, order_id: int, reason: CancelReason = CancelReason.BY_STRATEGY) -> bool:
        """Cancel the working order `order_id`; False when no such order is working."""
        order = self.book.find(order_id)
        if order is None:
            return False
        index = max(self.log.current_index, order.created_index)
        self._cancel(order, reason, index, self.times[index])
        return True

    def _cancel(self, order: Order, reason: CancelReason, index: int, time: int) -> None:
        self.book.apply(
            order, OrderCancelled(order.id, time, index, reason, CANCEL_MESSAGES[reason])
        )

    def step(self, index: int) -> bool:
        """Process bar `index` if it needs it (working orders, or an open position whose exits
        the bar's range reaches or that owes funding at the bar's open); True when it did."""
        needs = bool(self.working) or self._position_needs(index)
        if needs:
            self.process_bar(index)
        self._schedule(index + 1)
        return needs

    def _position_needs(self, index: int) -> bool:
        if self.portfolio.position.side == 0:
            return False
        return (
            self._lows[index] <= self.lower_trigger
            or self._highs[index] >= self.upper_trigger
            or index in self.funding_bars
        )

    def _schedule(self, index: int) -> None:
        """Set `next_work` to a bar from `index` on such that every bar before it is quiet."""
        if self.working:
            self.next_work = index
            return
        end = len(self.market)
        if self.portfolio.position.side == 0:
            self.next_work = end
            return
        stop = self.funding.next_bar(index, end)
        lower, upper = self.lower_trigger, self.upper_trigger
        if lower == -math.inf and upper == math.inf:
            self.next_work = stop
        else:
            self.next_work = self._ranges.first_reaching(index, lower, upper, stop)

    def _refresh_triggers(self) -> None:
        self.lower_trigger, self.upper_trigger = trigger_levels(self.portfolio.position)

    # -- a bar ------------------------------------------------------------------------------

    def process_bar(self, index: int) -> None:
        time = self.times[index]
        open_ = self._opens[index]
        high = self._highs[index]
        low = self._lows[index]
        self._settle_funding(index, open_)
        self._liquidate_if_through(open_, index, time)
        for order in [o for o in self.working if o.type is OrderType.MARKET]:
            price = fills.market_price(
                self._direction_of(order), open_, low, high, self.config.slippage_bps
            )
            self._execute(order, price, Liquidity.TAKER, index, time)
        if self.portfolio.position.side != 0 and self.protect_from_index <= index:
            self._check_exits(index, time, open_, high, low)
        for order in [o for o in self.working if o.type is not OrderType.MARKET]:
            self._try_resting(order, index, time, open_, high, low)
        self._liquidate_if_through(self._closes[index], index, time)
        self._refresh_triggers()

    def _liquidate_if_through(self, price: float, index: int, time: int) -> bool:
        """Liquidate the position when `price` (traded after it was opened) reached its LP."""
        if liquidation.is_reached(self.portfolio.position, price):
            self._liquidate(index, time)
            return True
        return False

    def _direction_of(self, order: Order) -> int:
        if order.close_percentage is not None:
            return -self.portfolio.position.side
        return order.direction

    def _try_resting(
        self, order: Order, index: int, time: int, open_: float, high: float, low: float
    ) -> None:
        if order.type is OrderType.LIMIT and order.limit is not None:
            price = fills.limit_price(order.direction, order.limit, open_, low, high)
        elif order.stop is not None:
            price = fills.stop_price(
                order.direction, order.stop, open_, low, high, self.config.slippage_bps
            )
        else:
            return
        if price is not None:
            liquidity = LIQUIDITY_OF[order.type]
            self._execute(order, price, liquidity, index, time, protect_next_bar=True)

    def _execute(
        self,
        order: Order,
        price: float,
        liquidity: Liquidity,
        index: int,
        time: int,
        *,
        protect_next_bar: bool = False,
    ) -> None:
        position = self.portfolio.position
        if order.close_percentage is not None:
            if position.side == 0:
                self._cancel(order, CancelReason.NO_POSITION_TO_CLOSE, index, time)
                return
            order.direction = -position.side
        amount = (
            position.size * order.close_percentage / 100.0
            if order.close_percentage is not None
            else order.amount
        )
        if position.side == -order.direction and self._liquidate_if_through(price, index, time):
            position = self.portfolio.position
            if order.close_percentage is not None:
                self._cancel(order, CancelReason.LIQUIDATED_FIRST, index, time)
                return
        was_flat_or_flipping = position.side != order.direction
        result = self.portfolio.fill(
            order.direction,
            amount,
            price,
            self.fees.rate(liquidity),
            order.leverage,
            time,
            index,
            ExitReason.SIGNAL,
        )
        self._record_fill(order, result, price, liquidity, index, time)
        opened = self.portfolio.position.side == order.direction and result.filled > 0
        if opened and order.close_percentage is None:
            if was_flat_or_flipping:
                self.protect_from_index = index + 1 if protect_next_bar else index
            if order.stop_loss is not None or order.take_profit is not None:
                self.portfolio.position.stop_loss = order.stop_loss
                self.portfolio.position.take_profit = order.take_profit

    def _record_fill(
        self,
        order: Order,
        result: FillResult,
        price: float,
        liquidity: Liquidity,
        index: int,
        time: int,
        note: str = "",
    ) -> None:
        self.trades.extend(result.trades)
        if result.trades:
            self.records.count_trades(len(self.trades))
        denied = result.denied
        if denied is None:
            event: OrderFilled | OrderRejected = OrderFilled(
                order.id, time, index, price, result.filled, result.fee, liquidity, None, note
            )
        elif result.filled > 0:
            event = OrderFilled(
                order.id,
                time,
                index,
                price,
                result.filled,
                result.fee,
                liquidity,
                denied.reason,
                denied.message,
            )
        else:
            event = OrderRejected(order.id, time, index, denied.reason, denied.message)
        self.book.apply(order, event)

    # -- protective exits -------------------------------------------------------------------

    def _check_exits(self, index: int, time: int, open_: float, high: float, low: float) -> None:
        position = self.portfolio.position
        exit_ = triggered_exit(position, open_, high, low, self.config.slippage_bps)
        if exit_ is None:
            return
        if exit_.reason is ExitReason.LIQUIDATION:
            self._liquidate(index, time)
            return
        order = self._engine_order(exit_.order_type, -position.side, position.size, index, time)
        if exit_.order_type is OrderType.STOP:
            order.stop = exit_.level
        else:
            order.limit = exit_.level
        result = self.portfolio.fill(
            order.direction,
            order.amount,
            exit_.price,
            self.fees.rate(exit_.liquidity),
            1.0,
            time,
            index,
            exit_.reason,
        )
        self._record_fill(
            order, result, exit_.price, exit_.liquidity, index, time, exit_.reason.value
        )

    def _liquidate(self, index: int, time: int) -> None:
        position = self.portfolio.position
        order = self._engine_order(OrderType.MARKET, -position.side, position.size, index, time)
        price = position.liquidation_price
        trade = self.portfolio.liquidate(time, index)
        self.trades.append(trade)
        self.book.apply(
            order,
            OrderFilled(
                order.id, time, index, price, trade.size, 0.0, None, None, trade.exit_reason.value
            ),
        )
        self.records.count_trades(len(self.trades))
        self.book.settled(
            PositionLiquidated(order.id, time, index, trade.side, trade.size, price, -trade.pnl)
        )

    def _engine_order(
        self, order_type: OrderType, direction: int, amount: float, index: int, time: int
    ) -> Order:
        order = Order(
            id=self.next_order_id(),
            direction=direction,
            type=order_type,
            amount=amount,
            limit=None,
            stop=None,
            leverage=1.0,
            stop_loss=None,
            take_profit=None,
            created_index=index,
            created_time=time,
        )
        self.book.accept(order, OrderAccepted(order.id, time, index))
        return order

    # -- funding ----------------------------------------------------------------------------

    def _settle_funding(self, index: int, mark_price: float) -> None:
        if index not in self.funding_bars or self.portfolio.position.side == 0:
            return
        for instant in self.funding.instants(index):
            rate = self.funding.rate_at(instant)
            payment = self.portfolio.settle_funding(rate, mark_price)
            self.book.settled(FundingSettled(instant, index, rate, mark_price, payment))

    # -- the end ----------------------------------------------------------------------------

    def close_out(self, index: int) -> None:
        """End of data: expire working orders, close the position at the last close."""
        time = int(self.market.time[index])
        for order in list(self.working):
            self.book.apply(order, OrderExpired(order.id, time, index, EXPIRED_MESSAGE))
        position = self.portfolio.position
        if position.side == 0:
            return
        price = float(self.market.close[index])
        order = self._engine_order(OrderType.MARKET, -position.side, position.size, index, time)
        result = self.portfolio.fill(
            order.direction,
            order.amount,
            price,
            self.fees.rate(Liquidity.TAKER),
            1.0,
            time,
            index,
            ExitReason.END_OF_DATA,
        )
        self._record_fill(
            order, result, price, Liquidity.TAKER, index, time, ExitReason.END_OF_DATA.value
        )
        self._refresh_triggers()
