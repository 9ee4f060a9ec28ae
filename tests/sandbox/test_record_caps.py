"""The parent never holds more of a run than its caps and its byte budget allow.

A sandboxed run that makes too many orders or trades stops as "limit exceeded: more than N
orders" (the engine counts them in the worker); a worker that sends more bytes than the
parent's budget for the run (a quarter of the worker's memory limit, at most max_message_mb)
is stopped as "limit exceeded: more than N MB of records", whatever it sends them as.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.engine import MarketData, RunConfig
from sandbox import LimitExceeded, LimitsRefused, OperatorMaximums, RunLimits, run_sandboxed
from sandbox.errors import WorkerFailed
from sandbox.limits import MIB
from sandbox.protocol import encode
from sandbox.record_tally import frame_record_counts
from sandbox.supervisor import _error_from_body, _WorkerSession
from tests.sandbox.test_worker import fake_worker

PLACE_AND_CANCEL = """
class Flood(Strategy):
    def on_data(self, bar):
        for i in range(50):
            self.cancel(self.buy(0.001, limit=bar.close * 0.5))
"""
FLIP_EVERY_BAR = """
class Flip(Strategy):
    def on_data(self, bar):
        self.close_position()
        if bar.index % 2:
            self.buy(0.01)
        else:
            self.sell(0.01)
"""
CATCH_AND_CARRY_ON = """
class Sly(Strategy):
    def on_data(self, bar):
        for i in range(50):
            try:
                self.buy(0.001, limit=bar.close * 0.5)
            except Exception:
                pass
"""


@pytest.mark.parametrize(
    ("source", "limits", "config", "message"),
    [
        (PLACE_AND_CANCEL, RunLimits(max_orders=500), RunConfig(), "more than 500 orders"),
        (CATCH_AND_CARRY_ON, RunLimits(max_orders=321), RunConfig(), "more than 321 orders"),
        (FLIP_EVERY_BAR, RunLimits(max_trades=40), RunConfig(), "more than 40 trades"),
        # the lower of the run's config and the sandbox limits applies, and is the one named
        (PLACE_AND_CANCEL, RunLimits(max_orders=500), RunConfig(max_orders=90), "more than 90"),
    ],
    ids=["orders", "orders_caught", "trades", "config_lower"],
)
def test_cant_make_more_records_than_the_caps_in_the_sandbox(
    source: str, limits: RunLimits, config: RunConfig, message: str, market: MarketData
) -> None:
    with pytest.raises(LimitExceeded, match=f"^limit exceeded: {message}") as caught:
        run_sandboxed(source, market, config, limits)
    assert caught.value.limit in ("orders", "trades")


@pytest.mark.slow  # 30,000 orders through a worker and back
def test_the_default_caps_bound_the_attack(market: MarketData) -> None:
    # 600 bars x 50 orders = 30,000 orders: under the default cap it completes, every order kept
    result = run_sandboxed(PLACE_AND_CANCEL, market, RunConfig(), RunLimits())
    assert len(result.orders) == 600 * 50
    assert RunLimits().max_orders < 1_750_000  # the reviewed attack's count no longer fits


@pytest.mark.parametrize(
    ("field", "value"), [("max_orders", 0), ("max_orders", 5_000_001), ("max_trades", -1)]
)
def test_cant_ask_for_caps_outside_the_operators_maximums(field: str, value: int) -> None:
    with pytest.raises(LimitsRefused, match=field):
        RunLimits(**{field: value}).checked(OperatorMaximums())


def test_the_byte_budget_is_smaller_than_the_workers_memory() -> None:
    maximums = OperatorMaximums()
    for memory_mb in (256, 2048, 16_384):
        budget = RunLimits(memory_mb=memory_mb).record_budget_bytes(maximums)
        assert budget <= memory_mb * MIB // 4
        assert budget <= maximums.max_message_mb * MIB


def _progress_frames(count: int, text_bytes: int) -> str:
    """A fake worker script sending `count` progress frames whose log text is `text_bytes`
    long (JSON only, no arrays), then waiting."""
    logs = {"message": ["x" * text_bytes]}
    return (
        "import sys, struct, json, time\n"
        "spec = [{'name': f'logs.{n}', 'dtype': 'i8', 'length': 1}\n"
        "        for n in ('time', 'bar_index', 'level')]\n"
        f"p = json.dumps({{'type': 'progress', 'progress': [1, 2, 0, 1.0], 'logs': {logs!r},\n"
        "                'arrays': spec}).encode()\n"
        "blob = bytes(24)\n"
        f"for _ in range({count}):\n"
        "    sys.stdout.buffer.write(struct.pack('>IQ', len(p), len(blob)) + p + blob)\n"
        "    sys.stdout.flush()\n"
        "time.sleep(30)\n"
    )


@pytest.mark.parametrize(
    ("count", "text_bytes"),
    [(3_000, 1_000), (40, 60_000), (2, 700_000)],
    ids=["many_small_frames", "medium_frames", "few_large_frames"],
)
def test_cant_send_the_parent_more_than_its_byte_budget(
    tmp_path: Path, count: int, text_bytes: int
) -> None:
    # a 1 MB budget (max_message_mb=1); text counts like arrays: the old check only saw arrays
    session = _WorkerSession(
        RunLimits(wall_seconds=20),
        OperatorMaximums(max_message_mb=1),
        None,
        None,
        command=fake_worker(tmp_path, _progress_frames(count, text_bytes)),
    )
    with pytest.raises(LimitExceeded, match=r"^limit exceeded: more than 1 MB of records$"):
        session.run([encode({"type": "job"})])
    assert session.received_bytes <= 1 * MIB + (1 << 20)  # stopped within one read of it


@pytest.mark.parametrize(
    "body",
    [
        {"type": "error", "kind": "records", "record": "orders", "limit": 10**12},
        {"type": "error", "kind": "records", "record": "trades", "limit": -1},
    ],
    ids=["orders", "trades"],
)
def test_cant_make_the_parent_name_another_cap(tmp_path: Path, body: dict[str, object]) -> None:
    # the parent names its own cap, never the number a (hostile) worker reports
    script = (
        "import sys\n"
        f"sys.stdout.buffer.write({encode(body)!r})\n"
        "sys.stdout.flush()\nimport time\ntime.sleep(30)\n"
    )
    config = RunLimits(max_orders=123, max_trades=45).bound(RunConfig())
    session = _WorkerSession(
        RunLimits(wall_seconds=20), OperatorMaximums(), None, None, fake_worker(tmp_path, script)
    )
    frame = session.run([encode({"type": "job"})])
    error = _error_from_body(frame.body, session.limits, config)
    expected = "123 orders" if body["record"] == "orders" else "45 trades"
    assert str(error) == f"limit exceeded: more than {expected}"


def test_an_unknown_record_cap_is_a_worker_failure() -> None:
    body = json.loads(json.dumps({"type": "error", "kind": "records", "record": "bananas"}))
    error = _error_from_body(body, RunLimits(), RunConfig())
    assert isinstance(error, WorkerFailed)


def _declaring(kind: str, count: int, message_type: str) -> str:
    """A fake worker script sending one frame that declares `count` records of `kind` (one
    int64 column of that length), then waiting."""
    return (
        "import sys, struct, json, time\n"
        f"spec = [{{'name': '{kind}.id', 'dtype': 'i8', 'length': {count}}}]\n"
        f"p = json.dumps({{'type': '{message_type}', 'progress': [1, 2, 0, 1.0],\n"
        "                'arrays': spec}).encode()\n"
        f"blob = bytes({count} * 8)\n"
        "sys.stdout.buffer.write(struct.pack('>IQ', len(p), len(blob)) + p + blob)\n"
        "sys.stdout.flush()\n"
        "time.sleep(30)\n"
    )


@pytest.mark.parametrize(
    ("kind", "message_type", "expected"),
    [
        ("orders", "progress", "more than 100 orders"),
        ("trades", "progress", "more than 50 trades"),
        ("orders", "result", "more than 100 orders"),
        ("logs", "result", "more than 20 log lines"),
    ],
    ids=["streamed_orders", "streamed_trades", "result_orders", "result_logs"],
)
def test_cant_hand_the_parent_more_records_than_the_caps_whatever_the_worker(
    tmp_path: Path, kind: str, message_type: str, expected: str
) -> None:
    # a worker that skips the engine's caps declares 10,000 records in one frame: refused
    # from the array lengths, before any record is decoded
    limits = RunLimits(wall_seconds=20, max_orders=100, max_trades=50, max_log_lines=20)
    decoded: list[object] = []
    session = _WorkerSession(
        limits,
        OperatorMaximums(),
        None,
        decoded.append,
        command=fake_worker(tmp_path, _declaring(kind, 10_000, message_type)),
    )
    with pytest.raises(LimitExceeded, match=f"^limit exceeded: {expected}$"):
        session.run([encode({"type": "job"})])
    assert decoded == []


def test_records_are_counted_from_the_longest_column() -> None:
    arrays = {
        "orders.id": np.zeros(7),
        "orders.filled_time.none": np.zeros(9),
        "trades.pnl": np.zeros(3),
        "logs.time": np.zeros(2),
        "marks.index": np.zeros(1_000),
    }
    assert frame_record_counts(arrays) == {"orders": 9, "trades": 3, "logs": 2}
