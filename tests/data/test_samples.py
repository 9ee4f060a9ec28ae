"""Synthetic OHLCV: deterministic, OHLC-consistent, fat-tailed, clustered, and the bundled files."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.data.importers import read_ohlcv
from app.data.samples import ensure_samples, generate_ohlcv, sample_paths


def test_same_seed_gives_identical_bars_and_another_seed_differs() -> None:
    first = generate_ohlcv(bars=500, seed=11)
    pd.testing.assert_frame_equal(first, generate_ohlcv(bars=500, seed=11))
    assert not first.equals(generate_ohlcv(bars=500, seed=12))


def test_bars_obey_ohlc_rules_and_open_at_previous_close() -> None:
    frame = generate_ohlcv(bars=20_000, timeframe="5m")
    body_top = frame[["open", "close"]].max(axis=1)
    body_bottom = frame[["open", "close"]].min(axis=1)
    assert (frame["high"] >= body_top).all()
    assert (frame["low"] <= body_bottom).all()
    assert (frame["low"] > 0).all()
    assert (frame["open"].iloc[1:].to_numpy() == frame["close"].iloc[:-1].to_numpy()).all()


def test_index_is_utc_bar_open_times_at_the_timeframe() -> None:
    frame = generate_ohlcv(bars=3, timeframe="4h", start="2024-03-01")
    assert list(frame.index) == list(pd.date_range("2024-03-01", periods=3, freq="4h", tz="UTC"))
    assert frame.index.name == "time"
    assert frame.iloc[0]["open"] == 30000.0


def test_returns_have_fat_tails_volatility_clustering_and_volume_follows_moves() -> None:
    frame = generate_ohlcv(bars=200_000)
    returns = np.log(frame["close"]).diff().dropna()
    assert returns.kurt() > 3.0  # a normal distribution has excess kurtosis 0
    assert (returns**2).autocorr(lag=1) > 0.05  # squared returns cluster
    assert np.corrcoef(returns.abs(), frame["volume"].iloc[1:])[0, 1] > 0.2
    daily_volatility = returns.std() * np.sqrt(1440)
    assert 0.015 < daily_volatility < 0.06


def test_a_million_bars_generate_in_under_two_seconds_of_cpu() -> None:
    began = time.process_time()  # CPU time: other processes on a busy machine do not count
    generate_ohlcv(bars=1_000_000)
    assert time.process_time() - began < 2.0


def test_month_timeframes_are_refused() -> None:
    with pytest.raises(ValueError, match="fixed-length timeframe"):
        generate_ohlcv(bars=3, timeframe="1M")


def test_ensure_samples_writes_a_year_of_1m_and_its_1h_byte_identically(tmp_path: Path) -> None:
    minute, hour = ensure_samples(tmp_path / "one")
    again = ensure_samples(tmp_path / "two")
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (minute, hour)]
    assert digests == [hashlib.sha256(path.read_bytes()).hexdigest() for path in again]
    minutes = read_ohlcv(minute)
    assert len(minutes) == 525_600
    assert minutes.index[0] == pd.Timestamp("2023-01-01", tz="UTC")
    assert minutes.index[-1] == pd.Timestamp("2023-12-31 23:59", tz="UTC")
    assert len(read_ohlcv(hour)) == 8_760


def test_ensure_samples_leaves_existing_files_alone(tmp_path: Path) -> None:
    for path in sample_paths(tmp_path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"kept")
    assert [path.read_bytes() for path in ensure_samples(tmp_path)] == [b"kept", b"kept"]
