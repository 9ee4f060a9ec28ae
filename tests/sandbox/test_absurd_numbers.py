"""Finite but absurd numbers from the worker: outcomes beyond MAX_MAGNITUDE (1e30) are refused at
decode with a ProtocolError naming the field; anything let through gives finite metrics (or
None), never infinity or NaN, and no floating-point warning in the parent."""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine import (
    ExitReason,
    MarketData,
    OrderRecord,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    Progress,
    RunConfig,
    RunRecord,
    RunResult,
    Trade,
)
from app.engine.metrics import compute_metrics
from sandbox import ProtocolError, RunLimits, run_sandboxed
from sandbox.codec import (
    MAX_MAGNITUDE,
    progress_body,
    progress_from_frame,
    record_body,
    result_from_frame,
)
from sandbox.protocol import encode
from tests.hostile_worker import HostileScript, hostile_worker, nasty_record, ready

ABSURD = [1e200, 1e308, -1e308, -1e31, 1.0000001e30]
TINY = [5e-324, -5e-324, 1e-300]
CODE = """
class Quiet(Strategy):
    def on_data(self, bar):
        pass
"""


def trade(market: MarketData, **values: float) -> Trade:
    fields: dict[str, Any] = {
        "entry_time": int(market.time[1]),
        "exit_time": int(market.time[3]),
        "entry_index": 1,
        "exit_index": 3,
        "side": PositionSide.LONG,
        "size": 1.0,
        "entry_price": float(market.open[1]),
        "exit_price": float(market.open[3]),
        "pnl": 1.0,
        "fees": 0.1,
        "exit_reason": ExitReason.SIGNAL,
    }
    return Trade(**{**fields, **values})


def order(market: MarketData, **values: object) -> OrderRecord:
    fields: dict[str, Any] = {
        "id": 1,
        "created_time": int(market.time[0]),
        "created_index": 0,
        "side": OrderSide.BUY,
        "type": OrderType.LIMIT,
        "amount": 1.0,
        "limit_price": 100.0,
        "stop_price": None,
        "leverage": 1.0,
        "stop_loss": None,
        "take_profit": None,
        "status": OrderStatus.FILLED,
        "filled_time": int(market.time[1]),
        "filled_price": 100.0,
        "filled_amount": 1.0,
        "fee": 0.1,
        "reason": "",
    }
    return OrderRecord(**{**fields, **values})


def record_of(market: MarketData, **changes: Any) -> RunRecord:
    return dataclasses.replace(nasty_record(10_000.0, int(market.time[0])), **changes)


def decode(record: RunRecord, market: MarketData) -> RunResult:
    body, arrays = record_body(record)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning in the parent would raise here
        return result_from_frame(body, arrays, market, RunConfig())


def assert_finite_metrics(result: RunResult) -> None:
    for name, value in result.metrics.items():
        assert not (isinstance(value, float) and not math.isfinite(value)), name


def marks_with(record: RunRecord, name: str, value: float) -> RunRecord:
    marks = dataclasses.replace(record.marks, **{name: np.array([value])})
    return dataclasses.replace(record, marks=marks)


@pytest.mark.parametrize("value", ABSURD)
@pytest.mark.parametrize("field", ["size", "entry_price", "exit_price", "pnl", "fees"])
def test_cant_report_a_trade_beyond_any_market(
    field: str, value: float, market: MarketData
) -> None:
    record = record_of(market, trades=(trade(market, **{field: value}),))
    with pytest.raises(ProtocolError, match=rf"'trades.{field}' has a value beyond 1e\+30"):
        decode(record, market)


@pytest.mark.parametrize("value", ABSURD)
@pytest.mark.parametrize("field", ["filled_price", "filled_amount", "fee"])
def test_cant_report_a_fill_beyond_any_market(field: str, value: float, market: MarketData) -> None:
    record = record_of(market, orders=(order(market, **{field: value}),))
    with pytest.raises(ProtocolError, match=f"'orders.{field}' has a value beyond"):
        decode(record, market)


@pytest.mark.parametrize("value", ABSURD)
@pytest.mark.parametrize("name", ["cash", "margin", "signed_size", "entry_price"])
def test_cant_report_account_marks_beyond_any_market(
    name: str, value: float, market: MarketData
) -> None:
    with pytest.raises(ProtocolError, match=f"'marks.{name}' has a value beyond"):
        decode(marks_with(record_of(market), name, value), market)


@pytest.mark.parametrize("value", ABSURD)
@pytest.mark.parametrize("field", ["fees_paid", "funding_paid"])
def test_cant_report_fees_or_funding_beyond_any_market(
    field: str, value: float, market: MarketData
) -> None:
    with pytest.raises(ProtocolError, match=f"'{field}' has a value beyond"):
        decode(record_of(market, **{field: value}), market)


@pytest.mark.parametrize("value", ABSURD)
def test_cant_report_a_live_equity_beyond_any_market(value: float) -> None:
    body, arrays = progress_body(Progress(1, 10, 0, value, ()))
    with pytest.raises(ProtocolError, match="'equity' has a value beyond"):
        progress_from_frame(body, arrays)


def test_the_bound_itself_and_what_a_strategy_asked_for_are_accepted(
    market: MarketData,
) -> None:
    """An honest run may ask for 1e300 units (and be refused): requests are kept as recorded."""
    asked = order(
        market,
        amount=1e300,
        limit_price=-1e308,
        stop_loss=1e305,
        take_profit=5e-324,
        status=OrderStatus.REJECTED,
        filled_amount=0.0,
        filled_price=None,
        fee=0.0,
    )
    record = record_of(
        market, orders=(asked,), trades=(trade(market, pnl=MAX_MAGNITUDE),), fees_paid=-1e30
    )
    result = decode(record, market)
    assert result.orders[0].amount == 1e300
    assert result.trades[0].pnl == MAX_MAGNITUDE
    assert_finite_metrics(result)


@pytest.mark.parametrize("tiny", TINY)
def test_vanishing_numbers_give_finite_metrics_without_warnings(
    tiny: float, market: MarketData
) -> None:
    # pnl / (size x entry price) is 1e29 / 5e-322: beyond a float, so avg_trade_pct is None
    trades = (trade(market, size=tiny, pnl=1e29), trade(market, size=1.0, pnl=-tiny))
    record = marks_with(record_of(market, trades=trades), "signed_size", tiny)
    result = decode(dataclasses.replace(record, fees_paid=tiny), market)
    assert_finite_metrics(result)
    assert result.metrics["avg_trade_pct"] is None


@pytest.mark.parametrize(
    "equity",
    [
        [1e4, 1e-300, 1e29],  # a return of 1e333 over a vanishing account: beyond a float
        [1e4, 0.0, 0.0, 1e4],  # 0 / 0 over an emptied account
        [1e29, -1e29, 1e29, -1e29],  # squares of 1e58 returns in the deviation
        [1e4, 5e-324, -5e-324, 1e4],
    ],
)
def test_metrics_are_finite_or_none_for_any_finite_equity(equity: list[float]) -> None:
    values = np.array(equity)
    day = 86_400_000_000_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = compute_metrics(
            initial=1e4,
            times=np.arange(len(values), dtype=np.int64) * day,
            equity=values,
            exposed=np.ones(len(values), dtype=np.bool_),
            trades=(),
            closes=np.full(len(values), 100.0),
            bar_ns=day,
            days_per_year=365,
            risk_free_rate=0.0,
            fees_paid=0.0,
            funding_paid=0.0,
            liquidations=0,
        )
    for name, value in metrics.items():
        assert not (isinstance(value, float) and not math.isfinite(value)), (name, value)


@pytest.mark.parametrize("cash", [1e200, 1e308, -1e308])
def test_a_run_whose_worker_reports_absurd_numbers_fails_with_the_reason(
    cash: float, market: MarketData, tmp_path: Path
) -> None:
    absurd = encode(*record_body(record_of(market, marks=nasty_record(cash, 0).marks)))
    worker = hostile_worker(HostileScript(ready() + absurd), tmp_path)
    limits = RunLimits(wall_seconds=3.0, cpu_seconds=3.0, memory_mb=512)
    with pytest.raises(ProtocolError, match=r"'marks.cash' has a value beyond 1e\+30"):
        run_sandboxed(CODE, market, RunConfig(), limits, worker=worker)
