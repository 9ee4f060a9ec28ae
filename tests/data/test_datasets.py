"""Importing files into the store: validation gates, extension by later months, resampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.data.commands import write_ohlcv_csv
from app.data.datasets import (
    FileFormat,
    expand_paths,
    import_files,
    import_rows,
    infer_timeframe,
    resample_dataset,
)
from app.data.errors import DataFileError, InvalidReferenceError, ValidationFailedError
from app.data.problems import ProblemCode
from app.data.resample import resample_ohlcv
from app.data.samples import generate_ohlcv
from app.data.store import DatasetKind, DatasetSpec, DatasetStore
from tests.data.binance_files import write_funding_zip, write_kline_zip

AUTO = DatasetSpec(symbol="", timeframe="", exchange="binance")


@pytest.fixture
def months() -> pd.DataFrame:
    """1m bars from 2024-01-30 to 2024-02-01: the tail of January and the start of February."""
    return generate_ohlcv(bars=3 * 1440, start="2024-01-30", seed=9)


def month(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    return frame.loc[pd.DatetimeIndex(frame.index).strftime("%Y-%m") == period]


def test_binance_zip_import_takes_symbol_and_timeframe_from_the_name(
    tmp_path: Path, store: DatasetStore, months: pd.DataFrame
) -> None:
    january = month(months, "2024-01")
    outcome = import_files(store, [write_kline_zip(tmp_path, january, period="2024-01")], AUTO)
    assert str(outcome.meta.ref) == "BTCUSDT/1m@1"
    assert outcome.meta.source == "BTCUSDT-1m-2024-01.zip"
    pd.testing.assert_frame_equal(store.load(outcome.meta), january, check_freq=False)


def test_importing_the_next_month_extends_into_a_new_version(
    tmp_path: Path, store: DatasetStore, months: pd.DataFrame
) -> None:
    january = write_kline_zip(tmp_path, month(months, "2024-01"), period="2024-01")
    february = write_kline_zip(
        tmp_path, month(months, "2024-02"), period="2024-02", microseconds=True, header=True
    )
    first = import_files(store, [january], AUTO).meta
    second = import_files(store, [february], AUTO).meta
    assert (second.version, second.parent_version, second.rows) == (2, 1, len(months))
    pd.testing.assert_frame_equal(store.load("BTCUSDT/1m"), months, check_freq=False)
    assert store.load("BTCUSDT/1m@1").shape[0] == first.rows  # the old version is untouched


def test_reimporting_the_same_files_changes_nothing(
    tmp_path: Path, store: DatasetStore, months: pd.DataFrame
) -> None:
    path = write_kline_zip(tmp_path, month(months, "2024-01"), period="2024-01")
    import_files(store, [path], AUTO)
    again = import_files(store, [path], AUTO)
    assert not again.is_new_version and again.meta.version == 1


def test_overlapping_daily_and_monthly_files_merge(
    tmp_path: Path, store: DatasetStore, months: pd.DataFrame
) -> None:
    january = write_kline_zip(tmp_path, month(months, "2024-01"), period="2024-01")
    day = write_kline_zip(tmp_path, months.iloc[1440:], period="2024-01-31")  # Jan 31 + Feb 1
    outcome = import_files(store, [january, day], AUTO)
    assert ProblemCode.DUPLICATE_BARS in outcome.report.codes()
    assert outcome.meta.rows == len(months)


def test_fatal_problems_refuse_the_import_and_write_nothing(
    tmp_path: Path, store: DatasetStore, bars: pd.DataFrame
) -> None:
    broken = bars.copy()
    broken.loc[broken.index[10], "high"] = broken["low"].iloc[10] - 1  # high below low
    path = tmp_path / "broken.csv"
    write_ohlcv_csv(broken, path)
    with pytest.raises(ValidationFailedError, match="so it was not imported: 1 bar") as caught:
        import_files(store, [path], DatasetSpec(symbol="BTCUSDT", timeframe="1m"))
    assert ProblemCode.OHLC_VIOLATION in caught.value.report.codes()
    assert store.datasets() == []


def test_a_bar_that_differs_from_the_stored_one_refuses_the_extension(
    store: DatasetStore, bars: pd.DataFrame
) -> None:
    spec = DatasetSpec(symbol="BTCUSDT", timeframe="1m")
    import_rows(store, bars.iloc[:100].reset_index(), spec)
    changed = bars.iloc[50:200].copy()
    changed.loc[changed.index[0], "volume"] = changed["volume"].iloc[0] + 1.0  # stored bar
    with pytest.raises(ValidationFailedError, match=r"combined with BTCUSDT/1m@1"):
        import_rows(store, changed.reset_index(), spec)


def test_warnings_are_stored_with_the_dataset(
    tmp_path: Path, store: DatasetStore, bars: pd.DataFrame
) -> None:
    holey = bars.drop(bars.index[100:160])
    path = tmp_path / "holey.csv"
    write_ohlcv_csv(holey, path)
    meta = import_files(store, [path], DatasetSpec(symbol="BTCUSDT", timeframe="")).meta
    assert meta.timeframe == "1m"  # inferred from the spacing
    assert [(p.code, p.count) for p in store.resolve("BTCUSDT/1m").validation.warnings] == [
        (ProblemCode.GAP, 60)
    ]


def test_replace_makes_a_version_with_only_the_new_rows(
    store: DatasetStore, bars: pd.DataFrame
) -> None:
    spec = DatasetSpec(symbol="BTCUSDT", timeframe="1m")
    import_rows(store, bars.iloc[:100].reset_index(), spec)
    replaced = import_rows(store, bars.iloc[500:600].reset_index(), spec, replace=True).meta
    assert replaced.rows == 100 and replaced.parent_version is None


def test_generic_csv_with_column_mapping(
    tmp_path: Path, store: DatasetStore, bars: pd.DataFrame
) -> None:
    path = tmp_path / "export.csv"
    bars.head(50).reset_index().rename(columns={"time": "Date", "volume": "Vol"}).to_csv(
        path, index=False
    )
    spec = DatasetSpec(symbol="ETHUSDT", timeframe="1m")
    meta = import_files(
        store, [path], spec, file_format=FileFormat.GENERIC, column_map={"Vol": "volume"}
    ).meta
    assert meta.rows == 50


def test_funding_files_become_a_funding_dataset(tmp_path: Path, store: DatasetStore) -> None:
    path, expected = write_funding_zip(tmp_path)
    meta = import_files(store, [path], AUTO).meta
    assert (str(meta.ref), meta.kind) == ("BTCUSDT/funding@1", DatasetKind.FUNDING)
    assert np.allclose(store.load(meta)["funding_rate"], expected["funding_rate"])


def test_folders_expand_to_their_data_files(tmp_path: Path, months: pd.DataFrame) -> None:
    write_kline_zip(tmp_path, month(months, "2024-02"), period="2024-02")
    write_kline_zip(tmp_path, month(months, "2024-01"), period="2024-01", checksum=True)
    assert [p.name for p in expand_paths([tmp_path])] == [
        "BTCUSDT-1m-2024-01.zip",
        "BTCUSDT-1m-2024-02.zip",
    ]


def test_generic_file_without_symbol_is_refused(
    tmp_path: Path, bars: pd.DataFrame, store: DatasetStore
) -> None:
    path = tmp_path / "bars.csv"
    write_ohlcv_csv(bars.head(5), path)
    with pytest.raises(DataFileError, match="pass --symbol"):
        import_files(store, [path], DatasetSpec(symbol="", timeframe=""))


def test_timeframe_is_inferred_from_the_commonest_spacing(bars: pd.DataFrame) -> None:
    assert infer_timeframe(resample_ohlcv(bars, "4h").reset_index()) == "4h"


def test_resampled_dataset_is_stored_and_matches_resample(
    store: DatasetStore, bars: pd.DataFrame
) -> None:
    import_rows(
        store, bars.reset_index(), DatasetSpec(symbol="BTCUSDT", timeframe="1m", exchange="binance")
    )
    outcome = resample_dataset(store, "BTCUSDT/1m", "1h")
    assert str(outcome.meta.ref) == "BTCUSDT/1h@1"
    assert outcome.meta.exchange == "binance"
    assert "resampled from BTCUSDT/1m@1" in outcome.meta.source
    pd.testing.assert_frame_equal(
        store.load("BTCUSDT/1h"), resample_ohlcv(bars, "1h"), check_freq=False
    )


def test_unsorted_rows_are_sorted_on_import_and_reported(
    store: DatasetStore, bars: pd.DataFrame
) -> None:
    rows = bars.iloc[:100].reset_index()
    shuffled = rows.iloc[::-1]
    outcome = import_rows(store, shuffled, DatasetSpec(symbol="BTCUSDT", timeframe="1m"))
    assert ProblemCode.UNSORTED_BARS in outcome.report.codes()
    assert outcome.meta.validation.problems == ()  # the stored data is clean
    pd.testing.assert_frame_equal(store.load(outcome.meta), bars.iloc[:100], check_freq=False)


def test_funding_series_cannot_be_resampled(tmp_path: Path, store: DatasetStore) -> None:
    path, _ = write_funding_zip(tmp_path)
    import_files(store, [path], AUTO)
    with pytest.raises(InvalidReferenceError, match="only OHLCV datasets can be resampled"):
        resample_dataset(store, "BTCUSDT/funding", "1d")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    split=st.integers(min_value=1, max_value=299),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_extending_in_two_parts_equals_importing_at_once(
    tmp_path: Path, split: int, seed: int
) -> None:
    frame = generate_ohlcv(bars=300, seed=seed)
    spec = DatasetSpec(symbol="BTCUSDT", timeframe="1m")
    folder = tmp_path / f"run-{split}-{seed}"
    in_parts, at_once = DatasetStore(folder / "parts"), DatasetStore(folder / "once")
    import_rows(in_parts, frame.iloc[:split].reset_index(), spec)
    extended = import_rows(in_parts, frame.iloc[split:].reset_index(), spec).meta
    whole = import_rows(at_once, frame.reset_index(), spec).meta
    assert extended.content_hash == whole.content_hash
    assert in_parts.data_path(extended).read_bytes() == at_once.data_path(whole).read_bytes()
    assert in_parts.load("BTCUSDT/1m@1").shape[0] == split  # version 1 is unchanged
