"""What traders commonly write passes every layer: no false refusals from validation or guards."""

from __future__ import annotations

from app.engine import MarketData, RunConfig
from sandbox import run_sandboxed, validate_source

EVERYDAY = '''
import math
import statistics
import numpy as np
import pandas as pd
from math import sqrt


class Everyday(Strategy):
    """Exercises the everyday Python a strategy uses."""

    params = {"fast": 5, "slow": 20, "size": 0.01}

    def initialize(self):
        self.fast = self.indicator("ema", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])
        self.bands = self.indicator("bbands", length=20)
        self.seen = 0
        self.counts = {"up": 0, "down": 0}
        self.closes = []

    def helper(self, values):
        return sum(values) / len(values) if values else 0.0

    def on_data(self, bar):
        self.seen += 1
        self.closes.append(bar.close)
        key = "up" if bar.close >= bar.open else "down"
        self.counts[key] += 1
        window = self.data.close[-20:]
        if len(window) < 20 or math.isnan(self.slow[-1]):
            return
        spread = float(np.std(window)) + statistics.fmean(window.tolist()) * 0
        series = pd.Series(window)
        mean = series.rolling(5).mean().iloc[-1]
        upper = self.bands["BBU"][-1]
        ratios = [x / mean for x in window[-3:]]
        best = max(ratios) if ratios else 1.0
        label = f"{bar.time.hour:02d}h close={bar.close:.2f} spread={spread:.3f}"
        try:
            check = sqrt(abs(best)) / (best - best)
        except ZeroDivisionError:
            check = 0.0
        if crossover(self.fast, self.slow) and not self.position:
            self.buy(self.params["size"], stop_loss=bar.close * 0.97)
        elif crossunder(self.fast, self.slow) and self.position.is_long:
            self.close_position()
        for order in self.open_orders:
            if order.limit is not None and order.limit > upper * 2:
                self.cancel(order)
        if bar.index % 100 == 0:
            self.log(label, round(self.helper(self.closes[-10:]), 2), check, self.counts)
'''


def test_everyday_code_passes_validation() -> None:
    assert validate_source(EVERYDAY) == []


def test_everyday_code_runs_to_the_end_in_the_sandbox(
    long_market: MarketData, config: RunConfig
) -> None:
    result = run_sandboxed(EVERYDAY, long_market, config)
    assert result.bars_total > 0
    assert result.logs
    assert any("close=" in line.message for line in result.logs)
