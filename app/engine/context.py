"""The narrow object behind a strategy's methods: the only path from strategy code to the
simulated exchange. It hands out numbers, snapshots and read-only views, never the portfolio,
the broker or the data arrays, and it checks every value it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from app.engine.broker import Broker
from app.engine.errors import IndicatorError
from app.engine.feed import Cursor, DataView, MarketData, SeriesView
from app.engine.indicators import IndicatorArg, IndicatorFrame, compute_indicator, make_view
from app.engine.logbook import LogSink
from app.engine.orders import Order, OrderTicket, as_number, as_price, check_request
from app.engine.timeframes import TimeframeView, build_timeframe
from app.engine.types import LogLevel, OrderType

MAX_LOG_CHARS = 2_000


@dataclass(frozen=True, slots=True)
class PositionInfo:
    """A snapshot of the open position; `size` is signed (negative for a short)."""

    size: float
    side: str  # "long", "short" or "flat"
    entry_price: float
    leverage: float
    margin: float
    liquidation_price: float | None
    unrealized_pnl: float
    stop_loss: float | None
    take_profit: float | None

    @property
    def is_open(self) -> bool:
        return self.size != 0.0

    @property
    def is_long(self) -> bool:
        return self.size > 0.0

    @property
    def is_short(self) -> bool:
        return self.size < 0.0

    def __bool__(self) -> bool:
        return self.size != 0.0


class StrategyContext:
    """Binds one strategy instance to one run."""

    __slots__ = (
        "_broker",
        "_cursor",
        "_frame",
        "_indicators",
        "_is_initializing",
        "_log",
        "_market",
        "_timeframes",
        "data",
    )

    def __init__(self, market: MarketData, cursor: Cursor, broker: Broker, log: LogSink) -> None:
        self._market = market
        self._cursor = cursor
        self._broker = broker
        self._log = log
        self._frame: pd.DataFrame | None = None
        self._indicators: dict[
            tuple[str, str | None, tuple[tuple[str, IndicatorArg], ...]],
            SeriesView | IndicatorFrame,
        ] = {}
        self._is_initializing = True
        self._timeframes: dict[str, TimeframeView] = {}
        self.data = DataView(market, cursor)

    def end_initialization(self) -> None:
        self._is_initializing = False
        self._frame = None

    # -- reading ----------------------------------------------------------------------------

    def _price(self) -> float:
        return float(self._market.close[max(self._cursor.end - 1, 0)])

    def cash(self) -> float:
        return self._broker.portfolio.cash

    def equity(self) -> float:
        return self._broker.portfolio.equity(self._price())

    def position_size(self) -> float:
        position = self._broker.portfolio.position
        return position.side * position.size

    def margin_ratio(self) -> float:
        return self._broker.portfolio.margin_ratio(self._price())

    def position(self) -> PositionInfo:
        position = self._broker.portfolio.position
        if position.side == 0:
            return PositionInfo(0.0, "flat", 0.0, 0.0, 0.0, None, 0.0, None, None)
        notional = position.size * position.entry_price
        return PositionInfo(
            size=position.side * position.size,
            side="long" if position.side > 0 else "short",
            entry_price=position.entry_price,
            leverage=notional / position.margin if position.margin > 0 else 0.0,
            margin=position.margin,
            liquidation_price=position.liquidation_price or None,
            unrealized_pnl=position.unrealized(self._price()),
            stop_loss=position.stop_loss,
            take_profit=position.take_profit,
        )

    def open_orders(self) -> list[OrderTicket]:
        return [order.ticket() for order in self._broker.working]

    # -- indicators -------------------------------------------------------------------------

    def _require_initializing(self, what: str) -> None:
        if not self._is_initializing:
            raise IndicatorError(
                f"{what} are declared in initialize(), which computes them once for the whole run"
            )

    def indicator(self, name: object, kwargs: Mapping[str, object]) -> SeriesView | IndicatorFrame:
        """An indicator on the run's bars, or on a higher timeframe with `timeframe="4h"`."""
        if not isinstance(name, str):
            raise IndicatorError("the indicator name must be a string such as 'sma'")
        self._require_initializing("indicators")
        settings = dict(kwargs)
        rule = settings.pop("timeframe", None)
        args: dict[str, IndicatorArg] = {}
        for key, value in settings.items():
            if not isinstance(value, bool | int | float | str):
                raise IndicatorError(
                    f"{name}: argument {key}={value!r} must be a number, a bool or a string"
                )
            args[key] = value
        lowered = name.lower()
        if rule is not None and not isinstance(rule, str):
            raise IndicatorError("timeframe must be a string such as '4h'")
        cache_key = (lowered, rule, tuple(sorted(args.items())))
        if cache_key not in self._indicators:
            if rule is not None:
                view = self.timeframe(rule).compute(lowered, args)
            else:
                if self._frame is None:
                    self._frame = self._market.to_frame()
                view = make_view(
                    lowered, compute_indicator(self._frame, lowered, args), self._cursor
                )
            self._indicators[cache_key] = view
        return self._indicators[cache_key]

    def timeframe(self, rule: object) -> TimeframeView:
        """The run's bars aggregated to `rule` ("15m", "4h", "1d", ...), closed bars only."""
        if not isinstance(rule, str):
            raise IndicatorError("a timeframe is a string such as '4h'")
        self._require_initializing("timeframes")
        if rule not in self._timeframes:
            self._timeframes[rule] = build_timeframe(
                rule, self._market, self._cursor, self.indicator
            )
        return self._timeframes[rule]

    # -- trading ----------------------------------------------------------------------------

    def place(
        self,
        direction: int,
        amount: object,
        leverage: object,
        limit: object = None,
        stop: object = None,
        stop_loss: object = None,
        take_profit: object = None,
    ) -> OrderTicket | None:
        """A buy (+1) or sell (-1); None (and a log line with the reason) when refused."""
        verb = "buy" if direction > 0 else "sell"
        if self._is_initializing:
            self._refuse(verb, "orders are placed from on_data(), once bars have closed")
            return None
        try:
            size = as_number(amount, "amount")
            lev = as_number(leverage, "leverage")
            if limit is not None or stop is not None:
                limit, stop = as_price(limit, "limit"), as_price(stop, "stop")
            if stop_loss is not None or take_profit is not None:
                stop_loss = as_price(stop_loss, "stop_loss")
                take_profit = as_price(take_profit, "take_profit")
        except ValueError as error:
            self._refuse(verb, str(error))
            return None
        position = self._broker.portfolio.position
        reason = check_request(
            direction=direction,
            amount=size,
            leverage=lev,
            limit=limit,
            stop=stop,
            stop_loss=stop_loss,
            take_profit=take_profit,
            reference_price=self._price(),
            position_side=position.side,
            position_size=position.size,
            config=self._broker.config,
        )
        if reason is not None:
            self._refuse(verb, reason)
            return None
        order_type = (
            OrderType.LIMIT
            if limit is not None
            else OrderType.STOP
            if stop is not None
            else OrderType.MARKET
        )
        order = self._new_order(direction, order_type, size, lev)
        order.limit, order.stop = limit, stop
        order.stop_loss, order.take_profit = stop_loss, take_profit
        self._broker.submit(order)
        return order.ticket()

    def close_position(self, percentage: object) -> OrderTicket | None:
        if self._is_initializing:
            self._refuse("close_position", "orders are placed from on_data()")
            return None
        try:
            pct = as_number(percentage, "percentage")
        except ValueError as error:
            self._refuse("close_position", str(error))
            return None
        if not 0.0 < pct <= 100.0:
            self._refuse("close_position", f"percentage must be in (0, 100], got {pct:g}")
            return None
        if self._broker.portfolio.position.side == 0:
            return None
        order = self._new_order(-self._broker.portfolio.position.side, OrderType.MARKET, 0.0, 1.0)
        order.close_percentage = pct
        self._broker.submit(order)
        return order.ticket()

    def cancel(self, order: object) -> bool:
        order_id = order.id if isinstance(order, OrderTicket) else order
        if not isinstance(order_id, int) or isinstance(order_id, bool):
            self._log.write(LogLevel.WARNING, "cancel needs an order returned by buy or sell")
            return False
        return self._broker.cancel(order_id, "cancelled by the strategy")

    def _new_order(
        self, direction: int, order_type: OrderType, amount: float, leverage: float
    ) -> Order:
        index = self._cursor.end - 1
        return Order(
            id=self._broker.next_order_id(),
            direction=direction,
            type=order_type,
            amount=amount,
            limit=None,
            stop=None,
            leverage=leverage,
            stop_loss=None,
            take_profit=None,
            created_index=index,
            created_time=int(self._market.time[index]),
        )

    def _refuse(self, verb: str, reason: str) -> None:
        self._log.write(LogLevel.WARNING, f"{verb} refused: {reason}")

    # -- logging ----------------------------------------------------------------------------

    def log(self, parts: tuple[object, ...]) -> None:
        message = " ".join(str(part) for part in parts)
        if len(message) > MAX_LOG_CHARS:
            message = message[:MAX_LOG_CHARS] + "... (line cut)"
        self._log.write(LogLevel.INFO, message)
