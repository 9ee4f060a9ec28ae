"""The versioned store: immutable versions, metadata records, content hashes, range reads."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from app.data.errors import DatasetNotFoundError, InvalidReferenceError
from app.data.parquet import overlapping_row_groups
from app.data.problems import ValidationReport
from app.data.samples import generate_ohlcv
from app.data.store import (
    DatasetKind,
    DatasetMeta,
    DatasetRef,
    DatasetSpec,
    DatasetStore,
    content_hash,
)
from app.engine import Mode

SPEC = DatasetSpec(
    symbol="BTCUSDT", timeframe="1m", exchange="binance", market=Mode.FUTURES, source="test"
)
CLEAN = ValidationReport()


def test_save_writes_parquet_and_a_json_record_beside_it(
    store: DatasetStore, bars: pd.DataFrame
) -> None:
    meta = store.save(bars, SPEC, validation=CLEAN).meta
    folder = store.root / "BTCUSDT" / "1m"
    assert sorted(p.name for p in folder.iterdir()) == ["v0001.json", "v0001.parquet"]
    record = json.loads((folder / "v0001.json").read_text())
    assert record["first_bar"] == "2024-01-01T00:00:00Z"
    assert record["last_bar"] == "2024-01-02T23:59:00Z"
    assert (record["rows"], record["exchange"], record["market"], record["kind"]) == (
        2880,
        "binance",
        "futures",
        "ohlcv",
    )
    assert record["content_hash"] == content_hash(bars) == meta.content_hash
    assert DatasetMeta.from_dict(record) == meta


def test_load_returns_exactly_what_was_saved(store: DatasetStore, bars: pd.DataFrame) -> None:
    store.save(bars, SPEC, validation=CLEAN)
    pd.testing.assert_frame_equal(store.load("BTCUSDT/1m"), bars, check_freq=False)


def test_range_reads_return_only_start_to_end_exclusive(
    store: DatasetStore, bars: pd.DataFrame
) -> None:
    store.save(bars, SPEC, validation=CLEAN)
    start, end = (
        pd.Timestamp("2024-01-01 10:00", tz="UTC"),
        pd.Timestamp("2024-01-01 12:00", tz="UTC"),
    )
    part = store.load("BTCUSDT/1m", start=start, end=end)
    pd.testing.assert_frame_equal(
        part, bars.loc[start : end - pd.Timedelta("1min")], check_freq=False
    )


def test_range_reads_decode_only_the_overlapping_row_groups(tmp_path: Path) -> None:
    store = DatasetStore(tmp_path)
    meta = store.save(generate_ohlcv(bars=200_000), SPEC, validation=CLEAN).meta
    metadata = pq.ParquetFile(store.data_path(meta)).metadata
    start, end = pd.Timestamp("2023-02-01", tz="UTC"), pd.Timestamp("2023-02-08", tz="UTC")
    groups = overlapping_row_groups(metadata, start.value, end.value)
    assert metadata.num_row_groups > 5
    assert 1 <= len(groups) <= 2
    assert len(store.load(meta, start=start, end=end)) == 7 * 1440


def test_a_range_outside_the_data_is_empty_not_an_error(
    store: DatasetStore, bars: pd.DataFrame
) -> None:
    store.save(bars, SPEC, validation=CLEAN)
    empty = store.load("BTCUSDT/1m", start=pd.Timestamp("2030-01-01", tz="UTC"))
    assert empty.empty and list(empty.columns) == list(bars.columns)


def test_new_content_makes_the_next_version_and_old_versions_stay_readable(
    store: DatasetStore, bars: pd.DataFrame
) -> None:
    first = store.save(bars.iloc[:1440], SPEC, validation=CLEAN).meta
    second = store.save(bars, SPEC, validation=CLEAN, parent_version=1).meta
    assert (first.version, second.version, second.parent_version) == (1, 2, 1)
    assert store.resolve("BTCUSDT/1m").version == 2
    old = store.load("BTCUSDT/1m@1")
    assert content_hash(old) == first.content_hash
    assert len(old) == 1440


def test_identical_content_does_not_make_a_new_version(
    store: DatasetStore, bars: pd.DataFrame
) -> None:
    store.save(bars, SPEC, validation=CLEAN)
    again = store.save(bars.copy(), SPEC, validation=CLEAN)
    assert not again.is_new_version and again.meta.version == 1


def test_content_hash_ignores_parquet_encoding_but_not_values(bars: pd.DataFrame) -> None:
    changed = bars.copy()
    changed.loc[changed.index[5], "close"] = changed["close"].iloc[5] + 0.01
    assert content_hash(bars) == content_hash(bars.copy())
    assert content_hash(bars) != content_hash(changed)


def test_versions_are_reproducible_bytes(tmp_path: Path, bars: pd.DataFrame) -> None:
    one = DatasetStore(tmp_path / "a").save(bars, SPEC, validation=CLEAN).meta
    two = DatasetStore(tmp_path / "b").save(bars, SPEC, validation=CLEAN).meta
    assert (
        DatasetStore(tmp_path / "a").data_path(one).read_bytes()
        == DatasetStore(tmp_path / "b").data_path(two).read_bytes()
    )


def test_concurrent_saves_get_distinct_versions(store: DatasetStore) -> None:
    frames = [generate_ohlcv(bars=100, seed=seed) for seed in range(4)]
    threads = [
        threading.Thread(target=store.save, args=(f, SPEC), kwargs={"validation": CLEAN})
        for f in frames
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [meta.version for meta in store.versions("BTCUSDT", "1m")] == [1, 2, 3, 4]


def test_list_shows_every_dataset_and_version(store: DatasetStore, bars: pd.DataFrame) -> None:
    store.save(bars, SPEC, validation=CLEAN)
    store.save(bars.iloc[:10], SPEC, validation=CLEAN)
    store.save(bars, DatasetSpec(symbol="ethusdt", timeframe="60min"), validation=CLEAN)
    assert [str(meta.ref) for meta in store.datasets()] == [
        "BTCUSDT/1m@1",
        "BTCUSDT/1m@2",
        "ETHUSDT/1h@1",
    ]


def test_delete_one_version_or_all(store: DatasetStore, bars: pd.DataFrame) -> None:
    store.save(bars, SPEC, validation=CLEAN)
    store.save(bars.iloc[:10], SPEC, validation=CLEAN)
    assert [m.version for m in store.delete("BTCUSDT/1m@1")] == [1]
    assert [m.version for m in store.versions("BTCUSDT", "1m")] == [2]
    store.delete("BTCUSDT/1m")
    assert store.datasets() == []
    assert not any((store.root / "BTCUSDT" / "1m").iterdir())


def test_unknown_dataset_and_version_are_named(store: DatasetStore, bars: pd.DataFrame) -> None:
    with pytest.raises(
        DatasetNotFoundError, match=r"there is no dataset BTCUSDT/1m; see `strategylab data list`"
    ):
        store.resolve("BTCUSDT/1m")
    store.save(bars, SPEC, validation=CLEAN)
    with pytest.raises(DatasetNotFoundError, match=r"has no version 7 \(has 1\)"):
        store.load("BTCUSDT/1m@7")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BTCUSDT/1m", DatasetRef("BTCUSDT", "1m")),
        ("btcusdt/1h@3", DatasetRef("BTCUSDT", "1h", 3)),
        ("BTC/USDT/4h@v2", DatasetRef("BTCUSDT", "4h", 2)),
        ("BTC/USDT:USDT/1d", DatasetRef("BTCUSDT", "1d")),
        ("BTCUSDT/funding", DatasetRef("BTCUSDT", "funding")),
    ],
)
def test_references_parse(text: str, expected: DatasetRef) -> None:
    assert DatasetRef.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["BTCUSDT", "BTCUSDT/1m@0", "BTCUSDT/1m@x", "B T C/1m", "BTCUSDT/soon"]
)
def test_bad_references_are_refused(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        DatasetRef.parse(text)


def test_months_and_minutes_live_in_different_folders(
    store: DatasetStore, bars: pd.DataFrame
) -> None:
    store.save(bars, SPEC, validation=CLEAN)
    store.save(bars.iloc[:2], DatasetSpec(symbol="BTCUSDT", timeframe="1M"), validation=CLEAN)
    assert (store.root / "BTCUSDT" / "1mo" / "v0001.parquet").exists()
    assert store.resolve("BTCUSDT/1M").rows == 2


def test_funding_datasets_keep_their_columns(store: DatasetStore) -> None:
    times = pd.date_range("2024-01-01", periods=3, freq="8h", tz="UTC", name="time").as_unit("ns")
    rates = pd.DataFrame(
        {"funding_rate": [0.0001, -0.0002, 0.0003], "funding_interval_hours": 8.0}, index=times
    )
    spec = DatasetSpec(symbol="BTCUSDT", timeframe="funding", kind=DatasetKind.FUNDING)
    store.save(rates, spec, validation=CLEAN)
    pd.testing.assert_frame_equal(store.load("BTCUSDT/funding"), rates, check_freq=False)
