"""A stored futures dataset with its mark-price bars and funding history: the sandboxed run gets
both, its results say the mark price was used, and its provenance names their versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.data.catalog import DatasetCatalog
from app.data.datasets import import_files
from app.data.samples import generate_ohlcv
from app.data.store import DatasetKind, DatasetSpec, DatasetStore
from app.engine.liquidation import MARK_PRICE_SOURCE
from app.engine.types import Mode
from app.runs import RunService
from tests.data.binance_files import write_funding_zip, write_kline_zip
from tests.data.test_mark_and_funding import mark_of
from tests.jobs.fixtures import SMA_CODE, make_settings

pytestmark = pytest.mark.slow


def store_futures_dataset(tmp_path: Path) -> None:
    """BTCUSDT/1m (a day of bars) in `tmp_path`'s store, with its mark bars and funding."""
    store = DatasetStore(tmp_path / "store")
    bars = generate_ohlcv(bars=1_440, start="2024-01-01", seed=11)
    (tmp_path / "mark").mkdir()
    klines = write_kline_zip(tmp_path, bars, period="2024-01-01", header=True)
    marks = write_kline_zip(tmp_path / "mark", mark_of(bars), period="2024-01-01", header=True)
    funding, _ = write_funding_zip(tmp_path)
    spec = DatasetSpec(symbol="", timeframe="", market=Mode.FUTURES)
    import_files(store, [klines], spec)
    import_files(store, [marks], spec, kind=DatasetKind.MARK)
    import_files(store, [funding], spec)


def test_a_stored_run_uses_the_mark_and_funding_stored_with_its_dataset(tmp_path: Path) -> None:
    store_futures_dataset(tmp_path)
    settings = make_settings(tmp_path)
    service = RunService.from_settings(settings)
    catalog = DatasetCatalog(tmp_path)
    prepared = service.prepare_stored(
        code=SMA_CODE,
        dataset="BTCUSDT/1m",
        config_data={"symbol": "BTCUSDT", "funding_rate": 0.0},
        catalog=catalog,
    )
    outcome = service.run(prepared, door="direct", names={})
    assert outcome.result.price_source == MARK_PRICE_SOURCE
    data = outcome.provenance["data"]
    assert data["mark"].startswith("BTCUSDT/mark-1m@1 (sha256:")
    assert data["funding"].startswith("BTCUSDT/funding@1 (sha256:")
    # The funding series (9 rows, 8-hourly) went with the bars into the run.
    assert prepared.market.has_mark and len(prepared.market.funding_times) == 9


def test_a_workers_verified_catalog_loads_the_same_mark_and_funding(tmp_path: Path) -> None:
    # A Redis worker reads the shared store through VerifiedCatalog (the hash check): the
    # market it runs must carry the same funding and mark series as the web node's.
    from app.jobs.verified_data import DatasetMismatchError, VerifiedCatalog

    store_futures_dataset(tmp_path)
    local = DatasetCatalog(tmp_path)
    entry = local.resolve("BTCUSDT/1m")
    expected = local.load_market(entry)
    worker = VerifiedCatalog(tmp_path, expected_hash=entry.content_hash).load_market(entry)
    assert worker.has_mark and expected.has_mark
    assert worker.funding_times.tolist() == expected.funding_times.tolist()
    assert len(worker.funding_times) == 9
    assert worker.mark_close.tolist() == expected.mark_close.tolist()
    with pytest.raises(DatasetMismatchError):
        VerifiedCatalog(tmp_path, expected_hash="sha256:" + "0" * 64).load_market(entry)
