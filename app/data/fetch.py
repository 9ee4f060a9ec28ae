"""Online fetch through ccxt: download only the bars a dataset lacks, resumably, into the store."""

from __future__ import annotations

import importlib
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from app.data.datasets import import_rows
from app.data.errors import FetchError, InvalidReferenceError
from app.data.parquet import read_series_parquet, write_series_parquet
from app.data.resample import OHLCV_COLUMNS, canonical_timeframe, parse_timeframe
from app.data.store import DatasetMeta, DatasetSpec, DatasetStore, normalise_symbol
from app.engine.types import Mode

logger = logging.getLogger(__name__)

PAGE_LIMIT = 1000  # bars per request; Binance allows 1000 (spot) to 1500 (futures)
STAGING_FOLDER = ".staging"
FetchProgress = Callable[[int, int], None]  # (bars received, bars missing at the start)


class OhlcvExchange(Protocol):
    """The part of a ccxt exchange the fetch uses."""

    id: str

    def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = ...,
        since: int | None = ...,
        limit: int | None = ...,
        params: dict[str, Any] = ...,
    ) -> list[list[Any]]: ...


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """Which bars to fetch: `start <= time < end` of one symbol and timeframe."""

    symbol: str  # exchange spelling, e.g. `BTC/USDT` or `BTC/USDT:USDT`
    timeframe: str
    start: pd.Timestamp
    end: pd.Timestamp
    market: Mode = Mode.SPOT


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    """What a fetch did: the version now current (None if nothing is stored) and the counts."""

    meta: DatasetMeta | None
    bars_received: int
    requests: int
    missing_ranges: int


def make_exchange(exchange_id: str, *, market: Mode = Mode.SPOT) -> OhlcvExchange:
    """A rate-limited ccxt exchange instance for public market data (needs the `fetch` extra)."""
    try:
        ccxt = importlib.import_module("ccxt")
    except ImportError as exc:
        message = "fetching needs ccxt; install it with `pip install 'strategylab[fetch]'`."
        raise FetchError(message) from exc
    exchange_class = getattr(ccxt, exchange_id, None)
    if exchange_class is None:
        raise FetchError(f"ccxt has no exchange '{exchange_id}'; see ccxt's list of exchanges.")
    default_type = "swap" if market is Mode.FUTURES else "spot"
    exchange: OhlcvExchange = exchange_class(
        {"enableRateLimit": True, "options": {"defaultType": default_type}}
    )
    return exchange


def exchange_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "the exchange did not deliver": ccxt's base error and OS errors."""
    try:
        ccxt = importlib.import_module("ccxt")
    except ImportError:
        return (OSError,)
    return (ccxt.BaseError, OSError)


def missing_ranges(
    have: NDArray[np.int64], start_ns: int, end_ns: int, step_ns: int
) -> list[tuple[int, int]]:
    """The `[first, stop)` ranges (ns) of step-aligned bar times in `[start, end)` not in `have`."""
    first = -(-start_ns // step_ns) * step_ns  # first bar time at or after start, aligned
    expected = np.arange(first, end_ns, step_ns, dtype=np.int64)
    wanted = np.setdiff1d(expected, have, assume_unique=False)
    if len(wanted) == 0:
        return []
    breaks = np.flatnonzero(np.diff(wanted) != step_ns) + 1
    runs = np.split(wanted, breaks)
    return [(int(run[0]), int(run[-1]) + step_ns) for run in runs]


def fetch_to_store(
    store: DatasetStore,
    exchange: OhlcvExchange,
    request: FetchRequest,
    *,
    page_limit: int = PAGE_LIMIT,
    progress: FetchProgress | None = None,
) -> FetchOutcome:
    """Fetch the bars of `request` that the store lacks and store the result as a new version.

    Bars already in the latest version, or saved by an earlier interrupted fetch (pages are
    staged under `<store>/.staging/` as they arrive), are not requested again. Bars the
    exchange does not have are skipped. Fatal validation problems refuse the result.
    """
    step = parse_timeframe(request.timeframe).delta
    if step is None:
        raise InvalidReferenceError("fetching needs a fixed-length timeframe such as 1m or 1h.")
    symbol, timeframe = normalise_symbol(request.symbol), canonical_timeframe(request.timeframe)
    staging = store.root / STAGING_FOLDER / f"{symbol}-{timeframe}"
    versions = store.versions(symbol, timeframe)
    latest = versions[-1] if versions else None
    have = _times_held(store, latest, staging)
    ranges = missing_ranges(have, _ns(request.start), _ns(request.end), int(step.value))
    total = sum((stop - first) // int(step.value) for first, stop in ranges)
    logger.info("fetch symbol=%s timeframe=%s missing_bars=%d", symbol, timeframe, total)
    pages = _Pager(exchange, request, staging, page_limit, int(step.value), progress, total)
    for first, stop in ranges:
        pages.fetch_range(first, stop)
    staged = _read_staged(staging)
    if staged.empty:
        return FetchOutcome(latest, 0, pages.requests, len(ranges))
    spec = DatasetSpec(
        symbol=symbol,
        timeframe=timeframe,
        exchange=exchange.id,
        market=request.market,
        source=f"ccxt:{exchange.id} {request.symbol}",
    )
    outcome = import_rows(store, staged.reset_index(), spec)
    shutil.rmtree(staging, ignore_errors=True)
    return FetchOutcome(outcome.meta, len(staged), pages.requests, len(ranges))


@dataclass(slots=True)
class _Pager:
    """Walks one missing range page by page, staging each page on disk as it arrives."""

    exchange: OhlcvExchange
    request: FetchRequest
    staging: Path
    page_limit: int
    step_ns: int
    progress: FetchProgress | None
    total: int
    requests: int = 0
    received: int = 0

    def fetch_range(self, first_ns: int, stop_ns: int) -> None:
        since_ns = first_ns
        while since_ns < stop_ns:
            rows = self._request(since_ns)
            page = _page_frame(rows, since_ns, stop_ns)
            if page.empty:
                return  # the exchange has nothing more in this range
            write_series_parquet(page, self.staging / f"page-{since_ns // 1_000_000}.parquet")
            self.received += len(page)
            if self.progress is not None:
                self.progress(self.received, self.total)
            since_ns = int(page.index[-1].value) + self.step_ns

    def _request(self, since_ns: int) -> Sequence[Sequence[Any]]:
        self.requests += 1
        try:
            return self.exchange.fetch_ohlcv(
                self.request.symbol,
                self.request.timeframe,
                since=since_ns // 1_000_000,
                limit=self.page_limit,
            )
        except exchange_errors() as exc:
            message = (
                f"{self.exchange.id} did not deliver {self.request.symbol} bars from "
                f"{pd.Timestamp(since_ns, tz='UTC')} ({type(exc).__name__}); the "
                f"{self.received} bars fetched so far are kept, run the same fetch to resume."
            )
            raise FetchError(message) from exc


def _page_frame(rows: Sequence[Sequence[Any]], since_ns: int, stop_ns: int) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=list(OHLCV_COLUMNS))
    table = pd.DataFrame([list(row[:6]) for row in rows], columns=["time", *OHLCV_COLUMNS])
    times = pd.to_datetime(table["time"].astype("int64"), unit="ms", utc=True).dt.as_unit("ns")
    frame = table[list(OHLCV_COLUMNS)].astype("float64")
    frame.index = pd.DatetimeIndex(times, name="time")
    inside = (frame.index.asi8 >= since_ns) & (frame.index.asi8 < stop_ns)
    return frame.loc[inside]


def _times_held(
    store: DatasetStore, latest: DatasetMeta | None, staging: Path
) -> NDArray[np.int64]:
    frames = [_read_staged(staging)]
    if latest is not None:
        frames.append(store.load(latest))
    held = [pd.DatetimeIndex(frame.index).as_unit("ns").asi8 for frame in frames]
    return np.concatenate(held).astype(np.int64)


def _read_staged(staging: Path) -> pd.DataFrame:
    pages = sorted(staging.glob("page-*.parquet")) if staging.exists() else []
    if not pages:
        empty = pd.DataFrame({name: pd.Series(dtype="float64") for name in OHLCV_COLUMNS})
        empty.index = pd.DatetimeIndex([], tz="UTC", name="time").as_unit("ns")
        return empty
    frame = pd.concat([read_series_parquet(page) for page in pages]).sort_index(kind="mergesort")
    return frame.loc[~frame.index.duplicated(keep="first")]


def _ns(moment: pd.Timestamp) -> int:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value)
