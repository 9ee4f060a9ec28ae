"""Timeframe names and OHLCV resampling: bars aggregated into UTC-aligned, left-labelled bins."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
from pandas._libs.tslibs.offsets import BaseOffset
from pandas.tseries.frequencies import to_offset

from app.data.errors import InvalidReferenceError

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
OHLCV_AGGREGATION: dict[str, str] = {
    "open": "first",
    "high": "max",
    "low": "min",
    "close": "last",
    "volume": "sum",
}

_EXCHANGE_STYLE = re.compile(r"^(?P<count>[1-9][0-9]*)(?P<unit>[smhdwM])$")
_UNIT_TO_PANDAS = {"s": "s", "m": "min", "h": "h", "d": "D", "w": "W", "M": "MS"}
# Weeks start on Monday 00:00 UTC as on Binance; 1970-01-05 is the first Monday after the epoch.
_WEEK_ORIGIN = pd.Timestamp("1970-01-05", tz="UTC")
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


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
    """Parse `1m`, `5m`, `4h`, `1d`, `1w`, `1M` (exchange style) or any pandas offset (`15min`).

    In exchange style `m` is minutes and `M` is months, as on Binance and in ccxt.
    """
    cleaned = text.strip()
    match = _EXCHANGE_STYLE.match(cleaned)
    if match:
        count, unit = int(match["count"]), match["unit"]
        if unit == "w":
            return _timeframe_from_pandas(cleaned, f"{7 * 24 * count}h")
        return _timeframe_from_pandas(cleaned, f"{count}{_UNIT_TO_PANDAS[unit]}")
    return _timeframe_from_pandas(cleaned, cleaned)


def _timeframe_from_pandas(name: str, alias: str) -> Timeframe:
    try:
        offset = to_offset(alias)
    except ValueError as exc:
        message = f"'{name}' is not a timeframe; use e.g. 1m, 5m, 15m, 1h, 4h, 1d, 1w or 1M."
        raise InvalidReferenceError(message) from exc
    try:
        delta: pd.Timedelta | None = pd.Timedelta(offset)  # type: ignore[arg-type]
    except ValueError:
        delta = None
    if delta is None:
        return Timeframe(name, offset, None)
    if delta <= pd.Timedelta(0):
        raise InvalidReferenceError(f"'{name}' is not a positive timeframe.")
    # Fixed lengths become exact seconds: pandas' calendar Day ignores the UTC epoch origin.
    seconds = delta // pd.Timedelta(seconds=1)
    fixed = (
        pd.offsets.Second(seconds) if delta % pd.Timedelta(seconds=1) == pd.Timedelta(0) else offset
    )
    return Timeframe(name, fixed, delta)


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
        origin = _WEEK_ORIGIN if _is_whole_weeks(target) else _EPOCH
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
