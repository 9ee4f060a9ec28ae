"""Datasets for a worker: read from the shared store, refused unless the bytes are the run's.

A worker on another machine reads datasets from a shared store (a path every worker mounts,
STRATEGYLAB_DATA_DIR); an object store would sit behind the same two methods (`resolve`, then
`load_market` fetching the version to a local cache by its content hash). Whatever the store,
the bars loaded are hashed (app.data.store.content_hash, the hash the run recorded when it was
submitted) and a run never executes on data whose hash differs from the one it names.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    """A DatasetCatalog that loads a dataset only when its content hash is the one the run
    recorded: `others[name]` for a further symbol's dataset of a run over several symbols
    (by the dataset's resolved name, as its provenance records it), `expected_hash` for any
    other (the run's own dataset; empty: no hash recorded, as for runs stored before hashes
    existed, which load as is)."""

    def __init__(
        self, data_dir: Path, *, expected_hash: str, others: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(data_dir)
        self._expected_hash = expected_hash
        self._others = dict(others or {})

    def load_market(self, entry: DatasetEntry) -> MarketData:
        frame = read_ohlcv(entry.path)
        found = content_hash(frame)
        expected = self._others.get(entry.name, self._expected_hash)
        if expected and found != expected:
            raise DatasetMismatchError(entry.name, found=found, expected=expected)
        return self.market_of(entry, frame)  # with its funding and mark series, as locally
