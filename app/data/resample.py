"""Timeframe names and OHLCV resampling: bars aggregated into UTC-aligned, left-labelled bins."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.data.errors import InvalidReferenceError
from app.deferred_imports import deferred
from app.engine import timeframes as engine_timeframes
from app.engine.errors import TimeframeError

if TYPE_CHECKING:
    import pandas as pd
    from pandas._libs.tslibs.offsets import BaseOffset
else:
    pd = deferred("pandas")

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
OHLCV_AGGREGATION: dict[str, str] = {
    "open": "first",
    "high": "max",
    "low": "min",
    "close": "last",
    "volume": "sum",
}

# Weeks start on Monday 00:00 UTC as on Binance; 1970-01-05 is the first Monday after the epoch.
_WEEK_ORIGIN = "1970-01-05"  # a Monday (UTC): weekly bars start on Mondays
_EPOCH = "1970-01-01"


@dataclass(frozen=True, slots=True)
class Timeframe:
    """A bar length: its canonical name, the pandas offset and, when fixed, its duration."""

    name: str
    offset: BaseOffset
    delta: pd.Timedelta | None

    @property
    def is_calendar(self) -> bool:
        """True for month bars, whose length varies and which align to calendar months."""
        return self.delta is None


def parse_timeframe(text: str) -> Timeframe:
    """Parse `1m`, `5m`, `4h`, `1d`, `1w`, `1M` (exchange style) or a pandas offset alias of
    fixed length (`15min`) or whole months, in the engine's grammar (`app.engine.timeframes`).

    In exchange style `m` is minutes and `M` is months, as on Binance and in ccxt. Raises
    InvalidReferenceError with examples.
    """
    try:
        parsed = engine_timeframes.parse_timeframe(text)
    except TimeframeError as error:
        raise InvalidReferenceError(error.message) from None
    if parsed.duration_ns is None:
        months = parsed.months or 1
        return Timeframe(parsed.name, pd.offsets.MonthBegin(months), None)
    delta = pd.Timedelta(parsed.duration_ns, unit="ns")
    # Fixed lengths become exact seconds: pandas' calendar Day ignores the UTC epoch origin.
    if parsed.duration_ns % 1_000_000_000 == 0:
        offset: BaseOffset = pd.offsets.Second(parsed.duration_ns // 1_000_000_000)
    else:
        offset = pd.tseries.frequencies.to_offset(delta)
    return Timeframe(parsed.name, offset, delta)


def resample_ohlcv(frame: pd.DataFrame, timeframe: str | Timeframe) -> pd.DataFrame:
    """Aggregate OHLCV bars (UTC DatetimeIndex of bar open times) into `timeframe` bars.

    Bins are closed and labelled on the left (a bar's time is its open time), aligned to the
    Unix epoch in UTC (so 4h bars start at 00:00, 04:00, ...; days at midnight UTC; weeks on
    Monday; months on the 1st). open=first, high=max, low=min, close=last, volume=sum; bins
    with no source bar are dropped rather than filled. Identical to
    `frame.resample(...).agg(...)` in pandas with those settings.
    """
    target = timeframe if isinstance(timeframe, Timeframe) else parse_timeframe(timeframe)
    columns = [name for name in OHLCV_COLUMNS if name in frame.columns]
    aggregation = {name: OHLCV_AGGREGATION[name] for name in columns}
    if target.is_calendar:
        bins = frame[columns].resample(target.offset, label="left", closed="left")
    else:
        origin = pd.Timestamp(_WEEK_ORIGIN if _is_whole_weeks(target) else _EPOCH, tz="UTC")
        bins = frame[columns].resample(target.offset, label="left", closed="left", origin=origin)
    result = bins.agg(aggregation)
    result = result.loc[bins.size() > 0]
    result.index.name = frame.index.name
    return result.astype("float64")


def _is_whole_weeks(timeframe: Timeframe) -> bool:
    week = pd.Timedelta(days=7)
    return timeframe.delta is not None and timeframe.delta % week == pd.Timedelta(0)


def canonical_timeframe(text: str) -> str:
    """The store's spelling of a timeframe: `60min` -> `1h`, `1D` -> `1d`, `1M` stays `1M`."""
    timeframe = parse_timeframe(text)
    if timeframe.delta is None:
        return timeframe.name
    return timeframe_name(timeframe.delta)


def timeframe_name(delta: pd.Timedelta) -> str:
    """Name a fixed bar length in exchange style, using the largest whole unit: 1w, 4h, 15m, 1s."""
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
