"""The strategy-facing API as data: for each engine type strategy code can reach, by exact type,
the attribute names it may read. Everything else on those types is refused by the guard.

Default deny, because the engine's own objects carry public methods meant for the engine: a
`TimeframeView` computes an indicator from whatever mapping it is handed (`compute`), and a
future method on any of these classes would otherwise be reachable the day it is written.
An engine type that is not listed here exposes nothing at all. tests/sandbox/
test_api_surface.py walks every object a strategy can reach and tries every other name.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from app.engine import (
    Bar,
    DataView,
    IndicatorFrame,
    OrderTicket,
    PositionInfo,
    SeriesView,
    Strategy,
    TimeframeView,
)

OHLCV: Final = frozenset({"open", "high", "low", "close", "volume"})

# What `self.` reaches on the Strategy base (a user's own attributes are theirs to read).
STRATEGY_API: Final = frozenset(
    {
        "params", "initialize", "on_data", "data", "indicator", "timeframe", "buy", "sell",
        "close_position", "cancel", "position", "open_orders", "get_position_size", "get_cash",
        "get_equity", "get_margin_ratio", "log",
    }
)  # fmt: skip

POSITION_FIELDS: Final = frozenset(
    {
        "size", "side", "entry_price", "leverage", "margin", "liquidation_price",
        "unrealized_pnl", "stop_loss", "take_profit", "is_open", "is_long", "is_short",
    }
)  # fmt: skip
TICKET_FIELDS: Final = frozenset(
    {
        "id", "side", "type", "amount", "limit", "stop", "leverage", "stop_loss", "take_profit",
    }
)  # fmt: skip

ENGINE_API: Final[Mapping[type, frozenset[str]]] = MappingProxyType(
    {
        Strategy: STRATEGY_API,
        SeriesView: frozenset({"name", "values", "to_list"}),
        DataView: OHLCV | {"symbol", "time"},
        Bar: OHLCV | {"index", "time"},
        IndicatorFrame: frozenset({"columns"}),
        TimeframeView: OHLCV | {"rule", "indicator"},
        PositionInfo: POSITION_FIELDS,
        OrderTicket: TICKET_FIELDS,
    }
)
