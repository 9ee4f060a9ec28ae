"""Mark-price klines and funding-rate history imported with a dataset (Binance's published file
formats, files given locally) come with it into a run, and the run records which versions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from app.data.catalog import DatasetCatalog
from app.data.commands import data_app
from app.data.errors import DatasetNotFoundError
from app.data.samples import generate_ohlcv
from app.data.store import DatasetRef
from app.runs.prepare import data_identity
from tests.data.binance_files import write_funding_zip, write_kline_zip


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("STRATEGYLAB_DATA_DIR", str(folder))
    return folder


def run(*args: str) -> Result:
    return CliRunner().invoke(data_app, list(args))


def mark_of(bars: pd.DataFrame) -> pd.DataFrame:
    """Mark bars near the trades' (scaled by 0.999) with zero volume, as Binance writes them."""
    mark = bars.copy()
    for name in ("open", "high", "low", "close"):
        mark[name] = (bars[name] * 0.999).round(2)
    mark["high"] = mark[["open", "high", "close"]].max(axis=1)
    mark["low"] = mark[["open", "low", "close"]].min(axis=1)
    mark["volume"] = 0.0
    return mark


def test_mark_klines_and_funding_come_with_the_dataset_into_a_run(
    data_dir: Path, tmp_path: Path
) -> None:
    bars = generate_ohlcv(bars=1_440, start="2024-01-01", seed=5)
    downloads = tmp_path / "downloads"
    (downloads / "mark").mkdir(parents=True)
    klines = write_kline_zip(downloads, bars, period="2024-01-01", header=True)
    mark = mark_of(bars).drop(bars.index[100:103])  # three mark bars missing
    marks = write_kline_zip(downloads / "mark", mark, period="2024-01-01", header=True)
    funding, rates = write_funding_zip(downloads)
    for args in ([str(klines)], ["--mark", str(marks)], [str(funding)]):
        result = run("import", "--market", "futures", *args)
        assert result.exit_code == 0, result.output
    assert "zero_volume_run" not in run("show", "BTCUSDT/mark-1m").output
    catalog = DatasetCatalog(data_dir)
    entry = catalog.resolve("BTCUSDT/1m")
    assert entry.mark is not None and entry.mark.ref == DatasetRef("BTCUSDT", "mark-1m", 1)
    assert entry.funding is not None and entry.funding.ref == DatasetRef("BTCUSDT", "funding", 1)
    market = catalog.load_market(entry)
    assert market.has_mark and market.mark_filled_bars == 3
    np.testing.assert_allclose(market.mark_close[:100], mark["close"].to_numpy()[:100])
    assert market.mark_close[101] == market.close[101]  # the trade price stood in
    np.testing.assert_allclose(market.funding_rates, rates["funding_rate"].to_numpy())
    identity = data_identity(entry)
    assert dict(identity.companions) == {
        "funding": f"BTCUSDT/funding@1 ({entry.funding.content_hash})",
        "mark": f"BTCUSDT/mark-1m@1 ({entry.mark.content_hash})",
    }
    # The mark and funding series are not datasets a run names by themselves.
    assert [e.name for e in catalog.entries() if "/" in e.name] == ["BTCUSDT/1m@1"]
    for name in ("BTCUSDT/mark-1m", "BTCUSDT/funding"):
        with pytest.raises(DatasetNotFoundError, match="not a dataset to run on"):
            catalog.resolve(name)


def test_a_dataset_without_companions_runs_on_the_trade_price(
    data_dir: Path, tmp_path: Path
) -> None:
    bars = generate_ohlcv(bars=60, start="2024-01-01", seed=5)
    klines = write_kline_zip(tmp_path, bars, period="2024-01-01", header=True)
    assert run("import", str(klines)).exit_code == 0
    catalog = DatasetCatalog(data_dir)
    entry = catalog.resolve("BTCUSDT/1m")
    market = catalog.load_market(entry)
    assert not market.has_mark and len(market.funding_times) == 0
    assert data_identity(entry).companions == ()


def test_funding_files_are_not_mark_bars(data_dir: Path, tmp_path: Path) -> None:
    funding, _ = write_funding_zip(tmp_path)
    result = run("import", "--mark", str(funding))
    assert result.exit_code == 1
    assert "funding-rate files are not mark-price bars" in result.output
