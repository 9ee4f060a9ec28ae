"""Market data and the read-only views a strategy sees, which end at the current bar.

A view never hands out a value after the cursor: integer indexes are relative to the current bar
when negative (`x[-1]` is now, `x[-2]` the bar before) and absolute from the first bar when not
negative, slices are clipped at the current bar, and arrays handed out are read-only copies.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from app.deferred_imports import deferred
from app.engine.errors import MarketDataError

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

OHLCV = ("open", "high", "low", "close", "volume")
MARK_COLUMNS = ("mark_open", "mark_high", "mark_low", "mark_close")


@dataclass(frozen=True, slots=True, eq=False)
class MarketData:
    """One symbol's bars as parallel arrays; times are bar open times in epoch ns, UTC.

    `funding_times`/`funding_rates` optionally carry the exchange's funding-rate series; when
    absent the run's constant rate is used. `mark_open`/`mark_high`/`mark_low`/`mark_close`
    optionally carry the exchange's mark-price bars at the same times (empty when absent):
    liquidation, funding and the marked-to-market equity then use them, fills the trade
    prices. `mark_filled_bars` counts bars the mark series lacked, where the trade price stood
    in (the results say so).

    `other_symbols` are the other symbols one account trades beside this one (the primary,
    `self.data`), each on exactly these bar times (app.engine.timeline.align_symbols makes
    them so); `bars_dropped` counts the bar times the alignment dropped because not every
    symbol had a bar there.
    """

    time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    symbol: str = "BTCUSDT"
    funding_times: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    funding_rates: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    mark_open: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    mark_high: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    mark_low: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    mark_close: FloatArray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    mark_filled_bars: int = 0
    other_symbols: tuple[MarketData, ...] = ()
    bars_dropped: int = 0

    def __post_init__(self) -> None:
        n = len(self.time)
        if n == 0:
            raise MarketDataError("the market data has no bars")
        for name in OHLCV:
            values = getattr(self, name)
            if len(values) != n:
                raise MarketDataError(f"column '{name}' has {len(values)} values for {n} bars")
            if not np.all(np.isfinite(values)):
                bad = int(np.flatnonzero(~np.isfinite(values))[0])
                raise MarketDataError(f"column '{name}' is not a finite number at bar {bad}")
            values.setflags(write=False)
        if np.any(np.diff(self.time) <= 0):
            bad = int(np.flatnonzero(np.diff(self.time) <= 0)[0]) + 1
            raise MarketDataError(f"bar times must strictly increase; bar {bad} does not")
        if np.any(self.low <= 0):
            raise MarketDataError("prices must be positive")
        if len(self.funding_times) != len(self.funding_rates):
            raise MarketDataError("funding times and rates differ in length")
        if np.any(np.diff(self.funding_times) <= 0):
            raise MarketDataError("funding times must strictly increase")
        if not np.all(np.isfinite(self.funding_rates)):
            raise MarketDataError("funding rates must be finite numbers")
        self._check_mark(n)
        self.time.setflags(write=False)
        self._check_other_symbols()

    def _check_other_symbols(self) -> None:
        """Every other symbol: another symbol, on exactly this market's bar times, alone."""
        seen = {self.symbol}
        for other in self.other_symbols:
            if other.other_symbols:
                raise MarketDataError(
                    f"{other.symbol}'s bars cannot carry other symbols of their own"
                )
            if other.symbol in seen:
                raise MarketDataError(f"the symbol {other.symbol} is given twice")
            seen.add(other.symbol)
            if len(other) != len(self) or not np.array_equal(other.time, self.time):
                raise MarketDataError(
                    f"{other.symbol}'s bar times differ from {self.symbol}'s; align the "
                    "symbols first (app.engine.timeline.align_symbols)"
                )

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol the account trades: this one (the primary) first."""
        return (self.symbol, *(other.symbol for other in self.other_symbols))

    def by_symbol(self) -> dict[str, MarketData]:
        """This market and its other_symbols by symbol, the primary first."""
        return {market.symbol: market for market in (self, *self.other_symbols)}

    def _check_mark(self, n: int) -> None:
        """The mark series is absent (all four empty) or one finite positive bar per bar."""
        lengths = {len(getattr(self, name)) for name in MARK_COLUMNS}
        if lengths == {0}:
            return
        if lengths != {n}:
            raise MarketDataError(f"the mark-price series must have one bar for each of {n} bars")
        for name in MARK_COLUMNS:
            values = getattr(self, name)
            if not np.all(np.isfinite(values)) or np.any(values <= 0):
                raise MarketDataError(f"column '{name}' must hold finite prices above 0")
            values.setflags(write=False)
        if np.any(self.mark_low > np.minimum(self.mark_open, self.mark_close)) or np.any(
            self.mark_high < np.maximum(self.mark_open, self.mark_close)
        ):
            raise MarketDataError(
                "the mark-price bars break the OHLC rules (low <= open, close <= high)"
            )

    @property
    def has_mark(self) -> bool:
        """True when the data carries a mark-price series."""
        return len(self.mark_close) > 0

    def marked(self, name: str) -> FloatArray:
        """The mark series' `open`/`high`/`low`/`close`, or the trade prices' without one."""
        values: FloatArray = getattr(self, f"mark_{name}" if self.has_mark else name)
        return values

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        symbol: str = "BTCUSDT",
        funding: pd.Series | None = None,
        mark: pd.DataFrame | None = None,
    ) -> MarketData:
        """Build from a DataFrame indexed by a UTC DatetimeIndex with OHLCV columns.

        `funding` is a rate series indexed by its funding instants; `mark` mark-price bars
        (open, high, low, close) indexed by their open times: taken at the bars' times, a bar
        the mark lacks gets the trade prices (counted in `mark_filled_bars`)."""
        missing = [name for name in OHLCV if name not in frame.columns]
        if missing:
            raise MarketDataError(f"missing columns: {', '.join(missing)}")
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise MarketDataError("the frame must be indexed by time")
        index = frame.index.tz_localize("UTC") if frame.index.tz is None else frame.index
        times = _as_ns(index)
        arrays = {name: frame[name].to_numpy(dtype=np.float64, copy=True) for name in OHLCV}
        funding_times: IntArray = np.empty(0, dtype=np.int64)
        funding_rates: FloatArray = np.empty(0, dtype=np.float64)
        if funding is not None and len(funding):
            funding_index = funding.index
            if not isinstance(funding_index, pd.DatetimeIndex):
                raise MarketDataError("the funding series must be indexed by time")
            if funding_index.tz is None:
                funding_index = funding_index.tz_localize("UTC")
            funding_times = _as_ns(funding_index)
            funding_rates = funding.to_numpy(dtype=np.float64, copy=True)
        marks, filled = _aligned_mark(frame, index, mark)
        columns: dict[str, Any] = {**arrays, **marks}  # OHLCV and the mark series, by field
        return cls(
            time=times,
            symbol=symbol,
            funding_times=funding_times,
            funding_rates=funding_rates,
            mark_filled_bars=filled,
            **columns,
        )

    def __len__(self) -> int:
        return len(self.time)

    def slice(self, start: int, stop: int) -> MarketData:
        """Bars `start:stop` (copies; the funding series is kept whole)."""
        return MarketData(
            time=self.time[start:stop].copy(),
            open=self.open[start:stop].copy(),
            high=self.high[start:stop].copy(),
            low=self.low[start:stop].copy(),
            close=self.close[start:stop].copy(),
            volume=self.volume[start:stop].copy(),
            symbol=self.symbol,
            funding_times=self.funding_times,
            funding_rates=self.funding_rates,
            **{name: getattr(self, name)[start:stop].copy() for name in MARK_COLUMNS},
            mark_filled_bars=self.mark_filled_bars,
            other_symbols=tuple(other.slice(start, stop) for other in self.other_symbols),
            bars_dropped=self.bars_dropped,
        )

    @property
    def bar_ns(self) -> int:
        """The base timeframe in nanoseconds (the most common spacing between bars)."""
        if len(self.time) < 2:
            return 60_000_000_000
        values, counts = np.unique(
            np.diff(self.time[: min(len(self.time), 10_001)]), return_counts=True
        )
        return int(values[int(np.argmax(counts))])

    def to_frame(self) -> pd.DataFrame:
        index = pd.DatetimeIndex(pd.to_datetime(self.time, unit="ns", utc=True), name="time")
        # copy=False: the columns share the read-only arrays (copy-on-write keeps them intact)
        columns = {name: getattr(self, name) for name in OHLCV}
        return pd.DataFrame(columns, index=index, copy=False)


def _aligned_mark(
    frame: pd.DataFrame, index: pd.DatetimeIndex, mark: pd.DataFrame | None
) -> tuple[dict[str, FloatArray], int]:
    """Mark-price arrays at the bars' times (trade prices where the mark has no bar) and the
    number of bars so filled; empty arrays and 0 without a mark series."""
    if mark is None or mark.empty:
        return {}, 0
    missing = [name for name in ("open", "high", "low", "close") if name not in mark.columns]
    if missing:
        raise MarketDataError(f"the mark-price series lacks the column(s) {', '.join(missing)}")
    if not isinstance(mark.index, pd.DatetimeIndex):
        raise MarketDataError("the mark-price series must be indexed by time")
    mark_index = mark.index.tz_localize("UTC") if mark.index.tz is None else mark.index
    if not mark_index.is_unique:
        raise MarketDataError("the mark-price series has two bars at one time")
    aligned = mark.set_axis(mark_index).reindex(index)
    absent = aligned["close"].isna().to_numpy()
    arrays: dict[str, FloatArray] = {}
    for name in ("open", "high", "low", "close"):
        values = aligned[name].to_numpy(dtype=np.float64, copy=True)
        values[absent] = frame[name].to_numpy(dtype=np.float64)[absent]
        arrays[f"mark_{name}"] = values
    return arrays, int(absent.sum())


def _as_ns(index: pd.DatetimeIndex) -> IntArray:
    return np.asarray(index.tz_convert("UTC").as_unit("ns").asi8, dtype=np.int64).copy()


def ns_to_datetime(ns: int) -> datetime:
    """Epoch nanoseconds to an aware UTC datetime (microsecond precision)."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=rest // 1_000)


_NAT = int(np.iinfo(np.int64).min)  # numpy's missing time, never a bar's


def ns_to_iso(ns: int) -> str:
    """Epoch nanoseconds to ISO 8601 UTC, e.g. 2024-01-01T00:00:00Z: the second, floored (the
    text of pandas' `Timestamp.strftime`, computed without importing pandas)."""
    whole = int(ns)
    if whole == _NAT:
        raise ValueError("NaT (numpy's missing time) has no ISO 8601 text")
    return ns_to_datetime(whole).strftime("%Y-%m-%dT%H:%M:%SZ")


class Cursor:
    """The engine's position in the data: `end` is the number of bars visible (current + 1)."""

    __slots__ = ("end",)

    def __init__(self) -> None:
        self.end = 0


class VisibleLength(Protocol):
    """Anything that tells a view how many of its values are visible now."""

    @property
    def end(self) -> int: ...


class SeriesView:
    """A read-only window on one series, ending at the current bar (backtesting.py-style)."""

    __slots__ = ("_cursor", "_memory", "_name", "_values")

    def __init__(self, values: FloatArray, cursor: VisibleLength, name: str) -> None:
        self._values = values
        # Indexing a memoryview yields Python floats about twice as fast as ndarray.item().
        self._memory = memoryview(values).toreadonly()
        self._cursor = cursor
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def __len__(self) -> int:
        return self._cursor.end

    def __getitem__(self, key: int | slice) -> Any:
        end = self._cursor.end
        if type(key) is int and -end <= key < 0:  # the hot path: x[-1], x[-2], ...
            return self._memory[end + key]
        if isinstance(key, slice):
            start, stop, step = key.indices(end)
            window = self._values[start:stop:step].copy()
            window.setflags(write=False)
            return window
        index = int(key)
        position = end + index if index < 0 else index
        if position < 0 or position >= end:
            raise IndexError(
                f"{self._name}[{index}] is not available: {end} bars are visible "
                "(x[-1] is the current bar, nothing after it can be read)"
            )
        return self._memory[position]

    def __iter__(self) -> Iterator[float]:
        return iter(self._values[: self._cursor.end].tolist())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> FloatArray:
        window = self._values[: self._cursor.end].copy()
        return window if dtype is None else window.astype(dtype)

    @property
    def values(self) -> FloatArray:
        """A read-only copy of every visible value (oldest first)."""
        return self[:]  # type: ignore[no-any-return]

    def to_list(self) -> list[float]:
        return self._values[: self._cursor.end].tolist()  # type: ignore[no-any-return]

    def __float__(self) -> float:
        return float(self._values[self._cursor.end - 1])

    def __repr__(self) -> str:
        end = self._cursor.end
        last = f"{self._values[end - 1]:.6g}" if end else "-"
        return f"<{self._name}: {end} bars, last {last}>"

    # Comparisons against the current value make `if self.rsi < 30:` read naturally.
    def __lt__(self, other: object) -> bool:
        return float(self) < _scalar(other)

    def __le__(self, other: object) -> bool:
        return float(self) <= _scalar(other)

    def __gt__(self, other: object) -> bool:
        return float(self) > _scalar(other)

    def __ge__(self, other: object) -> bool:
        return float(self) >= _scalar(other)


def _scalar(value: object) -> float:
    if isinstance(value, SeriesView):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"cannot compare a series with {type(value).__name__}")


class DataView:
    """The strategy's `self.data`: OHLCV series and bar times, each ending at the current bar.

    In a run over several symbols it is the primary symbol's, and `self.data["ETHUSDT"]` is
    another symbol's view on the same bars and cursor (`symbols` lists them all)."""

    __slots__ = ("_cursor", "_market", "_views", "close", "high", "low", "open", "volume")

    def __init__(self, market: MarketData, cursor: Cursor) -> None:
        self._market = market
        self._cursor = cursor
        self._views: dict[str, DataView] = {market.symbol: self}
        for other in market.other_symbols:
            view = DataView(other, cursor)
            view._views = self._views
            self._views[other.symbol] = view
        self.open = SeriesView(market.open, cursor, "open")
        self.high = SeriesView(market.high, cursor, "high")
        self.low = SeriesView(market.low, cursor, "low")
        self.close = SeriesView(market.close, cursor, "close")
        self.volume = SeriesView(market.volume, cursor, "volume")

    @property
    def symbol(self) -> str:
        return self._market.symbol

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol of the run, the primary (`self.data`) first."""
        return tuple(self._views)

    def __getitem__(self, symbol: object) -> DataView:
        """The view of `symbol`'s bars (`self.data["ETHUSDT"].close[-1]`)."""
        view = self._views.get(symbol) if isinstance(symbol, str) else None
        if view is None:
            known = ", ".join(self._views)
            raise KeyError(
                f"no data for symbol {symbol!r}: this run has {known} "
                "(name more with another --data SYMBOL=PATH)"
            )
        return view

    @property
    def time(self) -> datetime:
        """The current bar's open time (UTC)."""
        return ns_to_datetime(int(self._market.time[self._cursor.end - 1]))

    def __len__(self) -> int:
        return self._cursor.end


class BarColumns:
    """One market's bar fields as read-only memoryviews, built once per run for its `Bar`s
    (indexing a memoryview gives the Python float or int directly, as `float(array[i])` and
    `int(array[i])` do, about twice as fast)."""

    __slots__ = ("close", "high", "low", "open", "time", "volume")

    def __init__(self, market: MarketData) -> None:
        self.time = memoryview(market.time).toreadonly()
        self.open = memoryview(market.open).toreadonly()
        self.high = memoryview(market.high).toreadonly()
        self.low = memoryview(market.low).toreadonly()
        self.close = memoryview(market.close).toreadonly()
        self.volume = memoryview(market.volume).toreadonly()


class Bar:
    """The bar that just closed, handed to `on_data`; its fields are read on demand from the
    run's `BarColumns`. A Bar's fields are those of bar `index` for as long as anyone holds
    it; the loop reuses a Bar for the next bar only when nothing but the loop holds it
    (`app.engine.loop`), so a strategy that keeps one keeps its values."""

    __slots__ = ("_columns", "index")

    def __init__(self, columns: BarColumns, index: int) -> None:
        self._columns = columns
        self.index = index

    @property
    def time(self) -> datetime:
        return ns_to_datetime(self._columns.time[self.index])

    @property
    def open(self) -> float:
        return self._columns.open[self.index]

    @property
    def high(self) -> float:
        return self._columns.high[self.index]

    @property
    def low(self) -> float:
        return self._columns.low[self.index]

    @property
    def close(self) -> float:
        return self._columns.close[self.index]

    @property
    def volume(self) -> float:
        return self._columns.volume[self.index]

    def __repr__(self) -> str:
        return (
            f"Bar(index={self.index}, time={self.time.isoformat()}, open={self.open:g}, "
            f"high={self.high:g}, low={self.low:g}, close={self.close:g}, "
            f"volume={self.volume:g})"
        )
