"""The strategy-facing API as data: for each engine type strategy code can reach, by exact type,
the attribute names it may read. Everything else on those types is refused by the guard.

Default deny, because the engine's own objects carry public methods meant for the engine: a
`TimeframeView` computes an indicator from whatever mapping it is handed (`compute`), and a
future method on any of these classes would otherwise be reachable the day it is written.
An engine type that is not listed here exposes nothing at all. tests/sandbox/
test_api_surface.py walks every object a strategy can reach and tries every other name.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from app.engine import (
    Bar,
    DataView,
    IndicatorFrame,
    OrderHistory,
    OrderRecord,
    OrderTicket,
    PositionInfo,
    SeriesView,
    Strategy,
    TimeframeView,
    Trade,
    TradeHistory,
)

OHLCV: Final = frozenset({"open", "high", "low", "close", "volume"})

# What `self.` reaches on the Strategy base (a user's own attributes are theirs to read).
STRATEGY_API: Final = frozenset(
    {
        "params", "initialize", "on_data", "data", "indicator", "timeframe", "buy", "sell",
        "close_position", "cancel", "position", "open_orders", "trades", "orders",
        "get_position_size", "get_cash",
        "get_equity", "get_margin_ratio", "log", "warmup", "is_ready", "positions", "wake_on",
    }
)  # fmt: skip

POSITION_FIELDS: Final = frozenset(
    {
        "size", "side", "entry_price", "leverage", "margin", "liquidation_price",
        "unrealized_pnl", "stop_loss", "take_profit", "is_open", "is_long", "is_short",
        "entry_time", "entry_bar", "trailing_stop",
    }
)  # fmt: skip
TICKET_FIELDS: Final = frozenset(
    {
        "id", "side", "type", "amount", "limit", "stop", "leverage", "stop_loss", "take_profit",
        "trailing_stop", "trailing_percent", "reduce_only", "post_only", "time_in_force",
        "oco_group",
    }
)  # fmt: skip

ENGINE_API: Final[Mapping[type, frozenset[str]]] = MappingProxyType(
    {
        Strategy: STRATEGY_API,
        SeriesView: frozenset({"name", "values", "to_list"}),
        DataView: OHLCV | {"symbol", "symbols", "time"},
        Bar: OHLCV | {"index", "time"},
        IndicatorFrame: frozenset({"columns"}),
        TimeframeView: OHLCV | {"rule", "indicator"},
        PositionInfo: POSITION_FIELDS,
        OrderTicket: TICKET_FIELDS,
        # read-only views of the run's records and the immutable records they hand out
        TradeHistory: frozenset(),
        OrderHistory: frozenset(),
        Trade: frozenset(Trade._fields),
        OrderRecord: frozenset(OrderRecord._fields),
    }
)

# Names traders bring from other frameworks (backtesting.py, backtrader, freqtrade) that the
# API spells differently: what a missing attribute's error suggests before difflib's guess.
FAMILIAR_NAMES: Final[Mapping[type, Mapping[str, str]]] = MappingProxyType(
    {
        PositionInfo: MappingProxyType(
            {
                "pl": "unrealized_pnl", "pnl": "unrealized_pnl", "pl_pct": "unrealized_pnl",
                "upnl": "unrealized_pnl", "profit": "unrealized_pnl", "price": "entry_price",
                "avg_price": "entry_price", "open_price": "entry_price", "qty": "size",
                "amount": "size", "quantity": "size", "liq_price": "liquidation_price",
                "sl": "stop_loss", "tp": "take_profit", "close": "self.close_position()",
            }
        ),
        Strategy: MappingProxyType(
            {
                "I": "indicator", "init": "initialize", "next": "on_data",
                "equity": "get_equity", "cash": "get_cash", "balance": "get_cash",
                "position_size": "get_position_size", "close": "close_position",
                "orders": "open_orders", "wake_up": "wake_on", "wakeup": "wake_on",
                "wake": "wake_on", "on_signal": "wake_on",
            }
        ),
        OrderTicket: MappingProxyType(
            {"size": "amount", "price": "limit", "sl": "stop_loss", "tp": "take_profit"}
        ),
    }
)  # fmt: skip


def missing_attribute_message(obj: object, name: str, allowed: frozenset[str]) -> str:
    """The error for `obj.<name>` when `obj`'s type has no such attribute at all: the type, the
    name and a "did you mean" among the names strategy code may read on it (`allowed`)."""
    kind = type(obj)
    familiar = next(
        (
            names[name]
            for base in kind.__mro__
            if (names := FAMILIAR_NAMES.get(base)) and name in names
        ),
        None,
    )
    close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
    guess = familiar or (close[0] if close else None)
    text = f"{kind.__name__} has no attribute '{name}'"
    if guess is None:
        return f"{text}; it has {', '.join(sorted(allowed))}" if len(allowed) <= 16 else text
    return f"{text}; did you mean '{guess}'?"
