"""Higher timeframes inside a run: the base bars aggregated into UTC-aligned bars, shown to a
strategy only once they have closed.

A higher-timeframe bar that opens at T and lasts D is visible from the first base bar whose close
(open time + base length) is at or after T + D: at 10:59 a strategy on 1m bars sees the 4h bar of
06:00-10:00 as its latest, never the 10:00 bar still forming. Bins are left-labelled and aligned
to the UTC epoch (weeks to Monday 00:00 UTC, as exchanges publish them).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from app.deferred_imports import deferred
from app.engine.errors import IndicatorError, TimeframeError
from app.engine.feed import Cursor, FloatArray, IntArray, MarketData, SeriesView
from app.engine.indicators import IndicatorArg, IndicatorFrame, compute_indicator, make_view

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

NS_PER_WEEK = 7 * 86_400_000_000_000
MONDAY_AFTER_EPOCH_NS = 4 * 86_400_000_000_000  # 1970-01-05

# The one timeframe grammar, shared with the data layer (`app.data.resample` builds on it):
# exchange style `<count><unit>` with s, m (minutes), h, d, w and M (calendar months), as on
# Binance and in ccxt; otherwise a pandas offset alias of fixed length (`15min`, `90s`, `1D`)
# or of whole months (`1MS`, `3ME`).
EXCHANGE_STYLE = re.compile(r"^(?P<count>[1-9][0-9]*)(?P<unit>[smhdwM])$")
UNIT_NS = {
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": NS_PER_WEEK,
}
EXAMPLES = "use e.g. 1m, 5m, 15m, 1h, 4h, 1d, 1w or 1M"


@dataclass(frozen=True, slots=True)
class Timeframe:
    """A bar length as written (`name`): a fixed `duration_ns`, or a whole number of calendar
    `months` (whose length varies), never both."""

    name: str
    duration_ns: int | None
    months: int | None = None

    @property
    def is_calendar(self) -> bool:
        return self.duration_ns is None


def parse_timeframe(text: str) -> Timeframe:
    """`1m`, `5m`, `4h`, `1d`, `1w`, `1M` (exchange style: `m` minutes, `M` months) or a pandas
    offset alias of fixed length or whole months; raises TimeframeError with examples."""
    name = text.strip()
    match = EXCHANGE_STYLE.match(name)
    if match:
        count, unit = int(match["count"]), match["unit"]
        if unit == "M":
            return Timeframe(name, None, count)
        return Timeframe(name, count * UNIT_NS[unit])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' deprecation notes on aliases
            offset = pd.tseries.frequencies.to_offset(name)
    except ValueError:
        raise TimeframeError(name, f"'{name}' is not a timeframe; {EXAMPLES}") from None
    if isinstance(offset, pd.offsets.MonthBegin | pd.offsets.MonthEnd):
        if offset.n <= 0:
            raise TimeframeError(name, f"'{name}' is not a positive timeframe")
        return Timeframe(name, None, offset.n)
    try:
        duration = pd.Timedelta(offset)  # type: ignore[arg-type]  # a fixed offset converts
    except ValueError:
        raise TimeframeError(
            name, f"'{name}' has no fixed length (only months may vary); {EXAMPLES}"
        ) from None
    if duration <= pd.Timedelta(0):
        raise TimeframeError(name, f"'{name}' is not a positive timeframe")
    return Timeframe(name, int(duration.value))


def parse_duration_ns(rule: str) -> int:
    """A timeframe inside a run (`parse_timeframe`'s grammar) -> nanoseconds; calendar months
    are refused, since a run's higher-timeframe bars have one fixed length."""
    try:
        timeframe = parse_timeframe(rule)
    except TimeframeError:
        raise IndicatorError(
            f"timeframe {rule!r} is not understood; use e.g. 5m, 15m, 1h, 4h, 1d or 1w"
        ) from None
    if timeframe.duration_ns is None:
        raise IndicatorError(
            f"timeframe {rule!r}: calendar months vary in length and are not "
            "available inside a run; use days or weeks"
        )
    return timeframe.duration_ns


def resample(market: MarketData, step_ns: int) -> MarketData:
    """OHLCV aggregated into bins of `step_ns` (first open, max high, min low, last close,
    summed volume); bins with no base bar are absent. Equal to pandas' left-closed,
    left-labelled resample with the epoch origin (weeks from Monday)."""
    origin = MONDAY_AFTER_EPOCH_NS if step_ns % NS_PER_WEEK == 0 else 0
    bucket = (market.time - origin) // step_ns
    starts = np.flatnonzero(np.diff(bucket, prepend=bucket[0] - 1) != 0)
    ends = np.append(starts[1:], len(bucket)) - 1
    return MarketData(
        time=(origin + bucket[starts] * step_ns).astype(np.int64),
        open=market.open[starts].copy(),
        high=np.maximum.reduceat(market.high, starts),
        low=np.minimum.reduceat(market.low, starts),
        close=market.close[ends].copy(),
        volume=np.add.reduceat(market.volume, starts),
        symbol=market.symbol,
    )


def closed_counts(
    base_time: IntArray, base_ns: int, higher_time: IntArray, higher_ns: int
) -> IntArray:
    """For each base bar, how many higher-timeframe bars have closed by its close."""
    higher_close = higher_time + higher_ns
    return np.searchsorted(higher_close, base_time + base_ns, side="right").astype(np.int64)


class MappedCursor:
    """A higher timeframe's cursor: its visible length follows the base cursor."""

    __slots__ = ("_base", "_counts")

    def __init__(self, base: Cursor, counts: IntArray) -> None:
        self._base = base
        self._counts = memoryview(counts).toreadonly()

    @property
    def end(self) -> int:
        base_end = self._base.end
        return int(self._counts[base_end - 1]) if base_end > 0 else 0


IndicatorRequest = Callable[[str, Mapping[str, object]], "SeriesView | IndicatorFrame"]


class TimeframeView:
    """`self.timeframe("4h")`: closed higher-timeframe bars as series, and `indicator(...)` on
    them (the same as `self.indicator(..., timeframe="4h")`)."""

    __slots__ = (
        "_cursor",
        "_market",
        "_request",
        "_rule",
        "close",
        "high",
        "low",
        "open",
        "volume",
    )

    def __init__(
        self, rule: str, market: MarketData, cursor: MappedCursor, request: IndicatorRequest
    ) -> None:
        self._rule = rule
        self._market = market
        self._cursor = cursor
        self._request = request
        self.open = SeriesView(market.open, cursor, f"{rule} open")
        self.high = SeriesView(market.high, cursor, f"{rule} high")
        self.low = SeriesView(market.low, cursor, f"{rule} low")
        self.close = SeriesView(market.close, cursor, f"{rule} close")
        self.volume = SeriesView(market.volume, cursor, f"{rule} volume")

    @property
    def rule(self) -> str:
        return self._rule

    @property
    def cursor(self) -> MappedCursor:
        """How many of this timeframe's bars have closed, following the run's cursor."""
        return self._cursor

    def __len__(self) -> int:
        return self._cursor.end

    def indicator(self, name: str, **kwargs: object) -> SeriesView | IndicatorFrame:
        return self._request(name, {**kwargs, "timeframe": self._rule})

    def compute(self, name: str, args: Mapping[str, IndicatorArg]) -> SeriesView | IndicatorFrame:
        """The indicator on this timeframe's bars (called by the run's context, which caches)."""
        columns: dict[str, FloatArray] = compute_indicator(self._market.to_frame(), name, args)
        return make_view(name, columns, self._cursor)

    def __repr__(self) -> str:
        return f"<timeframe {self._rule}: {self._cursor.end} closed bars>"


def build_timeframe(
    rule: str, market: MarketData, base_cursor: Cursor, request: IndicatorRequest
) -> TimeframeView:
    """The higher timeframe `rule` of the run's market, following the run's cursor."""
    higher, step_ns = timeframe_market(rule, market)
    counts = closed_counts(market.time, market.bar_ns, higher.time, step_ns)
    return TimeframeView(rule, higher, MappedCursor(base_cursor, counts), request)


def timeframe_market(rule: str, market: MarketData) -> tuple[MarketData, int]:
    """The bars of timeframe `rule` built from `market`, and the rule's length in ns; raises
    IndicatorError unless `rule` is a whole multiple of the market's bar, longer than it."""
    step_ns = parse_duration_ns(rule)
    base_ns = market.bar_ns
    if step_ns <= base_ns or step_ns % base_ns != 0:
        raise IndicatorError(
            f"timeframe {rule!r} must be a whole multiple of the data's bar "
            f"length ({base_ns // 60_000_000_000} min) and longer than it"
        )
    return resample(market, step_ns), step_ns
