"""The bundled second symbol for runs over several symbols: ETHUSDT 1h, 2023, made by the BTC
sample's generator, byte-identical every time, on the BTC sample's hourly bar times."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from app.data.samples import ETH_SAMPLE_BARS_1H, ensure_eth_sample, ensure_samples, eth_sample_path


def test_the_eth_sample_is_small_and_byte_identical(tmp_path: Path) -> None:
    first = ensure_eth_sample(tmp_path / "one")
    second = ensure_eth_sample(tmp_path / "two")
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_size < 400_000
    frame = pd.read_parquet(first)
    assert len(frame) == ETH_SAMPLE_BARS_1H
    times = pd.DatetimeIndex(frame["time"])
    assert times[0] == pd.Timestamp("2023-01-01", tz="UTC")
    assert (times[1:] - times[:-1] == pd.Timedelta(hours=1)).all()
    assert 500 < frame["close"].iloc[0] < 2_000


def test_ensure_samples_adds_it_beside_existing_btc_samples(tmp_path: Path) -> None:
    folder = tmp_path / "samples"
    folder.mkdir()
    for name in ("BTCUSDT-1m.parquet", "BTCUSDT-1h.parquet"):
        (folder / name).write_bytes(b"kept")
    ensure_samples(tmp_path)
    assert eth_sample_path(tmp_path).is_file()
    assert (folder / "BTCUSDT-1h.parquet").read_bytes() == b"kept"
