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
"""

from __future__ import annotations

import math

import numpy as np

from app.engine import fills
from app.engine.bar_ranges import BlockRanges
from app.engine.config import RunConfig
from app.engine.feed import MarketData
from app.engine.logbook import LogSink
from app.engine.orders import Order
from app.engine.portfolio import FillResult, Portfolio
from app.engine.types import (
    ExitReason,
    LogLevel,
    Mode,
    OrderRecord,
    OrderStatus,
    OrderType,
    Trade,
)

NS_PER_HOUR = 3_600_000_000_000


class Broker:
    """Working orders and their execution; the portfolio changes only through here."""

    def __init__(self, market: MarketData, config: RunConfig, log: LogSink) -> None:
        self.market = market
        # Python numbers per index without building a numpy scalar.
        self._times = memoryview(market.time)
        self._opens = memoryview(market.open)
        self._highs = memoryview(market.high)
        self._lows = memoryview(market.low)
        self._closes = memoryview(market.close)
        self.config = config
        self.portfolio = Portfolio(config)
        self.log = log
        self.working: list[Order] = []
        self.finished: list[OrderRecord] = []  # final records, in the order the orders ended
        self.trades: list[Trade] = []
        self.protect_from_index = 0
        self._next_id = 1
        self._funding_ns = config.funding_interval_h * NS_PER_HOUR
        self._funding_indices = self._funding_bar_indices()
        self.funding_bars = frozenset(self._funding_indices)
        self._funding_next = 0  # position in _funding_indices of the next funding bar
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

    def next_order_id(self) -> int:
        order_id = self._next_id
        self._next_id += 1
        return order_id

    def submit(self, order: Order) -> None:
        self.working.append(order)
        self.next_work = 0

    def cancel(self, order_id: int, reason: str) -> bool:
        for order in self.working:
            if order.id == order_id:
                self._finish(order, OrderStatus.CANCELLED, reason)
                return True
        return False

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> None:
        order.status = status
        order.reason = reason
        self.working.remove(order)
        self.finished.append(order.record())

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
        funding = self._funding_indices
        while self._funding_next < len(funding) and funding[self._funding_next] < index:
            self._funding_next += 1
        stop = funding[self._funding_next] if self._funding_next < len(funding) else end
        lower, upper = self.lower_trigger, self.upper_trigger
        if lower == -math.inf and upper == math.inf:
            self.next_work = stop
        else:
            self.next_work = self._ranges.first_reaching(index, lower, upper, stop)

    def _refresh_triggers(self) -> None:
        position = self.portfolio.position
        lower, upper = -math.inf, math.inf
        if position.side != 0:
            adverse = [
                level
                for level in (position.liquidation_price or None, position.stop_loss)
                if level is not None
            ]
            favourable = position.take_profit
            if position.side > 0:
                lower = max(adverse, default=-math.inf)
                upper = favourable if favourable is not None else math.inf
            else:
                upper = min(adverse, default=math.inf)
                lower = favourable if favourable is not None else -math.inf
        self.lower_trigger, self.upper_trigger = lower, upper

    # -- a bar ------------------------------------------------------------------------------

    def process_bar(self, index: int) -> None:
        time = self._times[index]
        open_ = self._opens[index]
        high = self._highs[index]
        low = self._lows[index]
        self._settle_funding(index, time, open_)
        self._liquidate_if_through(open_, index, time)
        for order in [o for o in self.working if o.type is OrderType.MARKET]:
            price = fills.market_price(
                self._direction_of(order), open_, low, high, self.config.slippage_bps
            )
            self._execute(order, price, self.config.fee_taker, index, time)
        if self.portfolio.position.side != 0 and self.protect_from_index <= index:
            self._check_exits(index, time, open_, high, low)
        for order in [o for o in self.working if o.type is not OrderType.MARKET]:
            self._try_resting(order, index, time, open_, high, low)
        self._liquidate_if_through(self._closes[index], index, time)
        self._refresh_triggers()

    def _liquidate_if_through(self, price: float, index: int, time: int) -> bool:
        """Liquidate the position when `price` (traded after it was opened) reached its LP."""
        position = self.portfolio.position
        liq = position.liquidation_price
        if position.side != 0 and liq > 0.0 and (price - liq) * position.side <= 0:
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
            fee_rate = self.config.fee_maker
        elif order.stop is not None:
            price = fills.stop_price(
                order.direction, order.stop, open_, low, high, self.config.slippage_bps
            )
            fee_rate = self.config.fee_taker
        else:
            return
        if price is not None:
            self._execute(order, price, fee_rate, index, time, protect_next_bar=True)

    def _execute(
        self,
        order: Order,
        price: float,
        fee_rate: float,
        index: int,
        time: int,
        *,
        protect_next_bar: bool = False,
    ) -> None:
        position = self.portfolio.position
        if order.close_percentage is not None:
            if position.side == 0:
                self._finish(order, OrderStatus.CANCELLED, "no open position to close")
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
                self._finish(order, OrderStatus.CANCELLED, "the position was liquidated first")
                return
        was_flat_or_flipping = position.side != order.direction
        result = self.portfolio.fill(
            order.direction,
            amount,
            price,
            fee_rate,
            order.leverage,
            time,
            index,
            ExitReason.SIGNAL,
        )
        self._record_fill(order, result, price, time)
        opened = self.portfolio.position.side == order.direction and result.filled > 0
        if opened and order.close_percentage is None:
            if was_flat_or_flipping:
                self.protect_from_index = index + 1 if protect_next_bar else index
            if order.stop_loss is not None or order.take_profit is not None:
                self.portfolio.position.stop_loss = order.stop_loss
                self.portfolio.position.take_profit = order.take_profit

    def _record_fill(
        self, order: Order, result: FillResult, price: float, time: int, reason: str = ""
    ) -> None:
        self.trades.extend(result.trades)
        if result.filled > 0:
            order.filled_time = time
            order.filled_price = price
            order.filled_amount = result.filled
            order.fee = result.fee
        if result.denied is not None:
            part = "partly filled, rest refused" if result.filled > 0 else "refused"
            self.log.write(LogLevel.WARNING, f"{order.describe()} {part}: {result.denied}")
            status = OrderStatus.FILLED if result.filled > 0 else OrderStatus.REJECTED
            self._finish(order, status, result.denied)
        else:
            self._finish(order, OrderStatus.FILLED, reason)

    # -- protective exits -------------------------------------------------------------------

    def _check_exits(self, index: int, time: int, open_: float, high: float, low: float) -> None:
        position = self.portfolio.position
        side = position.side
        adverse_extreme = low if side > 0 else high
        favourable_extreme = high if side > 0 else low
        liq = position.liquidation_price if position.liquidation_price > 0.0 else None
        stop = position.stop_loss
        # The adverse level met first is the one nearest the open in the adverse direction.
        hit = [
            (level, kind)
            for level, kind in ((liq, "liq"), (stop, "sl"))
            if level is not None and (adverse_extreme - level) * side <= 0
        ]
        if hit:
            level, kind = max(hit, key=lambda item: item[0] * side)
            if kind == "liq":
                self._liquidate(index, time)
            else:
                price = fills.stop_price(-side, level, open_, low, high, self.config.slippage_bps)
                if price is not None:
                    self._exit(
                        ExitReason.STOP_LOSS,
                        OrderType.STOP,
                        level,
                        price,
                        self.config.fee_taker,
                        index,
                        time,
                    )
            return
        target = position.take_profit
        if target is not None and (favourable_extreme - target) * side >= 0:
            price = fills.limit_price(-side, target, open_, low, high)
            if price is not None:
                self._exit(
                    ExitReason.TAKE_PROFIT,
                    OrderType.LIMIT,
                    target,
                    price,
                    self.config.fee_maker,
                    index,
                    time,
                )

    def _exit(
        self,
        reason: ExitReason,
        order_type: OrderType,
        level: float,
        price: float,
        fee_rate: float,
        index: int,
        time: int,
    ) -> None:
        position = self.portfolio.position
        order = self._engine_order(order_type, -position.side, position.size, index, time)
        if order_type is OrderType.STOP:
            order.stop = level
        else:
            order.limit = level
        result = self.portfolio.fill(
            order.direction, order.amount, price, fee_rate, 1.0, time, index, reason
        )
        self._record_fill(order, result, price, time, reason.value)

    def _liquidate(self, index: int, time: int) -> None:
        position = self.portfolio.position
        order = self._engine_order(OrderType.MARKET, -position.side, position.size, index, time)
        price = position.liquidation_price
        trade = self.portfolio.liquidate(time, index)
        self.trades.append(trade)
        order.filled_time, order.filled_price, order.filled_amount = time, price, trade.size
        self._finish(order, OrderStatus.FILLED, ExitReason.LIQUIDATION.value)
        self.log.write(
            LogLevel.WARNING,
            f"position liquidated at {price:,.2f}: {trade.size:g} "
            f"{trade.side.value}, lost its margin ({-trade.pnl:,.2f} incl. fees)",
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
        self.working.append(order)
        return order

    # -- funding ----------------------------------------------------------------------------

    def _funding_bar_indices(self) -> list[int]:
        """Bars whose open settles funding, ascending: a funding instant falls in (previous
        open, open]. None when funding cannot change anything (spot, or a zero constant rate
        with no rate series)."""
        market = self.market
        if self.config.mode is Mode.SPOT or (
            self.config.funding_rate == 0.0 and len(market.funding_times) == 0
        ):
            return []
        periods = market.time // self._funding_ns
        indices: list[int] = (np.flatnonzero(np.diff(periods) > 0) + 1).tolist()
        return indices

    def _funding_due(self, index: int) -> int:
        """How many funding instants fall in (previous bar open, this bar open]."""
        if index not in self.funding_bars:
            return 0
        time = self.market.time
        return int(time[index] // self._funding_ns - time[index - 1] // self._funding_ns)

    def _settle_funding(self, index: int, time: int, mark_price: float) -> None:
        due = self._funding_due(index)
        if due <= 0 or self.portfolio.position.side == 0:
            return
        first = (int(self.market.time[index - 1]) // self._funding_ns + 1) * self._funding_ns
        for instant in range(first, first + due * self._funding_ns, self._funding_ns):
            self.portfolio.settle_funding(self._rate_at(instant), mark_price)

    def _rate_at(self, instant: int) -> float:
        times = self.market.funding_times
        if len(times) == 0:
            return self.config.funding_rate
        position = int(times.searchsorted(instant, side="right")) - 1
        if position < 0:
            return self.config.funding_rate
        return float(self.market.funding_rates[position])

    # -- the end ----------------------------------------------------------------------------

    def close_out(self, index: int) -> None:
        """End of data: expire working orders, close the position at the last close."""
        for order in list(self.working):
            self._finish(order, OrderStatus.EXPIRED, "the data ended before it filled")
        position = self.portfolio.position
        if position.side == 0:
            return
        time = int(self.market.time[index])
        price = float(self.market.close[index])
        order = self._engine_order(OrderType.MARKET, -position.side, position.size, index, time)
        result = self.portfolio.fill(
            order.direction,
            order.amount,
            price,
            self.config.fee_taker,
            1.0,
            time,
            index,
            ExitReason.END_OF_DATA,
        )
        self._record_fill(order, result, price, time, ExitReason.END_OF_DATA.value)
        self._refresh_triggers()
