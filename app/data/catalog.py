"""The catalog of datasets a run can use: the bundled samples and every version in the store.

A sample is named by its file stem (`BTCUSDT-1h`); a stored version by its exact reference
(`BTCUSDT/1h@2`, or `BTCUSDT/1h` for the latest). A stored dataset comes with its symbol's
latest funding-rate series (`SYMBOL/funding`) and mark-price bars (`SYMBOL/mark-TIMEFRAME`)
when the store has them; samples come alone (constant funding, the trade price as the mark).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.data import read_ohlcv
from app.data.errors import DatasetNotFoundError
from app.data.store import (
    FUNDING_TIMEFRAME,
    DatasetKind,
    DatasetMeta,
    DatasetStore,
    content_hash,
    mark_timeframe,
)
from app.data.tiers import TierCatalog
from app.deferred_imports import deferred
from app.engine import MarketData

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

SAMPLE_SOURCE = "sample"
STORE_SOURCE = "store"


@dataclass(frozen=True, slots=True)
class DatasetEntry:
    """One usable dataset: its name for runs, what it holds and where it lives."""

    name: str
    symbol: str
    timeframe: str
    source: str
    version: int | None
    rows: int
    first_bar: datetime | None
    last_bar: datetime | None
    content_hash: str
    warnings: tuple[str, ...]
    path: Path
    funding: DatasetMeta | None = None  # the symbol's funding-rate series the run uses
    mark: DatasetMeta | None = None  # the symbol's mark-price bars at this timeframe

    def companions(self) -> dict[str, str]:
        """The funding and mark series a run on this dataset uses: reference and hash."""
        return {
            kind: f"{meta.ref} ({meta.content_hash})"
            for kind, meta in (("funding", self.funding), ("mark", self.mark))
            if meta is not None
        }


class DatasetCatalog:
    """Lists and loads datasets under `data_dir` (samples/ and store/); samples are cached."""

    def __init__(self, data_dir: Path) -> None:
        self._samples_dir = data_dir / "samples"
        self._store = DatasetStore(data_dir / "store")
        self.tiers = TierCatalog(data_dir)  # the maintenance-tier tables runs may use
        self._cache: dict[tuple[Path, int], DatasetEntry] = {}
        self._lock = threading.Lock()

    def entries(self) -> list[DatasetEntry]:
        """Every dataset a run may name, samples first."""
        samples = [self._sample(path) for path in sorted(self._samples_dir.glob("*.parquet"))]
        stored = [
            self._stored(meta) for meta in self._store.datasets() if meta.kind is DatasetKind.OHLCV
        ]
        return samples + stored

    def resolve(self, name: str) -> DatasetEntry:
        """The dataset called `name`; DatasetNotFoundError (listing what exists) otherwise."""
        sample = self._samples_dir / f"{name}.parquet"
        if "/" not in name and sample.is_file():
            return self._sample(sample)
        if "/" in name:
            meta = self._store.resolve(name)
            if meta.kind is not DatasetKind.OHLCV:
                raise DatasetNotFoundError(
                    f"{meta.ref} is a {meta.kind} series that comes with its symbol's bars, "
                    f"not a dataset to run on; name the bars, e.g. {meta.symbol}/1h",
                    reference=name,
                )
            return self._stored(meta)
        known = ", ".join(entry.name for entry in self.entries()) or "none"
        raise DatasetNotFoundError(
            f"there is no dataset '{name}'; available: {known}", reference=name
        )

    def load_market(self, entry: DatasetEntry) -> MarketData:
        """The bars of `entry` as the engine's MarketData, with the funding-rate series and
        the mark-price bars stored for its symbol (and timeframe) when there are any."""
        return self.market_of(entry, read_ohlcv(entry.path))

    def market_of(self, entry: DatasetEntry, frame: pd.DataFrame) -> MarketData:
        """`frame` (the bars read from `entry.path`) as `entry`'s MarketData, with its
        symbol's stored funding-rate series and mark-price bars, as load_market gives it."""
        funding = None
        if entry.funding is not None:
            funding = self._store.load(entry.funding)["funding_rate"]
        mark = self._store.load(entry.mark) if entry.mark is not None else None
        return MarketData.from_frame(frame, symbol=entry.symbol, funding=funding, mark=mark)

    def _latest(self, symbol: str, timeframe: str) -> DatasetMeta | None:
        versions = self._store.versions(symbol, timeframe)
        return versions[-1] if versions else None

    def _sample(self, path: Path) -> DatasetEntry:
        key = (path, path.stat().st_mtime_ns)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        symbol, _, timeframe = path.stem.partition("-")
        frame = read_ohlcv(path)
        index = pd.DatetimeIndex(frame.index)
        entry = DatasetEntry(
            name=path.stem,
            symbol=symbol,
            timeframe=timeframe,
            source=SAMPLE_SOURCE,
            version=None,
            rows=len(frame),
            first_bar=index[0].to_pydatetime() if len(index) else None,
            last_bar=index[-1].to_pydatetime() if len(index) else None,
            content_hash=content_hash(frame),
            warnings=(),
            path=path,
        )
        with self._lock:
            self._cache[key] = entry
        return entry

    def _stored(self, meta: DatasetMeta) -> DatasetEntry:
        return DatasetEntry(
            name=str(meta.ref),
            symbol=meta.symbol,
            timeframe=meta.timeframe,
            source=STORE_SOURCE,
            version=meta.version,
            rows=meta.rows,
            first_bar=meta.first_bar,
            last_bar=meta.last_bar,
            content_hash=meta.content_hash,
            warnings=tuple(problem.message for problem in meta.validation.warnings),
            path=self._store.data_path(meta),
            funding=self._latest(meta.symbol, FUNDING_TIMEFRAME),
            mark=self._latest(meta.symbol, mark_timeframe(meta.timeframe)),
        )
