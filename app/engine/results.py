"""What a finished run hands back: equity curve, trades, orders, logs and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from app.engine.config import ParamValue, RunConfig
from app.engine.feed import FloatArray, IntArray
from app.engine.indicator_rules import IndicatorArg
from app.engine.metrics import MetricValue
from app.engine.types import LogLine, OrderRecord, Trade

PRICE_SOURCE = "trade price (no mark-price series given): liquidation and funding use it"


class IndicatorSetting(NamedTuple):
    """One distinct indicator a run's strategy declared with `self.indicator(...)`: its
    pandas-ta name, its timeframe rule (None: the run's bars) and its checked settings, sorted
    by name. Results draw it from these (app/runs/indicator_lines.py)."""

    name: str
    timeframe: str | None
    settings: tuple[tuple[str, IndicatorArg], ...]


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """Per traded bar, marked at its close: equity = cash + margin + unrealized."""

    time: IntArray  # bar open times, epoch ns UTC
    cash: FloatArray
    margin: FloatArray
    unrealized: FloatArray
    equity: FloatArray
    position: FloatArray  # signed size in base units


@dataclass(frozen=True, slots=True)
class RunResult:
    strategy: str
    params: dict[str, ParamValue]
    config: RunConfig
    bars_total: int
    equity: EquityCurve
    trades: tuple[Trade, ...]
    orders: tuple[OrderRecord, ...]
    logs: tuple[LogLine, ...]
    logs_dropped: int
    metrics: dict[str, MetricValue]
    price_source: str = PRICE_SOURCE
    extra: dict[str, Any] = field(default_factory=dict)
    indicators: tuple[IndicatorSetting, ...] = ()  # in declaration order


@dataclass(frozen=True, slots=True, eq=False)
class AccountMarks:
    """The account after each bar where it changed (ascending bar indices): what the equity
    curve is rebuilt from. Between marks, cash, margin and the position stay constant."""

    index: IntArray
    cash: FloatArray
    margin: FloatArray
    signed_size: FloatArray  # base units, negative for a short
    entry_price: FloatArray

    def __len__(self) -> int:
        return len(self.index)


@dataclass(slots=True)
class RunRecord:
    """What the bar loop produced, before the equity curve and the metrics are derived.

    It is small (one row per order, trade, log line and account change, nothing per bar), so a
    sandbox worker sends this and the parent derives the rest from its own copy of the data.
    """

    strategy: str
    params: dict[str, ParamValue]
    start: int  # first traded bar of the (end-cut) market
    marks: AccountMarks
    trades: tuple[Trade, ...]
    orders: tuple[OrderRecord, ...]
    logs: tuple[LogLine, ...]
    logs_dropped: int
    fees_paid: float
    funding_paid: float
    liquidations: int
    warmup_bars: int = 0  # traded bars before the first on_data (app/engine/warmup.py)
    indicators: tuple[IndicatorSetting, ...] = ()  # declared in initialize(), in order


class EquityLedger:
    """Records the account only when it changes; the bar-by-bar curve is rebuilt at the end.

    Between changes cash, margin and the position are constant and unrealised PnL follows the
    close, so the loop pays nothing per quiet bar.
    """

    __slots__ = ("_cash", "_entry", "_index", "_margin", "_signed_size")

    def __init__(self) -> None:
        self._index: list[int] = []
        self._cash: list[float] = []
        self._margin: list[float] = []
        self._signed_size: list[float] = []
        self._entry: list[float] = []

    def mark(
        self, index: int, cash: float, margin: float, signed_size: float, entry_price: float
    ) -> None:
        """The state after bar `index` (a later mark at the same index replaces it)."""
        if self._index and self._index[-1] == index:
            self._cash[-1], self._margin[-1] = cash, margin
            self._signed_size[-1], self._entry[-1] = signed_size, entry_price
            return
        self._index.append(index)
        self._cash.append(cash)
        self._margin.append(margin)
        self._signed_size.append(signed_size)
        self._entry.append(entry_price)

    def marks(self) -> AccountMarks:
        return AccountMarks(
            index=np.asarray(self._index, dtype=np.int64),
            cash=np.asarray(self._cash, dtype=np.float64),
            margin=np.asarray(self._margin, dtype=np.float64),
            signed_size=np.asarray(self._signed_size, dtype=np.float64),
            entry_price=np.asarray(self._entry, dtype=np.float64),
        )


def equity_curve(
    marks: AccountMarks, time: IntArray, close: FloatArray, start: int, stop: int
) -> EquityCurve:
    """The curve per bar in [start, stop), each bar carrying the latest mark at or before it."""
    bars = np.arange(start, stop)
    which = np.searchsorted(marks.index, bars, side="right") - 1
    cash = marks.cash[which]
    margin = marks.margin[which]
    size = marks.signed_size[which]
    entry = marks.entry_price[which]
    unrealized = size * (close[start:stop] - entry)
    return EquityCurve(
        time=time[start:stop].copy(),
        cash=cash,
        margin=margin,
        unrealized=unrealized,
        equity=cash + margin + unrealized,
        position=size,
    )
