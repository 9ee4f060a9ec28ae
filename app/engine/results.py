"""What a finished run hands back: equity curve, trades, orders, logs and metrics.

A result's trades and orders are tables (`TradeTable`, `OrderTable`: app.engine.record_tables):
one numpy column per field, read as a tuple of `Trade` / `OrderRecord` rows made on demand."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from app.engine.config import ParamValue, RunConfig
from app.engine.feed import FloatArray, IntArray
from app.engine.indicator_rules import IndicatorArg
from app.engine.metrics import MetricValue
from app.engine.record_tables import RecordTable
from app.engine.symbol_results import SymbolSummary, SymbolTotals
from app.engine.types import LogLine, OrderRecord, Trade

PRICE_SOURCE = "trade price (no mark-price series given): liquidation and funding use it"

TradeTable = RecordTable[Trade]
"""A run's closed trades as columns, read as a tuple of `Trade` (in the order they closed)."""
OrderTable = RecordTable[OrderRecord]
"""A run's orders as columns, read as a tuple of `OrderRecord` (by id)."""


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
    """A finished run. `trades` and `orders` are tables (columns, rows on demand); given any
    other sequence of records, the result holds them as a table."""

    strategy: str
    params: dict[str, ParamValue]
    config: RunConfig
    bars_total: int
    equity: EquityCurve
    trades: TradeTable
    orders: OrderTable
    logs: tuple[LogLine, ...]
    logs_dropped: int
    metrics: dict[str, MetricValue]
    price_source: str = PRICE_SOURCE
    extra: dict[str, Any] = field(default_factory=dict)
    indicators: tuple[IndicatorSetting, ...] = ()  # in declaration order
    # a run over several symbols: each symbol's figures, the primary first (else empty)
    symbols: tuple[SymbolSummary, ...] = ()

    def __post_init__(self) -> None:
        trades: Sequence[Trade] = self.trades
        orders: Sequence[OrderRecord] = self.orders
        object.__setattr__(self, "trades", RecordTable.from_records(Trade, trades))
        object.__setattr__(self, "orders", RecordTable.from_records(OrderRecord, orders))


@dataclass(frozen=True, slots=True, eq=False)
class AccountMarks:
    """The account after each bar where it changed (ascending bar indices): what the equity
    curve is rebuilt from. Between marks, cash, margin and the position stay constant."""

    index: IntArray
    cash: FloatArray
    margin: FloatArray
    signed_size: FloatArray  # base units, negative for a short
    entry_price: FloatArray
    # a run over several symbols: each further symbol's (signed size, entry price) per mark,
    # in the order of MarketData.other_symbols; `margin` is then every position's margin
    other_symbols: tuple[tuple[FloatArray, FloatArray], ...] = ()

    def __len__(self) -> int:
        return len(self.index)


@dataclass(slots=True)
class RunRecord:
    """What the bar loop produced, before the equity curve and the metrics are derived.

    It is small (one row per order, trade, log line and account change, nothing per bar), so a
    sandbox worker sends this and the parent derives the rest from its own copy of the data.
    The engine records tuples of records; the parent's decoder, tables (RecordTable).
    """

    strategy: str
    params: dict[str, ParamValue]
    start: int  # first traded bar of the (end-cut) market
    marks: AccountMarks
    trades: Sequence[Trade]  # in the order they closed
    orders: Sequence[OrderRecord]  # by id
    logs: tuple[LogLine, ...]
    logs_dropped: int
    fees_paid: float
    funding_paid: float
    liquidations: int
    warmup_bars: int = 0  # traded bars before the first on_data (app/engine/warmup.py)
    indicators: tuple[IndicatorSetting, ...] = ()  # declared in initialize(), in order
    # a run over several symbols: what each symbol's portfolio paid (else empty)
    symbol_totals: tuple[SymbolTotals, ...] = ()


class EquityLedger:
    """Records the account only when it changes; the bar-by-bar curve is rebuilt at the end.

    Between changes cash, margin and the position are constant and unrealised PnL follows the
    close, so the loop pays nothing per quiet bar.
    """

    __slots__ = ("_cash", "_entry", "_index", "_margin", "_other_symbols", "_signed_size")

    def __init__(self) -> None:
        self._other_symbols: list[tuple[tuple[float, float], ...]] = []
        self._index: list[int] = []
        self._cash: list[float] = []
        self._margin: list[float] = []
        self._signed_size: list[float] = []
        self._entry: list[float] = []

    def mark(
        self,
        index: int,
        cash: float,
        margin: float,
        signed_size: float,
        entry_price: float,
        other_symbols: tuple[tuple[float, float], ...] = (),
    ) -> None:
        """The state after bar `index` (a later mark at the same index replaces it);
        `other_symbols`: each further symbol's (signed size, entry price), in a run over several."""
        if self._index and self._index[-1] == index:
            self._cash[-1], self._margin[-1] = cash, margin
            self._signed_size[-1], self._entry[-1] = signed_size, entry_price
            if other_symbols:
                self._other_symbols[-1] = other_symbols
            return
        if other_symbols:
            self._other_symbols.append(other_symbols)
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
            other_symbols=self._other_symbol_columns(),
        )

    def _other_symbol_columns(self) -> tuple[tuple[FloatArray, FloatArray], ...]:
        """Per further symbol, its sizes and entry prices over the marks."""
        if not self._other_symbols:
            return ()
        rows = self._other_symbols
        if len(rows) != len(self._index):
            raise ValueError("every mark of a run over several symbols carries their positions")
        table = np.asarray(rows, dtype=np.float64)  # marks x symbols x (size, entry)
        return tuple((table[:, k, 0].copy(), table[:, k, 1].copy()) for k in range(table.shape[1]))


def equity_curve(
    marks: AccountMarks,
    time: IntArray,
    close: FloatArray,
    start: int,
    stop: int,
    other_closes: tuple[FloatArray, ...] = (),
) -> EquityCurve:
    """The curve per bar in [start, stop), each bar carrying the latest mark at or before it.
    `other_closes` are the further symbols' (marked) closes, for `marks.other_symbols`; the
    `position` column is the primary symbol's.

    `time` is a view of the market's times (not a copy), and the arithmetic runs in place:
    at 1,000,000 bars the curve is its five float columns (40 MB) with no copy beside them."""
    which = mark_of_bars(marks.index, start, stop)
    cash = marks.cash[which]
    margin = marks.margin[which]
    size = marks.signed_size[which]
    unrealized = np.subtract(close[start:stop], marks.entry_price[which])
    unrealized *= size  # size x (close - entry), the same float as the product written out
    for (sizes, entries), closes in zip(marks.other_symbols, other_closes, strict=True):
        other = np.subtract(closes[start:stop], entries[which])
        other *= sizes[which]
        unrealized += other
    del which
    equity = np.add(cash, margin)
    equity += unrealized  # (cash + margin) + unrealized, as written out
    return EquityCurve(
        time=time[start:stop],
        cash=cash,
        margin=margin,
        unrealized=unrealized,
        equity=equity,
        position=size,
    )


def mark_of_bars(index: IntArray, start: int, stop: int) -> npt.NDArray[np.signedinteger[Any]]:
    """For each bar in [start, stop), the position in `index` (ascending bar indices of the
    marks) of the latest mark at or before it, -1 before the first: what
    `searchsorted(index, bars, side="right") - 1` gives, without the array of bar numbers, as
    int32 while the marks are fewer than 2**31 (4 MB per million bars instead of 8)."""
    bars = max(stop - start, 0)
    dtype = np.int32 if len(index) < np.iinfo(np.int32).max else np.int64
    if bars == 0:
        return np.empty(0, dtype=dtype)
    # Where each mark's stretch of bars begins, clipped to the range; a mark's stretch ends
    # where the next begins. Bars before the first mark carry -1.
    begins = np.clip(index, start, stop) - start
    lengths = np.diff(begins, append=bars)
    marks = np.arange(-1, len(index), dtype=dtype)
    counts = np.concatenate(([begins[0] if len(index) else bars], lengths))
    return np.repeat(marks, counts)


def exposed_bars(curve: EquityCurve, marks: AccountMarks, start: int) -> npt.NDArray[np.bool_]:
    """Per bar of `curve`, True when the account held a position in any symbol."""
    exposed: npt.NDArray[np.bool_] = np.asarray(curve.position != 0.0)
    if not marks.other_symbols:
        return exposed
    which = mark_of_bars(marks.index, start, start + len(curve.time))
    for sizes, _ in marks.other_symbols:
        exposed = np.logical_or(exposed, sizes[which] != 0.0)
    return exposed
