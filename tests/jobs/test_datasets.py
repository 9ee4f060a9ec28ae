"""The dataset catalog: bundled samples and versions in the dataset store, both runnable."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.data import generate_ohlcv
from app.data.errors import DataError
from app.data.problems import ValidationReport
from app.data.store import DatasetSpec, DatasetStore
from app.jobs import DatasetCatalog
from tests.jobs.fixtures import SAMPLE_NAME, write_sample


def store_version(data_dir: Path, bars: int) -> None:
    frame = generate_ohlcv(bars=bars, timeframe="1h", start="2024-02-01")
    spec = DatasetSpec(symbol="ETHUSDT", timeframe="1h", source="test")
    DatasetStore(data_dir / "store").save(frame, spec, validation=ValidationReport())


def test_samples_and_stored_versions_are_listed_and_loadable(tmp_path: Path) -> None:
    write_sample(tmp_path)
    store_version(tmp_path, 300)
    store_version(tmp_path, 400)
    catalog = DatasetCatalog(tmp_path)
    names = [entry.name for entry in catalog.entries()]
    assert names == [SAMPLE_NAME, "ETHUSDT/1h@1", "ETHUSDT/1h@2"]
    latest = catalog.resolve("ETHUSDT/1h")
    assert (latest.name, latest.rows, latest.source) == ("ETHUSDT/1h@2", 400, "store")
    market = catalog.load_market(catalog.resolve("ETHUSDT/1h@1"))
    assert len(market) == 300 and market.symbol == "ETHUSDT"
    assert len(catalog.load_market(catalog.resolve(SAMPLE_NAME))) == 2000


def test_an_unknown_dataset_names_the_available_ones(tmp_path: Path) -> None:
    write_sample(tmp_path)
    with pytest.raises(DataError, match=SAMPLE_NAME):
        DatasetCatalog(tmp_path).resolve("NOPE")
    with pytest.raises(DataError):
        DatasetCatalog(tmp_path).resolve("NOPE/1h")
