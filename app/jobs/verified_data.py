"""Datasets for a worker: read from the shared store, refused unless the bytes are the run's.

A worker on another machine reads datasets from a shared store (a path every worker mounts,
STRATEGYLAB_DATA_DIR); an object store would sit behind the same two methods (`resolve`, then
`load_market` fetching the version to a local cache by its content hash). Whatever the store,
the bars loaded are hashed (app.data.store.content_hash, the hash the run recorded when it was
submitted) and a run never executes on data whose hash differs from the one it names.
"""

from __future__ import annotations

from pathlib import Path

from app.data import read_ohlcv
from app.data.catalog import DatasetCatalog, DatasetEntry
from app.data.errors import DataError
from app.data.store import content_hash
from app.engine import MarketData


class DatasetMismatchError(DataError):
    """The worker's copy of a dataset is not the bytes the run names."""

    def __init__(self, name: str, *, found: str, expected: str) -> None:
        super().__init__(
            f"dataset '{name}' on this worker has content {found}, but the run names "
            f"{expected}: point the worker's STRATEGYLAB_DATA_DIR at the same shared store as "
            "the web server's, then start the run again"
        )
        self.name = name
        self.found = found
        self.expected = expected


class VerifiedCatalog(DatasetCatalog):
    """A DatasetCatalog that loads a dataset only when its content hash is `expected_hash`
    (empty: no hash recorded, as for runs stored before hashes existed, which load as is)."""

    def __init__(self, data_dir: Path, *, expected_hash: str) -> None:
        super().__init__(data_dir)
        self._expected_hash = expected_hash

    def load_market(self, entry: DatasetEntry) -> MarketData:
        frame = read_ohlcv(entry.path)
        found = content_hash(frame)
        if self._expected_hash and found != self._expected_hash:
            raise DatasetMismatchError(entry.name, found=found, expected=self._expected_hash)
        return MarketData.from_frame(frame, symbol=entry.symbol)
