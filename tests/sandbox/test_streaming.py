"""Trades and orders stream to the parent during the run; the result is the same run."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from app.engine import MarketData, Progress, RunConfig, Strategy, run_backtest
from sandbox import run_sandboxed
from sandbox.worker import STREAM_BATCH

FLIPPER = """
class Flipper(Strategy):
    def on_data(self, bar):
        if bar.index % 4 == 0:
            self.close_position()
            self.buy(0.01, limit=bar.close * 0.999)
        elif bar.index % 4 == 2:
            self.close_position()
            self.sell(0.01, leverage=3)
"""


def flipper_class() -> type[Strategy]:
    namespace: dict[str, object] = {"Strategy": Strategy}
    exec(compile(FLIPPER, "flipper.py", "exec"), namespace)
    strategy = namespace["Flipper"]
    assert isinstance(strategy, type) and issubclass(strategy, Strategy)
    return strategy


def test_records_stream_in_batches_and_the_result_is_the_in_process_run(
    make_market: Callable[..., MarketData],
) -> None:
    market = make_market(bars=6_000, seed=3)
    config = RunConfig(fee_taker=0.0004)
    reports: list[Progress] = []
    sandboxed = run_sandboxed(FLIPPER, market, config, on_progress=reports.append)
    direct = run_backtest(flipper_class(), market, config)

    streamed = [report for report in reports if report.trades or report.orders]
    assert len(direct.orders) + len(direct.trades) > 2 * STREAM_BATCH
    assert len(streamed) >= 2  # batches came with progress, before the result
    assert sum(len(r.orders) for r in streamed) < len(direct.orders)  # and the result the rest
    assert sandboxed.trades == direct.trades
    assert sandboxed.orders == direct.orders
    assert [order.id for order in sandboxed.orders] == sorted(o.id for o in sandboxed.orders)
    assert sandboxed.logs == direct.logs
    for field in dataclasses.fields(direct.equity):
        np.testing.assert_array_equal(
            getattr(sandboxed.equity, field.name), getattr(direct.equity, field.name)
        )
    assert sandboxed.metrics == direct.metrics


def test_in_process_reports_carry_every_record_once(
    make_market: Callable[..., MarketData],
) -> None:
    market = make_market(bars=1_500, seed=5)
    reports: list[Progress] = []
    result = run_backtest(flipper_class(), market, RunConfig(), on_progress=reports.append)
    trades = [trade for report in reports for trade in report.trades]
    orders = [order for report in reports for order in report.orders]
    assert trades == list(result.trades)
    assert sorted(orders, key=lambda order: order.id) == list(result.orders)
