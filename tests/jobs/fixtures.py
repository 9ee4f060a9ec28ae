"""Shared set-up for job and API tests: a small data folder and strategy sources."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from app.data import generate_ohlcv
from app.data.parquet import write_ohlcv_parquet
from app.db import RunRow, RunStatus, crud
from app.engine import RunConfig
from app.settings import REPO_ROOT, Settings

SAMPLE_NAME = "TESTUSDT-1h"
SAMPLE_BARS = 2_000
SMA_CODE = (REPO_ROOT / "strategies_examples" / "sma_crossover.py").read_text("utf-8")

SLOW_CODE = """
class Slow(Strategy):
    params = {"spin": 3000}

    def on_data(self, bar):
        total = 0
        for step in range(self.params["spin"]):
            total += step
        if bar.index % 100 == 0:
            self.log("bar " + str(bar.index))
"""

SEVERAL_INDICATORS_CODE = """
class Several(Strategy):
    def initialize(self):
        self.fast = self.indicator("sma", length=10)
        self.slow = self.indicator("ema", length=30)
        self.rsi = self.indicator("rsi", length=14)
        self.bands = self.indicator("bbands", length=20)
        self.h4 = self.timeframe("4h").indicator("sma", length=5)

    def on_data(self, bar):
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(0.5, leverage=4)
        elif crossover(self.slow, self.fast):
            self.close_position(50)
"""
"""Overlays, oscillators, a band and a higher-timeframe line: the chart's indicator lines."""

FAILING_CODE = """
class Broken(Strategy):
    def on_data(self, bar):
        if bar.index > 50:
            raise ValueError("boom at bar " + str(bar.index))
"""


def write_sample(data_dir: Path, *, bars: int = SAMPLE_BARS) -> Path:
    """A small deterministic 1h dataset at `<data_dir>/samples/TESTUSDT-1h.parquet`."""
    path = data_dir / "samples" / f"{SAMPLE_NAME}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_ohlcv_parquet(generate_ohlcv(bars=bars, timeframe="1h", start="2024-01-01"), path)
    return path


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for one test: its own data folder and SQLite database, two workers."""
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "runs_dir": tmp_path / "runs",
        "database_url": f"sqlite:///{tmp_path / 'test.db'}",
        "workers": 2,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def queued_run(code: str, *, dataset: str = SAMPLE_NAME) -> RunRow:
    """A queued run record as the API stores it."""
    config = RunConfig(symbol="TESTUSDT")
    return RunRow(
        id=uuid.uuid4().hex,
        status=RunStatus.QUEUED,
        code=code,
        code_hash=crud.code_hash(code),
        dataset=dataset,
        dataset_version=dataset,
        config=config.to_dict(),
        config_hash=config.fingerprint(),
        created_at=datetime.now(UTC),
    )
