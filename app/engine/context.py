"""The narrow object behind a strategy's methods: the only path from strategy code to the
simulated exchange. It hands out numbers, snapshots and read-only views, never the portfolio,
the broker or the data arrays, and it checks every value it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from app.deferred_imports import deferred
from app.engine import placement
from app.engine.account import Exchange, SymbolAccount
from app.engine.broker import Broker
from app.engine.errors import IndicatorError
from app.engine.exits import trailing_level
from app.engine.feed import Cursor, DataView, IntArray, MarketData, SeriesView, ns_to_datetime
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
from app.engine.record_views import OrderHistory, TradeHistory
from app.engine.results import IndicatorSetting
from app.engine.timeframes import TimeframeView, build_timeframe
from app.engine.types import LogLevel
from app.engine.wake import WakePlan
from app.engine.warmup import DeclaredView, ready_index

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")


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
    entry_time: datetime | None = None  # when it opened (UTC, like bar.time); None when flat
    entry_bar: int | None = None  # the index of the bar it opened in, like bar.index
    trailing_stop: float | None = None  # the trailing stop's price now, when one is set

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
        "_account",
        "_broker",
        "_cursor",
        "_frame",
        "_indicator_calls",
        "_indicators",
        "_is_initializing",
        "_log",
        "_marked_closes",
        "_market",
        "_on_indicator",
        "_ready",
        "_source",
        "_symbol_indicators",
        "_timeframes",
        "_trade_closes",
        "_wake",
        "data",
        "portfolio",
    )

    def __init__(
        self,
        market: MarketData,
        cursor: Cursor,
        broker: Exchange,
        log: LogSink,
        source: IndicatorSource | None = None,
        on_indicator: Callable[[int], None] | None = None,
    ) -> None:
        self._market = market
        # equity, margin ratio and unrealised PnL are marked at the mark close where the data
        # has a mark series (as the exchange marks them), at the trade close otherwise
        self._marked_closes = memoryview(market.marked("close"))
        self._trade_closes = memoryview(market.close)  # Python floats without a numpy scalar
        self._source = source  # a sweep trial's shared indicators; None: compute them here
        # called with the number of indicator calls so far after each one computed
        self._on_indicator = on_indicator
        self._indicator_calls = 0
        self._cursor = cursor
        # a run over several symbols: the account, whose primary broker is `_broker`
        self._account = broker if isinstance(broker, SymbolAccount) else None
        self._broker = broker.primary if isinstance(broker, SymbolAccount) else broker
        # the primary's portfolio, for Strategy.get_position_size's one-frame hot path (the
        # object lives as long as its broker; a checkpoint restores into it)
        self.portfolio = self._broker.portfolio
        self._log = log
        self._frame: pd.DataFrame | None = None
        self._indicators: dict[
            tuple[str, str | None, tuple[tuple[str, str, IndicatorArg], ...]],
            SeriesView | IndicatorFrame,
        ] = {}
        self._is_initializing = True
        # indicators on another symbol's bars: (symbol, name, settings) -> view
        self._symbol_indicators: dict[
            tuple[str, str, tuple[tuple[str, str, IndicatorArg], ...]], SeriesView | IndicatorFrame
        ] = {}
        self._timeframes: dict[str, TimeframeView] = {}
        # is_ready's answers: id(view) -> (view, first ready bar); the view is held so its
        # id is never reused while cached
        self._ready: dict[int, tuple[object, int]] = {}
        self.data = DataView(market, cursor)
        self._wake = WakePlan(cursor)  # what wake_on declared (app.engine.wake)

    def end_initialization(self) -> None:
        self._is_initializing = False
        self._frame = None

    # -- reading ----------------------------------------------------------------------------

    def _price(self) -> float:
        """The price the account is marked at now: the current bar's mark (or trade) close."""
        return self._marked_closes[max(self._cursor.end - 1, 0)]

    def _trade_close(self) -> float:
        """The current bar's traded close: what orders are sized and checked against."""
        return self._trade_closes[max(self._cursor.end - 1, 0)]

    def _broker_of(self, symbol: object) -> Broker:
        """The broker of `symbol` (None: the primary symbol's); ValueError naming the run's
        symbols for one it does not trade."""
        if symbol is None:
            return self._broker
        if type(symbol) is not str:  # an exact str: nothing of the strategy's runs here
            raise ValueError(f"symbol must be text such as 'ETHUSDT', not {type(symbol).__name__}")
        if symbol == self._market.symbol:
            return self._broker
        if self._account is None:
            raise ValueError(
                f"symbol {symbol!r} is not traded in this run; its symbol is "
                f"{self._market.symbol} (name more with another --data SYMBOL=PATH)"
            )
        broker = self._account.brokers.get(symbol)
        if broker is None:
            raise ValueError(
                f"symbol {symbol!r} is not traded in this run; its symbols are "
                f"{', '.join(self._account.brokers)}"
            )
        return broker

    def _price_of(self, broker: Broker) -> float:
        """The price `broker`'s position is marked at now: its symbol's current mark close."""
        if broker is self._broker:
            return self._price()
        return float(broker.market.marked("close")[max(self._cursor.end - 1, 0)])

    def cash(self) -> float:
        return self._broker.portfolio.cash

    def equity(self) -> float:
        if self._account is None:
            return self._broker.portfolio.equity(self._price())
        return self.cash() + sum(
            broker.portfolio.position.margin
            + broker.portfolio.position.unrealized(self._price_of(broker))
            for broker in self._account.brokers.values()
        )

    def position_size(self, symbol: object = None) -> float:
        broker = self._broker if symbol is None else self._broker_of(symbol)  # None: hot path
        position = broker.portfolio.position
        return position.side * position.size

    def margin_ratio(self, symbol: object = None) -> float:
        broker = self._broker_of(symbol)
        return broker.portfolio.margin_ratio(self._price_of(broker))

    def positions(self) -> dict[str, PositionInfo]:
        """Every symbol's position (flat ones too), by symbol, the primary first."""
        if self._account is None:
            return {self._market.symbol: self.position()}
        return {symbol: self.position(symbol) for symbol in self._account.brokers}

    def position(self, symbol: object = None) -> PositionInfo:
        broker = self._broker_of(symbol)
        position = broker.portfolio.position
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
            unrealized_pnl=position.unrealized(self._price_of(broker)),
            stop_loss=position.stop_loss,
            take_profit=position.take_profit,
            entry_time=ns_to_datetime(position.entry_time),
            entry_bar=position.entry_index,
            trailing_stop=trailing_level(position),
        )

    def open_orders(self) -> list[OrderTicket]:
        working = self._broker.working if self._account is None else self._account.working
        return [order.ticket() for order in working]

    def trades(self) -> TradeHistory:
        """The closed trades, a read-only view (app.engine.record_views)."""
        return TradeHistory(self._broker.trades)

    def orders(self) -> OrderHistory:
        """Every order so far, a read-only view (app.engine.record_views)."""
        working = self._broker.working if self._account is None else self._account.working
        return OrderHistory(self._broker.finished, working)

    # -- indicators -------------------------------------------------------------------------

    def _require_initializing(self, what: str) -> None:
        if not self._is_initializing:
            raise IndicatorError(
                f"{what} are declared in initialize(), which computes them once for the whole run"
            )

    def indicator(
        self, name: object, kwargs: object, symbol: object = None
    ) -> SeriesView | IndicatorFrame:
        """An indicator on the run's bars, or on a higher timeframe with `timeframe="4h"`, or
        on another symbol's bars with `symbol="ETHUSDT"` (a run over several symbols).

        `name` and `kwargs` are read once, into plain copies; only the copies are checked,
        cached on and computed with."""
        lowered = plain_name(name)
        self._require_initializing("indicators")
        settings = plain_settings(lowered, kwargs)
        broker = self._broker_of(symbol)
        if broker is not self._broker:
            return self._symbol_indicator(lowered, settings, broker)
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
            self._indicator_calls += 1
            if self._on_indicator is not None:
                self._on_indicator(self._indicator_calls)
        else:
            self._indicator_calls += 1
        return self._indicators[cache_key]

    def _symbol_indicator(
        self, name: str, settings: dict[str, IndicatorArg], broker: Broker
    ) -> SeriesView | IndicatorFrame:
        """`name` computed on `broker`'s symbol's bars (same cursor: they share the bars)."""
        if "timeframe" in settings:
            raise IndicatorError(
                "an indicator on another symbol's bars is computed on the run's bar size; "
                "timeframe= works on the primary symbol's bars only"
            )
        args = check_settings(name, settings)
        key = (
            broker.market.symbol,
            name,
            tuple((k, type(value).__name__, value) for k, value in sorted(args.items())),
        )
        view = self._symbol_indicators.get(key)
        if view is None:
            frame = broker.market.to_frame()
            view = make_view(name, compute_indicator(frame, name, args), self._cursor)
            self._symbol_indicators[key] = view
        self._indicator_calls += 1
        if self._on_indicator is not None:
            self._on_indicator(self._indicator_calls)
        return view

    def declared_indicators(self) -> tuple[IndicatorSetting, ...]:
        """Each distinct indicator setting the strategy declared, in declaration order."""
        return tuple(
            IndicatorSetting(name, rule, tuple((key, value) for key, _, value in args))
            for name, rule, args in self._indicators
        )

    def declared_views(self) -> list[tuple[str, DeclaredView]]:
        """Every indicator and higher timeframe initialize() declared, labelled as the log
        names them ("sma(length=20)", "rsi(length=14, timeframe=4h)", "timeframe 4h")."""
        views: list[tuple[str, DeclaredView]] = []
        for (name, rule, args), view in self._indicators.items():
            settings = [f"{key}={value}" for key, _, value in args]
            settings += [f"timeframe={rule}"] if rule is not None else []
            views.append((f"{name}({', '.join(settings)})", view))
        views += [(f"timeframe {rule}", view) for rule, view in self._timeframes.items()]
        for (symbol, name, args), view in self._symbol_indicators.items():
            listed = "".join(f"{key}={value}, " for key, _, value in args)
            views.append((f"{name}({listed}symbol={symbol})", view))
        return views

    def is_ready(self, view: object, bars: object) -> bool:
        """True when `view`'s warm-up (app.engine.warmup) ended at least `bars - 1` bars
        before the current bar: `bars` of its values are visible."""
        if not isinstance(view, SeriesView | IndicatorFrame | TimeframeView):
            raise TypeError(
                "is_ready takes a series or indicator, such as self.data.close or a value "
                f"returned by self.indicator(...), not {type(view).__name__}"
            )
        if isinstance(bars, bool) or not isinstance(bars, int) or bars < 1:
            raise TypeError("is_ready(x, bars=N): N is a whole number of bars, 1 or more")
        cached = self._ready.get(id(view))
        if cached is None or cached[0] is not view:
            cached = self._ready[id(view)] = (view, ready_index(view, len(self._market)))
        return self._cursor.end - 1 >= cached[1] + bars - 1

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

    def wake_on(self, condition: tuple[object, ...], every: object) -> None:
        """Declare bars on_data must be called on (app.engine.wake); initialize() only."""
        if not self._is_initializing:
            raise TypeError(
                "wake_on is declared in initialize(): the engine works out the bars it "
                "fires on once, before the first bar"
            )
        self._wake.declare(condition, every)

    def wake_bars(self, first: int, stop: int) -> IntArray | None:
        """The bars `first` to `stop - 1` the wake_on declarations call on_data on, sorted;
        None when initialize() declared none (on_data is called on every bar)."""
        return self._wake.bars(first, stop) if self._wake.is_declared else None

    # -- trading ----------------------------------------------------------------------------

    def place(
        self, direction: int, request: placement.OrderRequest, symbol: object = None
    ) -> OrderTicket | None:
        """A buy (+1) or sell (-1) of `symbol` (None: the primary); None when refused (an
        order with its id, denied with a reason code: an `OrderDenied` event and a log line)."""
        broker = self._broker if symbol is None else self._broker_of(symbol)  # None: hot path
        if self._is_initializing:  # stamped, like its log line, with the first traded bar
            index = self._log.current_index
            placement.deny_request(broker, index, direction, placement.IN_INITIALIZE)
            return None
        close = (
            self._trade_close()
            if broker is self._broker
            else float(broker.market.close[max(self._cursor.end - 1, 0)])
        )
        index = self._cursor.end - 1
        # several symbols: a fraction of equity, or risk, is of the whole account's equity
        equity = None if self._account is None else self._account.equity_at(max(index, 0))
        order = placement.place(broker, index, direction, request, close, equity)
        return None if order is None else order.ticket()

    def close_position(
        self, percentage: object, amount: object = None, symbol: object = None
    ) -> OrderTicket | None:
        broker = self._broker if symbol is None else self._broker_of(symbol)  # None: hot path
        if self._is_initializing:
            index = self._log.current_index
            placement.deny_close(broker, index, placement.CLOSE_IN_INITIALIZE)
            return None
        order = placement.place_close(broker, self._cursor.end - 1, percentage, amount)
        return None if order is None else order.ticket()

    def cancel(self, order: object) -> bool:
        order_id = order.id if isinstance(order, OrderTicket) else order
        if not isinstance(order_id, int) or isinstance(order_id, bool):
            self._log.write(LogLevel.WARNING, "cancel needs an order returned by buy or sell")
            return False
        if self._account is not None:
            holder = self._account.find(order_id)
            return holder is not None and holder.cancel(order_id)
        return self._broker.cancel(order_id)

    # -- logging ----------------------------------------------------------------------------

    def log(self, parts: tuple[object, ...]) -> None:
        """One line of the run's log; the sink bounds it (app.engine.logbook)."""
        self._log.write_parts(LogLevel.INFO, parts)
