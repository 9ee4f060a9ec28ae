"""A real run folder for the report tests: a futures strategy whose params and log lines
carry hostile text, run through `strategylab run` on generated data (about seven months of
hourly bars: several months, a 90-day rolling window, trades, liquidations)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli_app
from app.data import generate_ohlcv

HOSTILE = "</svg><script>alert('x')</script>\"<img src=x onerror=alert(1)>&amp;"
"""Text that breaks a page (or a chart) that does not escape it."""

STRATEGY = f"""
class HostileCross(Strategy):
    params = {{"fast": 8, "slow": 24, "label": {HOSTILE!r}, "short_leverage": 50}}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])

    def on_data(self, bar):
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(0.2)
            self.log(self.params["label"])
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(0.2, leverage=self.params["short_leverage"])
"""
BARS = 24 * 210


def write_data(folder: Path) -> Path:
    """The generated hourly data file the run reads."""
    path = folder / "hourly.csv"
    frame = generate_ohlcv(bars=BARS, timeframe="1h", seed=11, start="2023-01-01")
    frame.to_csv(path)
    return path


def make_run(folder: Path) -> tuple[Path, Path]:
    """Run the hostile strategy into `folder`/run; the run folder and the data file."""
    data = write_data(folder)
    strategy = folder / "hostile.py"
    strategy.write_text(STRATEGY, encoding="utf-8")
    run_dir = folder / "run"
    result = CliRunner().invoke(
        cli_app,
        ["run", str(strategy), "--data", str(data), "--mode", "futures", "--out", str(run_dir)],
    )
    assert result.exit_code == 0, result.output
    return run_dir, data
