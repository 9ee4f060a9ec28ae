"""The strategy contract users write against: the `Strategy` base class and the helpers that
are injected beside it (`crossover`, `crossunder`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from app.engine.config import ParamValue
from app.engine.context import PositionInfo, StrategyContext
from app.engine.errors import StrategyDefinitionError
from app.engine.feed import Bar, DataView, SeriesView
from app.engine.indicators import IndicatorFrame
from app.engine.orders import OrderTicket
from app.engine.placement import OrderRequest
from app.engine.record_views import OrderHistory, TradeHistory
from app.engine.timeframes import TimeframeView
from app.engine.warmup import WarmupSetting


class Strategy:
    """Subclass this, set `params`, and write `initialize` and `on_data`.

    Series read like backtesting.py: `x[-1]` is the current bar, `x[-2]` the one before. Orders
    placed in `on_data` at bar t fill at bar t+1. Amounts are in base units (1.0 = one BTC).
    """

    params: ClassVar[dict[str, ParamValue]] = {}
    warmup: ClassVar[WarmupSetting] = None
    """Bars before the first `on_data`: None waits until every indicator declared in
    `initialize()` has a value, a whole number is that many bars (0: no warm-up), a duration
    such as "3d" that much time (app/engine/warmup.py). May also be set in `initialize()`."""

    _context: StrategyContext

    def initialize(self) -> None:
        """Called once before the first bar: declare indicators here."""

    def on_data(self, bar: Bar) -> None:
        """Called once per bar, after it closes."""
        raise NotImplementedError

    # -- data -------------------------------------------------------------------------------

    @property
    def data(self) -> DataView:
        return self._context.data

    def indicator(
        self, name: str, /, *, symbol: str | None = None, **kwargs: Any
    ) -> SeriesView | IndicatorFrame:
        """A pandas-ta indicator by name (`"sma"`, `"macd"`, ...), with its keyword settings;
        `timeframe="4h"` computes it on that higher timeframe's closed bars, `symbol="ETHUSDT"`
        on that symbol's bars (a run over several symbols; default: the primary's). The name
        is positional, so a setting may itself be called `name` (cdl_pattern's)."""
        return self._context.indicator(name, kwargs, symbol)

    def is_ready(self, series: SeriesView | IndicatorFrame | TimeframeView, bars: int = 1) -> bool:
        """True once the warm-up of `series` is over and `bars` of its values are visible:
        its first value is on the current bar or `bars - 1` or more bars before it (the rule
        of the automatic warm-up, app/engine/warmup.py). For strategies that set `warmup = 0`."""
        return self._context.is_ready(series, bars)

    def timeframe(self, rule: str) -> TimeframeView:
        """The run's bars aggregated to `rule` ("15m", "1h", "4h", "1d", "1w"): series that only
        ever show bars that have closed by the current bar."""
        return self._context.timeframe(rule)

    def wake_on(self, *condition: object, every: int | None = None) -> None:
        """Call on_data only on the bars that need it (declared in initialize(); each call
        adds to the others): `wake_on("cross", a, b)` where a crosses b either way,
        `"crossover"` / `"crossunder"` one way, `"above"` / `"below"` on every bar a is
        above / below b (b: a series or a number), `every=N` every N bars from the first.
        on_data is also called on the first bar after the warm-up and on every bar where an
        order filled or ended, an exit or liquidation closed a trade, or funding settled.
        Without any wake_on, on_data is called on every bar (docs/engine.md, "Wake-ups")."""
        self._context.wake_on(condition, every)

    # -- trading ----------------------------------------------------------------------------

    def buy(
        self,
        amount: float | None = None,
        leverage: float = 1.0,
        *,
        limit: float | None = None,
        stop: float | None = None,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        trailing_stop: float | None = None,
        trailing_percent: float | None = None,
        quote: float | None = None,
        equity_fraction: float | None = None,
        risk: float | None = None,
        reduce_only: bool = False,
        post_only: bool = False,
        time_in_force: str = "gtc",
        oco: OrderTicket | None = None,
        symbol: str | None = None,
    ) -> OrderTicket | None:
        """Buy `amount` base units (market, or at `limit`, or once `stop` trades).

        Size: `amount` base units, or `quote` (notional in quote units), `equity_fraction`
        (margin plus fee as a share of equity) or `risk` (share of equity lost at the
        `stop_loss`), worked out at the order's price when placed. Exits for the position:
        `stop_loss`, `take_profit`, `trailing_stop` (a distance) or `trailing_percent`.
        `reduce_only` only reduces a short; `post_only` limits are refused if they would take;
        `time_in_force` "ioc"/"fok" fills at the next open or never; `oco=ticket` pairs two
        resting orders: one filling cancels the other. `symbol` names what to trade in a run
        over several symbols (default: the primary, `self.data`'s).
        """
        request = OrderRequest(
            amount,
            leverage,
            limit,
            stop,
            stop_loss,
            take_profit,
            trailing_stop,
            trailing_percent,
            quote,
            equity_fraction,
            risk,
            reduce_only,
            post_only,
            time_in_force,
            oco,
        )
        return self._context.place(1, request, symbol)

    def sell(
        self,
        amount: float | None = None,
        leverage: float = 1.0,
        *,
        limit: float | None = None,
        stop: float | None = None,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        trailing_stop: float | None = None,
        trailing_percent: float | None = None,
        quote: float | None = None,
        equity_fraction: float | None = None,
        risk: float | None = None,
        reduce_only: bool = False,
        post_only: bool = False,
        time_in_force: str = "gtc",
        oco: OrderTicket | None = None,
        symbol: str | None = None,
    ) -> OrderTicket | None:
        """Sell `amount` base units; in futures mode a sell beyond the long opens a short.
        The same options as `buy`; `reduce_only` only reduces a long."""
        request = OrderRequest(
            amount,
            leverage,
            limit,
            stop,
            stop_loss,
            take_profit,
            trailing_stop,
            trailing_percent,
            quote,
            equity_fraction,
            risk,
            reduce_only,
            post_only,
            time_in_force,
            oco,
        )
        return self._context.place(-1, request, symbol)

    def close_position(
        self, percentage: float = 100.0, *, amount: float | None = None, symbol: str | None = None
    ) -> OrderTicket | None:
        """Close `percentage` of the open position, or `amount` base units of it (at most all
        of it), at the next bar's open; `symbol`'s position in a run over several symbols."""
        return self._context.close_position(percentage, amount, symbol)

    def cancel(self, order: OrderTicket) -> bool:
        """Cancel a working order; False when it already filled or ended."""
        return self._context.cancel(order)

    # -- information ------------------------------------------------------------------------

    @property
    def position(self) -> PositionInfo:
        """The primary symbol's position (`self.positions[symbol]` for any symbol's)."""
        return self._context.position()

    @property
    def positions(self) -> dict[str, PositionInfo]:
        """Every symbol's position by symbol (flat ones too), the primary's first."""
        return self._context.positions()

    @property
    def open_orders(self) -> list[OrderTicket]:
        return self._context.open_orders()

    @property
    def trades(self) -> TradeHistory:
        """The closed trades so far, oldest first: read-only records with `entry_time`,
        `exit_time` (epoch ns UTC), `entry_index`, `exit_index`, `side`, `size`,
        `entry_price`, `exit_price`, `pnl` (net of fees), `fees`, `exit_reason`."""
        return self._context.trades()

    @property
    def orders(self) -> OrderHistory:
        """Every order so far, read-only records: the ended ones in the order they ended,
        then the working ones (status "pending")."""
        return self._context.orders()

    def get_position_size(self, symbol: str | None = None) -> float:
        """Signed position size in base units (negative when short); the primary symbol's
        unless `symbol` names another of the run's."""
        if symbol is None:  # the hot path, read here: one call per bar fewer
            position = self._context.portfolio.position
            return position.side * position.size
        return self._context.position_size(symbol)

    def get_cash(self) -> float:
        """Free cash in quote units (not counting margin locked in the position)."""
        return self._context.cash()

    def get_equity(self) -> float:
        """Cash + margin + unrealised PnL at the current close (every symbol's positions)."""
        return self._context.equity()

    def get_margin_ratio(self, symbol: str | None = None) -> float:
        """Maintenance margin / margin balance of the primary's (or `symbol`'s) position;
        liquidation happens at 1.0."""
        return self._context.margin_ratio(symbol)

    def log(self, *parts: object) -> None:
        """A line for the run's log and the live view."""
        self._context.log(parts)


def _last_two(value: object) -> tuple[float, float]:
    if type(value) is SeriesView:  # the hot path: read the window directly
        end = value._cursor.end
        if end < 2:
            return math.nan, math.nan
        memory = value._memory
        return memory[end - 2], memory[end - 1]
    if isinstance(value, int | float):
        return float(value), float(value)
    if isinstance(value, Sequence) or hasattr(value, "__getitem__"):
        try:
            return float(value[-2]), float(value[-1])
        except (IndexError, TypeError, ValueError):
            return math.nan, math.nan
    raise TypeError(f"crossover needs series or numbers, got {type(value).__name__}")


def crossover(a: object, b: object) -> bool:
    """True when `a` was below `b` on the previous bar and is above it now."""
    if type(a) is SeriesView and type(b) is SeriesView:  # the hot path: read the windows
        cursor = a._cursor
        if cursor is b._cursor:
            end = cursor.end
            if end < 2:
                return False
            a_mem, b_mem = a._memory, b._memory
            return a_mem[end - 1] > b_mem[end - 1] and a_mem[end - 2] < b_mem[end - 2]
    a_prev, a_now = _last_two(a)
    b_prev, b_now = _last_two(b)
    return a_prev < b_prev and a_now > b_now


def crossunder(a: object, b: object) -> bool:
    """True when `a` was above `b` on the previous bar and is below it now."""
    return crossover(b, a)


def coerce_params(
    defaults: Mapping[str, ParamValue], overrides: Mapping[str, object]
) -> dict[str, ParamValue]:
    """Defaults with overrides applied; an override takes the type of its default.

    Strings (from a command line) are parsed: "12" for an int, "0.5" for a float,
    "true/false/yes/no/1/0" for a bool.
    """
    merged: dict[str, ParamValue] = dict(defaults)
    for name, raw in overrides.items():
        if name not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise StrategyDefinitionError(
                f"unknown parameter '{name}'; this strategy's parameters are: {known}"
            )
        merged[name] = _coerce(name, defaults[name], raw)
    return merged


MAX_PARAM_INT = 2**53
"""Largest whole-number param (exact in JSON, the browser and float arithmetic), the bound
sandbox validation puts on defaults (`sandbox.policy.MAX_PARAM_INT`)."""

_KIND_WORDS: dict[type, str] = {
    bool: "a bool (true/false)",
    int: "a whole number",
    float: "a number",
    str: "text",
}


def _coerce(name: str, default: ParamValue, raw: object) -> ParamValue:
    kind = type(default)
    try:
        return _COERCIONS[kind](raw)
    except (TypeError, ValueError, OverflowError, KeyError):
        raise StrategyDefinitionError(
            f"parameter '{name}' takes {_KIND_WORDS.get(kind, 'a value')} like its default "
            f"{default!r}; got {_shown(raw)}"
        ) from None


def _as_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ValueError(text)


def _as_int(raw: object) -> int:
    if isinstance(raw, float) and raw.is_integer():
        whole = int(raw)
    elif isinstance(raw, bool | float):  # 2.5 is no whole number: refused, never truncated
        raise ValueError(raw)
    else:
        whole = int(str(raw).strip()) if isinstance(raw, str) else int(raw)  # type: ignore[call-overload]
    if abs(whole) > MAX_PARAM_INT:  # the bound validation puts on defaults
        raise ValueError(raw)
    return whole


def _as_float(raw: object) -> float:
    value = float(raw)  # type: ignore[arg-type]
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _as_text(raw: object) -> str:
    text = str(raw)
    if not text.isprintable():  # no control character or lone surrogate, like defaults
        raise ValueError(raw)
    return text


_COERCIONS: dict[type, Callable[[object], ParamValue]] = {
    bool: _as_bool,
    int: _as_int,
    float: _as_float,
    str: _as_text,
}


def _shown(raw: object) -> str:
    """`raw` for an error message: its repr cut to 100 characters (never the whole input)."""
    try:
        text = repr(raw)
    except ValueError:  # an int too long to print
        return f"a {type(raw).__name__} too long to show"
    return text if len(text) <= 100 else text[:97] + "..."
