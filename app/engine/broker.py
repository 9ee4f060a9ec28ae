"""The simulated exchange: holds working orders and, bar by bar, settles funding, fills orders
and runs protective exits (stop-loss, trailing stop, take-profit, liquidation) against the
portfolio, along the bar's path (`app.engine.intrabar`: open, the extreme nearer the open, the
other extreme, close).

Order of events inside bar t (orders placed at bar t-1 or earlier):
1. funding due at this bar's open is settled on the position held over it;
2. a position whose liquidation price the open gapped through is liquidated;
3. orders arriving at this open are checked: a post-only limit the open is through is refused
   (it would take); ioc/fok limits fill at the open if it is through them, else are cancelled;
4. market orders (and those ioc/fok limits) fill at the open, in the order they were placed;
5. at the open: the position's exits the open is at or beyond fire there, then resting limit
   and stop orders the open is through fill there (in the order placed), each fill followed by
   its position's exits at the open (a bar opening beyond a take-profit fills it at the open);
6. the path is walked leg by leg; on each leg the nearest level reached fires first: the
   position's liquidation, stops and take-profit, then resting orders, whatever the position
   was when the leg began. So a position opened at any point of the bar is protected from
   that point on, and its exits can fire later in the same bar.
An order with OCO partners cancels them when it fills; a reduce-only order (and a close) is cut
to the position it would reduce, and cancelled when there is none.

Each step is its own module: `funding` (the schedule and rates), `liquidation`, `exits` (the
position's exit levels), `intrabar` (the path and what a leg meets first), `fills` (prices),
`fees` (the rate from the liquidity side), `order_book` (orders, their state table and events).
This module keeps their order, and skips the bars where none of them can do anything.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from app.engine import fills, liquidation
from app.engine.bar_ranges import BlockRanges
from app.engine.caps import RecordCounter
from app.engine.config import RunConfig
from app.engine.events import (
    CancelReason,
    Event,
    FundingSettled,
    Liquidity,
    OrderCancelled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    PositionLiquidated,
    Refusal,
    RejectReason,
)
from app.engine.exits import exit_at_open, has_exits, trigger_levels
from app.engine.feed import MarketData
from app.engine.fees import LIQUIDITY_OF, FeeModel
from app.engine.funding import FundingSchedule
from app.engine.intrabar import bar_path, is_through_at_open, next_trigger
from app.engine.logbook import LogSink
from app.engine.order_book import OrderBook
from app.engine.orders import Order
from app.engine.portfolio import FillResult, Portfolio
from app.engine.results import EquityLedger
from app.engine.types import ExitReason, OrderRecord, OrderStatus, OrderType, TimeInForce, Trade
from app.engine.wallet import Wallet

CANCEL_MESSAGES = {
    CancelReason.BY_STRATEGY: "cancelled by the strategy",
    CancelReason.NO_POSITION_TO_CLOSE: "no open position to close",
    CancelReason.LIQUIDATED_FIRST: "the position was liquidated first",
    CancelReason.OCO_PARTNER_FILLED: "its OCO partner filled",
    CancelReason.OCO_PARTNER_CANCELLED: "its OCO partner was cancelled",
    CancelReason.NOTHING_TO_REDUCE: "reduce-only, and there was no opposite position to reduce",
    CancelReason.NOT_FILLED_AT_ARRIVAL: "ioc/fok: the open did not reach its limit",
}
EXPIRED_MESSAGE = "the data ended before it filled"


@dataclass(slots=True)
class BarPrices:
    """The bar being processed."""

    index: int
    time: int  # epoch ns UTC, the bar's open time
    open: float
    high: float
    low: float


class Broker:
    """Working orders and their execution; the portfolio changes only through here."""

    def __init__(
        self,
        market: MarketData,
        config: RunConfig,
        log: LogSink,
        journal: list[Event] | None = None,
        *,
        wallet: Wallet | None = None,
        records: RecordCounter | None = None,
    ) -> None:
        """`wallet` and `records` are shared with the other symbols' brokers of a run over
        several symbols (app.engine.account); by default the broker has its own."""
        self.market = market
        # Python numbers per index without building a numpy scalar (`times`: bar open times,
        # epoch ns UTC, read by placement too).
        self.times = memoryview(market.time)
        self._opens = memoryview(market.open)
        self._highs = memoryview(market.high)
        self._lows = memoryview(market.low)
        self._closes = memoryview(market.close)
        self.config = config
        self.portfolio = Portfolio(
            config, is_marked=market.has_mark, symbol=market.symbol, wallet=wallet
        )
        # The mark price (where the data has one; else the trade price) liquidates and settles
        # funding (app.engine.liquidation); a bar needs attention when either series reaches a
        # trigger, so the quiet-bar ranges span both.
        self._mark_opens = memoryview(market.marked("open"))
        self._mark_lows = memoryview(market.marked("low"))
        self._mark_highs = memoryview(market.marked("high"))
        self._trigger_lows = memoryview(np.minimum(market.low, market.marked("low")))
        self._trigger_highs = memoryview(np.maximum(market.high, market.marked("high")))
        self.fees = FeeModel(config)
        self.log = log
        self.records = records or RecordCounter(
            max_orders=config.max_orders, max_trades=config.max_trades
        )
        self.book = OrderBook(log, self.records, journal)
        self.next_order_id = self.book.next_order_id
        self.working = self.book.working  # the same lists, read by the loop and the context
        self.finished: list[OrderRecord] = self.book.finished
        self.trades: list[Trade] = []
        self.funding = FundingSchedule(market, config)
        self.funding_bars = self.funding.bars
        self._ranges = BlockRanges(
            np.minimum(market.low, market.marked("low")),
            np.maximum(market.high, market.marked("high")),
        )
        # Prices that make an open position need attention: at or below `lower_trigger` (a long's
        # liquidation/stops, a short's take-profit or best price) or at or above `upper_trigger`.
        self.lower_trigger = -math.inf
        self.upper_trigger = math.inf
        # Bars before `next_work` are known to be quiet: no working order, and the position
        # (if any) owes no funding there and its exits are out of their range. The loop calls
        # `step` only from `next_work` on; a new order makes the very next bar need work.
        self.next_work = 0

    # -- orders -----------------------------------------------------------------------------

    def submit(self, order: Order) -> None:
        """Accept a checked order: it works from the next bar on."""
        order.symbol = self.market.symbol
        self.book.accept(order, order.created_time, order.created_index)
        self.next_work = 0

    def deny(self, order: Order, refusal: Refusal) -> None:
        """Record a request refused at placement: it keeps its id and never works."""
        order.symbol = self.market.symbol
        self.book.apply(
            order,
            OrderDenied(
                order.id, order.created_time, order.created_index, refusal.reason, refusal.message
            ),
        )

    def cancel(self, order_id: int, reason: CancelReason = CancelReason.BY_STRATEGY) -> bool:
        """Cancel the working order `order_id` (and its OCO partners); False when no such
        order is working."""
        order = self.book.find(order_id)
        if order is None:
            return False
        index = max(self.log.current_index, order.created_index)
        self._cancel(order, reason, index, self.times[index])
        self._cancel_partners(order, CancelReason.OCO_PARTNER_CANCELLED, index)
        return True

    def _cancel(self, order: Order, reason: CancelReason, index: int, time: int) -> None:
        self.book.apply(
            order, OrderCancelled(order.id, time, index, reason, CANCEL_MESSAGES[reason])
        )

    def _cancel_partners(self, order: Order, reason: CancelReason, index: int) -> None:
        """Cancel the working orders sharing `order`'s OCO group."""
        group = order.oco_group
        if group is None:
            return
        for other in [o for o in self.working if o.oco_group == group and o is not order]:
            message = f"{CANCEL_MESSAGES[reason]} (order #{order.id})"
            self.book.apply(
                other, OrderCancelled(other.id, self.times[index], index, reason, message)
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
            self._trigger_lows[index] <= self.lower_trigger
            or self._trigger_highs[index] >= self.upper_trigger
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

    def refresh_triggers(self) -> None:
        """Set the exit triggers again from the position (cross margin: its liquidation price
        moves with the other symbols' positions, app.engine.account)."""
        self._refresh_triggers()

    def _refresh_triggers(self) -> None:
        position = self.portfolio.position
        self.lower_trigger, self.upper_trigger = trigger_levels(position)
        if position.is_marked and position.liquidation_price > 0.0:  # watched on the mark
            if position.side > 0:
                self.lower_trigger = max(self.lower_trigger, position.liquidation_price)
            else:
                self.upper_trigger = min(self.upper_trigger, position.liquidation_price)

    # -- a bar ------------------------------------------------------------------------------

    def process_bar(self, index: int) -> None:
        """Bar `index` in the order of the module docstring."""
        time, open_ = self.times[index], self._opens[index]
        bar = BarPrices(index, time, open_, self._highs[index], self._lows[index])
        if self.portfolio.position.side != 0:  # steps 1-2 act on an open position only
            mark_open = self._mark_opens[index]
            if index in self.funding_bars:
                self._settle_funding(index, mark_open)
            self._liquidate_at_open(open_, mark_open, index, time)
        if self.working:
            self._fill_arrivals(bar)
        if has_exits(self.portfolio.position):  # else neither has anything to move or fire
            self._move_best_price(open_)
            self._exit_at_open(bar)
        if self.working:
            self._fill_resting_at_open(bar)
        if self.portfolio.is_marked:
            self._liquidate_on_mark_range(index, time)
        self._refresh_triggers()
        if self._can_fire_inside(bar):
            _, first, second, close = bar_path(
                open_, bar.high, bar.low, self._closes[index], self.portfolio.position.side
            )
            self._walk(open_, first, bar)
            self._walk(first, second, bar)
            self._walk(second, close, bar)
            self._refresh_triggers()

    def _can_fire_inside(self, bar: BarPrices) -> bool:
        """False when no exit of the position and no working order has its level inside the
        bar's range (nor can the range move a trailing stop): its path has nothing to do.
        The triggers must be fresh (`_refresh_triggers`)."""
        low, high = bar.low, bar.high
        if self.portfolio.position.side != 0 and (
            low <= self.lower_trigger or high >= self.upper_trigger
        ):
            return True
        for order in self.working:
            level = order.limit if order.limit is not None else order.stop
            if level is not None and low <= level <= high:
                return True
        return False

    def _fill_arrivals(self, bar: BarPrices) -> None:
        """Steps 3-4: the orders arriving at this open that act there, in the order placed."""
        arrived = self.working[:]  # a copy: fills and cancels take orders off the list
        for order in arrived:
            if order.post_only:
                self._refuse_post_only_taker(order, bar)
        for order in arrived:
            if _acts_at_open(order) and order.status is OrderStatus.PENDING:  # an OCO partner
                self._fill_at_open(order, bar)  # may have cancelled it

    def _fill_resting_at_open(self, bar: BarPrices) -> None:
        """Step 5: resting limit and stop orders the open is through fill there (in the order
        placed), each fill followed by its position's exits at the open."""
        open_ = bar.open
        for order in [o for o in self.working if is_through_at_open(o, open_)]:
            if order.status is OrderStatus.PENDING:
                price = (
                    open_
                    if order.type is OrderType.LIMIT
                    else self._slipped(open_, order.direction, bar)
                )
                self._execute(order, price, LIQUIDITY_OF[order.type], bar, open_)
                self._exit_at_open(bar)

    def _refuse_post_only_taker(self, order: Order, bar: BarPrices) -> None:
        """A post-only limit arriving at an open that is at or through its price would take."""
        if order.created_index != bar.index - 1 or not is_through_at_open(order, bar.open):
            return
        message = (
            f"post-only limit {order.limit:g} would have taken liquidity at the open "
            f"{bar.open:g}, so it was not placed in the book"
        )
        self.book.apply(
            order,
            OrderRejected(
                order.id, bar.time, bar.index, RejectReason.POST_ONLY_WOULD_TAKE, message
            ),
        )

    def _fill_at_open(self, order: Order, bar: BarPrices) -> None:
        """A market order at the open (taker, slippage), or an ioc/fok limit: at the open if
        the open is at or through its limit (taker: it crossed), else cancelled."""
        if order.type is OrderType.MARKET:
            price = self._slipped(bar.open, self._direction_of(order), bar)
        elif is_through_at_open(order, bar.open):
            price = bar.open
        else:
            self._cancel(order, CancelReason.NOT_FILLED_AT_ARRIVAL, bar.index, bar.time)
            self._cancel_partners(order, CancelReason.OCO_PARTNER_CANCELLED, bar.index)
            return
        self._execute(order, price, Liquidity.TAKER, bar, bar.open)

    def _walk(self, start: float, end: float, bar: BarPrices) -> None:
        """One leg of the path, from `start` to `end`: whatever it reaches fires, nearest first."""
        price = start
        while True:
            trigger = next_trigger(self.portfolio.position, self.working, price, end)
            if trigger is None:
                break
            price = trigger.level
            if trigger.order is not None:
                order = trigger.order
                if order.type is OrderType.LIMIT:
                    fill, liquidity = price, Liquidity.MAKER
                else:
                    fill, liquidity = self._slipped(price, order.direction, bar), Liquidity.TAKER
                self._execute(order, fill, liquidity, bar, price)
            elif trigger.reason is not None:
                self._fire_exit(trigger.reason, price, bar, at_open=False)
        self._move_best_price(end)

    def _move_best_price(self, price: float) -> None:
        """A trailing position's best price follows the path (the highest for a long)."""
        position = self.portfolio.position
        if position.trailing_stop is None and position.trailing_percent is None:
            return
        if (price - position.best_price) * position.side > 0:
            position.best_price = price

    def _slipped(self, price: float, direction: int, bar: BarPrices) -> float:
        return fills.slipped(price, direction, self.config.slippage_bps, bar.low, bar.high)

    def _liquidate_on_mark(self, mark: float, index: int, time: int) -> None:
        """With a mark series: liquidate the position when the mark price `mark` is at or
        beyond its liquidation price (app.engine.liquidation)."""
        if self.portfolio.is_marked and liquidation.is_mark_reached(self.portfolio.position, mark):
            self._liquidate(index, time)

    def _liquidate_on_mark_range(self, index: int, time: int) -> None:
        """With a mark series: the mark bar's adverse extreme (low for a long, high for a
        short) reaching the liquidation price liquidates before the traded path is walked."""
        side = self.portfolio.position.side
        if side != 0 and self.portfolio.is_marked:
            extreme = self._mark_lows[index] if side > 0 else self._mark_highs[index]
            self._liquidate_on_mark(extreme, index, time)

    def _liquidate_at_open(self, open_: float, mark_open: float, index: int, time: int) -> None:
        """Step 2: liquidate a position whose liquidation price the open gapped through: the
        mark's open where the data has a mark series, else the traded open."""
        if self.portfolio.is_marked:
            self._liquidate_on_mark(mark_open, index, time)
        else:
            self._liquidate_if_through(open_, index, time)

    def _liquidate_if_through(self, price: float, index: int, time: int) -> bool:
        """Liquidate the position when `price` (traded after it was opened) reached its LP."""
        position = self.portfolio.position
        # a liquidation price of 0.0 (flat, spot, or a long that cannot be liquidated) is
        # never reached: asked before every fill, so the common answer costs no call
        if position.liquidation_price > 0.0 and liquidation.is_reached(position, price):
            self._liquidate(index, time)
            return True
        return False

    def _direction_of(self, order: Order) -> int:
        if order.is_close:
            return -self.portfolio.position.side
        return order.direction

    def _resolve(self, order: Order, bar: BarPrices, *, is_close: bool) -> float | None:
        """The amount `order` (a close when `is_close`) executes now (setting a close's side
        from the position), or None when it was cancelled for having nothing to close or
        reduce."""
        position = self.portfolio.position
        if is_close or order.reduce_only:
            reason = (
                CancelReason.NO_POSITION_TO_CLOSE if is_close else CancelReason.NOTHING_TO_REDUCE
            )
            if position.side == 0 or (order.reduce_only and position.side != -order.direction):
                self._cancel(order, reason, bar.index, bar.time)
                self._cancel_partners(order, CancelReason.OCO_PARTNER_CANCELLED, bar.index)
                return None
            order.direction = -position.side
            if order.close_percentage is not None:
                return position.size * order.close_percentage / 100.0
            wanted = order.close_amount if order.close_amount is not None else order.amount
            return min(wanted, position.size)
        return order.amount

    def _execute(
        self, order: Order, price: float, liquidity: Liquidity, bar: BarPrices, point: float
    ) -> None:
        """Fill `order` at `price`; `point` is where the path was when it filled."""
        index, time = bar.index, bar.time
        is_close = order.is_close
        reduces = order.reduce_only or is_close
        amount = self._resolve(order, bar, is_close=is_close) if reduces else order.amount
        if amount is None:
            return
        position = self.portfolio.position
        if position.side == -order.direction and self._liquidate_if_through(price, index, time):
            position = self.portfolio.position
            if reduces:
                self._cancel(order, CancelReason.LIQUIDATED_FIRST, index, time)
                return
        fee_rate = self.fees.rate(liquidity)
        if order.time_in_force is TimeInForce.FOK:
            refusal = self._refusal_in_full(order, amount, price, fee_rate, bar)
            if refusal is not None:
                self.book.apply(order, OrderRejected(order.id, time, index, *refusal))
                return
        was_flat_or_flipping = position.side != order.direction
        result = self.portfolio.fill(
            order.direction, amount, price, fee_rate, order.leverage, time, index, ExitReason.SIGNAL
        )
        self._record_fill(order, result, price, liquidity, index, time)
        if order.oco_group is not None and result.filled > 0:
            self._cancel_partners(order, CancelReason.OCO_PARTNER_FILLED, index)
        opened = self.portfolio.position.side == order.direction and result.filled > 0
        if opened and not reduces:
            self._protect(order, point, is_new=was_flat_or_flipping)
            self._liquidate_if_through(point, index, time)  # a fill never leaves it beyond its LP

    def _protect(self, order: Order, point: float, *, is_new: bool) -> None:
        """Give the position `order` opened or added to the order's exits (replacing the set it
        had when the order brings any); a trailing stop trails from `point`."""
        position = self.portfolio.position
        has_exits = (
            order.stop_loss is not None
            or order.take_profit is not None
            or order.trailing_stop is not None
            or order.trailing_percent is not None
        )
        if has_exits:
            position.stop_loss = order.stop_loss
            position.take_profit = order.take_profit
            position.trailing_stop = order.trailing_stop
            position.trailing_percent = order.trailing_percent
        if is_new or has_exits:
            position.best_price = point

    def _refusal_in_full(
        self, order: Order, amount: float, price: float, fee_rate: float, bar: BarPrices
    ) -> Refusal | None:
        """Why the account could not carry all of a fill-or-kill order, tried on a copy."""
        trial = copy.copy(self.portfolio)
        trial.wallet = Wallet(self.portfolio.cash)  # the trial never touches the real cash
        trial.cross = None  # nor the real positions' liquidation prices
        trial.position = copy.copy(self.portfolio.position)
        result = trial.fill(
            order.direction,
            amount,
            price,
            fee_rate,
            order.leverage,
            bar.time,
            bar.index,
            ExitReason.SIGNAL,
        )
        if result.denied is None:
            return None
        return Refusal(
            RejectReason.FILL_OR_KILL,
            f"fok: the whole {amount:g} could not fill, so none did ({result.denied.message})",
        )

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
        trade = result.trade
        if trade is not None:
            trades = self.trades
            trades.append(trade)
            self.records.count_trades(len(trades))
        denied = result.denied
        if denied is None:  # the common case: all of it filled (the book's hot path)
            self.book.fill(order, time, index, price, result.filled, result.fee, liquidity, note)
            return
        event: OrderFilled | OrderRejected
        if result.filled > 0:
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

    def _exit_at_open(self, bar: BarPrices) -> None:
        """The position's exit the open is at or beyond, if any, fires at the open."""
        position = self.portfolio.position
        if not has_exits(position):  # a gap through the LP alone: steps 2 and `_execute`
            return
        found = exit_at_open(position, bar.open)
        if found is not None:
            self._fire_exit(found.reason, found.level, bar, at_open=True)

    def _fire_exit(
        self, reason: ExitReason, level: float, bar: BarPrices, *, at_open: bool
    ) -> None:
        """Close the whole position by its exit `reason` set at `level`: a stop (stop-loss,
        trailing) fills at the level or the open it gapped to, with slippage (taker); a
        take-profit at the level or the better open (maker); a liquidation at its price."""
        index, time = bar.index, bar.time
        if reason is ExitReason.LIQUIDATION:
            self._liquidate(index, time)
            return
        position = self.portfolio.position
        base = bar.open if at_open else level
        if reason is ExitReason.TAKE_PROFIT:
            order_type, price, liquidity = OrderType.LIMIT, base, Liquidity.MAKER
        else:
            order_type, liquidity = OrderType.STOP, Liquidity.TAKER
            price = self._slipped(base, -position.side, bar)
        order = self._engine_order(order_type, -position.side, position.size, index, time)
        if order_type is OrderType.STOP:
            order.stop = level
        else:
            order.limit = level
        result = self.portfolio.fill(
            order.direction,
            order.amount,
            price,
            self.fees.rate(liquidity),
            1.0,
            time,
            index,
            reason,
        )
        self._record_fill(order, result, price, liquidity, index, time, reason.value)

    def _liquidate(self, index: int, time: int) -> None:
        position = self.portfolio.position
        order = self._engine_order(OrderType.MARKET, -position.side, position.size, index, time)
        price = position.liquidation_price
        fee = self.portfolio.liquidation_fee()  # the clearance fee, shown on the order
        trade = self.portfolio.liquidate(time, index)
        self.trades.append(trade)
        self.book.apply(
            order,
            OrderFilled(
                order.id, time, index, price, trade.size, fee, None, None, trade.exit_reason.value
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
            symbol=self.market.symbol,
        )
        self.book.accept(order, time, index)
        return order

    # -- funding ----------------------------------------------------------------------------

    def _settle_funding(self, index: int, mark_price: float) -> None:
        if index not in self.funding_bars or self.portfolio.position.side == 0:
            return
        for instant in self.funding.instants(index):
            rate = self.funding.rate_at(instant)
            payment = self.portfolio.settle_funding(rate, mark_price)
            self.book.settled(FundingSettled(instant, index, rate, mark_price, payment))

    # -- the account after a bar ------------------------------------------------------------

    def mark(self, ledger: EquityLedger, index: int) -> None:
        """The account after bar `index`: cash, the position's margin, size and entry."""
        portfolio = self.portfolio
        position = portfolio.position
        ledger.mark(
            index,
            portfolio.cash,
            position.margin,
            position.side * position.size,
            position.entry_price,
        )

    def equity_at(self, index: int) -> float:
        """Cash + margin + unrealised PnL at bar `index`'s traded close (the live view's)."""
        return self.portfolio.equity(float(self.market.close[index]))

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


def _acts_at_open(order: Order) -> bool:
    """Market orders, and ioc/fok limits, act only at the open of the bar they arrive at."""
    return order.type is OrderType.MARKET or order.time_in_force is not TimeInForce.GTC
