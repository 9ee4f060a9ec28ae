"""The narrow object behind a strategy's methods: the only path from strategy code to the
simulated exchange. It hands out numbers, snapshots and read-only views, never the portfolio,
the broker or the data arrays, and it checks every value it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from app.engine import placement
from app.engine.broker import Broker
from app.engine.errors import IndicatorError
from app.engine.feed import Cursor, DataView, MarketData, SeriesView
from app.engine.indicator_settings import check_settings, plain_name, plain_settings
from app.engine.indicators import (
    IndicatorArg,
    IndicatorFrame,
    IndicatorSource,
    compute_indicator,
    make_view,
)
from app.engine.logbook import LogSink
from app.engine.orders import OrderTicket
from app.engine.timeframes import TimeframeView, build_timeframe
from app.engine.types import LogLevel


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
        "_source",
        "_timeframes",
        "data",
    )

    def __init__(
        self,
        market: MarketData,
        cursor: Cursor,
        broker: Broker,
        log: LogSink,
        source: IndicatorSource | None = None,
    ) -> None:
        self._market = market
        self._source = source  # a sweep trial's shared indicators; None: compute them here
        self._cursor = cursor
        self._broker = broker
        self._log = log
        self._frame: pd.DataFrame | None = None
        self._indicators: dict[
            tuple[str, str | None, tuple[tuple[str, str, IndicatorArg], ...]],
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

    def indicator(self, name: object, kwargs: object) -> SeriesView | IndicatorFrame:
        """An indicator on the run's bars, or on a higher timeframe with `timeframe="4h"`.

        `name` and `kwargs` are read once, into plain copies; only the copies are checked,
        cached on and computed with."""
        lowered = plain_name(name)
        self._require_initializing("indicators")
        settings = plain_settings(lowered, kwargs)
        rule = settings.pop("timeframe", None)
        if rule is not None and type(rule) is not str:
            raise IndicatorError("timeframe must be a string such as '4h'")
        args = check_settings(lowered, settings)
        # The type is part of the key: 3 and 3.0 are equal but name pandas-ta's columns apart.
        cache_key = (
            lowered,
            rule,
            tuple((key, type(value).__name__, value) for key, value in sorted(args.items())),
        )
        if cache_key not in self._indicators:
            if self._source is not None:  # checked here first, so errors read as in a run
                cursor = self._cursor if rule is None else self.timeframe(rule).cursor
                view = make_view(lowered, self._source(lowered, rule, args), cursor)
            elif rule is not None:
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
        """A buy (+1) or sell (-1); None when refused (an order with its id, denied with a
        reason code: an `OrderDenied` event and a log line)."""
        if self._is_initializing:  # stamped, like its log line, with the first traded bar
            index = self._log.current_index
            placement.deny_request(self._broker, index, direction, placement.IN_INITIALIZE)
            return None
        order = placement.place(
            self._broker,
            self._cursor.end - 1,
            direction,
            amount,
            leverage,
            limit,
            stop,
            stop_loss,
            take_profit,
            self._price(),
        )
        return None if order is None else order.ticket()

    def close_position(self, percentage: object) -> OrderTicket | None:
        if self._is_initializing:
            index = self._log.current_index
            placement.deny_close(self._broker, index, placement.CLOSE_IN_INITIALIZE)
            return None
        order = placement.place_close(self._broker, self._cursor.end - 1, percentage)
        return None if order is None else order.ticket()

    def cancel(self, order: object) -> bool:
        order_id = order.id if isinstance(order, OrderTicket) else order
        if not isinstance(order_id, int) or isinstance(order_id, bool):
            self._log.write(LogLevel.WARNING, "cancel needs an order returned by buy or sell")
            return False
        return self._broker.cancel(order_id)

    # -- logging ----------------------------------------------------------------------------

    def log(self, parts: tuple[object, ...]) -> None:
        """One line of the run's log; the sink bounds it (app.engine.logbook)."""
        self._log.write_parts(LogLevel.INFO, parts)
