"""Indicator sharing across a sweep's trials (sandbox/shared_indicators.py): the parent checks
every request as a run checks it, computes each distinct setting once, answers with the run's
own values, and a hostile worker's bogus requests get refusals, never a crash or a poisoned
cache."""

# expect: every bogus request refused with a sentence; the parent and its cache unharmed

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine import MarketData, RunConfig
from app.engine.indicators import compute_indicator
from app.engine.timeframes import timeframe_market
from sandbox import (
    ProtocolError,
    RunLimits,
    SharedIndicators,
    WarmWorker,
    WorkerFailed,
    run_sandboxed,
)
from sandbox.protocol import encode
from sandbox.shared_indicators import settings_key

CODE = "class Quiet(Strategy):\n    def on_data(self, bar):\n        pass\n"
LIMITS = RunLimits(wall_seconds=20.0, cpu_seconds=5.0, memory_mb=512)

HOSTILE_REQUESTS: list[Any] = [
    {"name": "no_such_indicator", "settings": {"length": 10}},
    {"name": "sma", "settings": {"length": 10**400}},
    {"name": "sma", "settings": {"length": 10**9}},
    {"name": "sma", "settings": {"length": -5}},
    {"name": "sma", "settings": {"length": float("nan")}},
    {"name": "sma", "settings": {"length": [1, 2, 3]}},
    {"name": "sma", "settings": {"length": {"__class__": 1}}},
    {"name": "sma", "settings": {"not_a_setting": 1}},
    {"name": "sma", "settings": {f"k{i}": i for i in range(1_000)}},
    {"name": "sma", "settings": [["length", 10]]},
    {"name": "sma", "settings": "length=10"},
    {"name": "sma"},
    {"name": 7, "settings": {}},
    {"name": None, "settings": {}},
    {"name": "x" * 100_000, "settings": {}},
    {"name": "sma", "settings": {"length": 5}, "timeframe": "forever"},
    {"name": "sma", "settings": {"length": 5}, "timeframe": 3600},
    {"name": "sma", "settings": {"length": 5}, "timeframe": "1m"},  # not longer than the bars
    {"name": "sma", "settings": {"length": 5}, "timeframe": "90m"},  # not a multiple of 1h
    {"name": "sma", "settings": {"length": 5}, "timeframe": "1M"},
    {"name": "dpo", "settings": {"length": 5, "centered": True}},  # looks ahead
    {},
]


def hourly_market(bars: int = 500, seed: int = 3) -> MarketData:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, bars)))
    open_ = np.r_[close[0], close[:-1]]
    return MarketData(
        time=1_704_067_200_000_000_000 + np.arange(bars, dtype=np.int64) * 3_600_000_000_000,
        open=open_,
        high=np.maximum(open_, close) * 1.001,
        low=np.minimum(open_, close) * 0.999,
        close=close,
        volume=rng.uniform(1.0, 5.0, bars),
    )


@pytest.fixture(scope="module")
def bars() -> MarketData:
    return hourly_market()


def test_values_are_the_runs_own(bars: MarketData) -> None:
    shared = SharedIndicators(bars)
    for name, rule, args in [
        ("sma", None, {"length": 10}),
        ("macd", None, {"fast": 5, "slow": 13}),
        ("ema", "4h", {"length": 3}),
    ]:
        frame = bars.to_frame() if rule is None else timeframe_market(rule, bars)[0].to_frame()
        expected = compute_indicator(frame, name, args)
        got = shared.columns(name, rule, args)
        assert list(got) == list(expected)
        for column, values in expected.items():
            assert got[column].tobytes() == values.tobytes()


@pytest.mark.parametrize("request_body", HOSTILE_REQUESTS, ids=range(len(HOSTILE_REQUESTS)))
def test_a_bogus_request_gets_a_refusal_with_a_sentence(
    bars: MarketData, request_body: dict[str, Any]
) -> None:
    shared = SharedIndicators(bars)
    reply, arrays = shared.answer(request_body)
    assert reply["type"] == "indicator_refused"
    assert arrays == {}
    message = reply["message"]
    assert isinstance(message, str) and 0 < len(message) <= 2_000 and message.isprintable()
    reply, arrays = shared.answer({"name": "sma", "settings": {"length": 4}})  # still serves
    assert reply["type"] == "indicator_values" and list(arrays) == ["SMA_4"]


def test_cached_values_cannot_be_changed(bars: MarketData) -> None:
    shared = SharedIndicators(bars)
    values = shared.columns("sma", None, {"length": 10})["SMA_10"]
    before = values.tobytes()
    with pytest.raises(ValueError, match="read-only"):
        values[5] = 1e9
    assert shared.columns("sma", None, {"length": 10})["SMA_10"].tobytes() == before


def test_each_setting_is_computed_once_however_many_ask_at_once(bars: MarketData) -> None:
    shared = SharedIndicators(bars)
    threads = [
        threading.Thread(target=shared.columns, args=("sma", None, {"length": 3 + i % 2}))
        for i in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shared.computations == 2
    shared.columns("sma", None, {"length": 3.0})  # 3.0 names other columns than 3
    assert shared.computations == 3
    assert settings_key("sma", None, {"length": 3}) != settings_key("sma", None, {"length": 3.0})


def test_computing_in_threads_leaves_the_process_stdout_alone(bars: MarketData) -> None:
    # pandas-ta's computation swaps sys.stdout; unserialised, two threads left it swapped
    shared = SharedIndicators(bars)
    before = sys.stdout
    threads = [
        threading.Thread(target=shared.columns, args=(name, None, {"length": length}))
        for name in ("sma", "ema", "rsi", "wma")
        for length in (5, 6, 7)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sys.stdout is before
    assert shared.computations == 12


def test_the_cache_keeps_within_its_byte_bound(bars: MarketData) -> None:
    one_column = len(bars) * 8
    shared = SharedIndicators(bars, max_cached_bytes=2 * one_column)
    for length in (3, 4, 5, 3):  # 3 was dropped (oldest) when 5 came in: computed again
        shared.columns("sma", None, {"length": length})
    assert shared.computations == 4


# A hostile worker that talks the protocol: reads its job, sends what the test scripted, reads
# each answer, and reports the answers back as its error message (so the test can read them).
INTERACTIVE = r"""
import json, os, struct, sys
HEADER = struct.Struct(">IQ")
def read_exact(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            sys.exit(3)
        data += chunk
    return data
def read_frame():
    json_len, blob_len = HEADER.unpack(read_exact(HEADER.size))
    body = json.loads(read_exact(json_len))
    read_exact(blob_len)
    return body
def send(raw):
    view = memoryview(raw)
    while view:
        view = view[os.write(1, view):]
def frame(body):
    payload = json.dumps(body).encode()
    payload += b" " * (-(HEADER.size + len(payload)) % 8)
    return HEADER.pack(len(payload), 0) + payload
script = json.loads(open(sys.argv[1]).read())
read_frame()  # the job
kinds, last = "", None
for step in script:
    if "raw" in step:
        send(bytes.fromhex(step["raw"]))
        continue
    send(frame(step))
    reply = read_frame()
    kinds += {"indicator_values": "v", "indicator_refused": "r"}.get(reply["type"], "?")
    last = reply.get("columns", reply.get("message"))
send(frame({"type": "error", "kind": "internal", "exc_type": "Report",
            "message": json.dumps({"kinds": kinds, "last": last})}))
"""


def interactive_worker(steps: list[Any], folder: Path) -> WarmWorker:
    path = folder / "steps.json"
    path.write_text(json.dumps(steps))
    return WarmWorker([sys.executable, "-I", "-S", "-c", INTERACTIVE, str(path)])


def answers_of(error: WorkerFailed) -> tuple[str, Any]:
    """What the interactive worker reported: one letter per answer (v: values, r: refused)
    and the last answer's columns or message."""
    report = json.loads(str(error).split("Report: ", 1)[1])
    return report["kinds"], report["last"]


def run_hostile(
    steps: list[Any], bars: MarketData, folder: Path, shared: SharedIndicators | None
) -> None:
    run_sandboxed(
        CODE,
        bars,
        RunConfig(),
        LIMITS,
        worker=interactive_worker(steps, folder),
        indicators=shared,
    )


def test_a_hostile_worker_gets_refusals_over_the_pipe(bars: MarketData, tmp_path: Path) -> None:
    shared = SharedIndicators(bars)
    steps = [
        {"type": "indicator", **body} for body in HOSTILE_REQUESTS if "x" * 99 not in str(body)
    ]
    steps.append({"type": "indicator", "name": "sma", "settings": {"length": 7}})
    with pytest.raises(WorkerFailed) as caught:
        run_hostile(steps, bars, tmp_path, shared)
    kinds, last = answers_of(caught.value)
    assert kinds == "r" * (len(steps) - 1) + "v"
    assert last == ["SMA_7"]
    expected = compute_indicator(bars.to_frame(), "sma", {"length": 7})["SMA_7"]
    assert shared.columns("sma", None, {"length": 7})["SMA_7"].tobytes() == expected.tobytes()


def test_a_worker_may_not_ask_more_than_its_share(bars: MarketData, tmp_path: Path) -> None:
    shared = SharedIndicators(bars)
    steps = [
        {"type": "indicator", "name": "sma", "settings": {"length": 2 + i % 50}} for i in range(300)
    ]
    with pytest.raises(WorkerFailed) as caught:
        run_hostile(steps, bars, tmp_path, shared)
    kinds, last = answers_of(caught.value)
    assert kinds == "v" * 256 + "r" * 44
    assert "at most 256 indicators" in last
    assert shared.computations == 50


def test_a_malformed_frame_ends_only_that_run(bars: MarketData, tmp_path: Path) -> None:
    shared = SharedIndicators(bars)
    steps = [
        {"type": "indicator", "name": "sma", "settings": {"length": 9}},
        {"raw": (b"\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00{{{{{").hex()},
    ]
    with pytest.raises(ProtocolError, match="not valid JSON"):
        run_hostile(steps, bars, tmp_path, shared)
    reply, arrays = shared.answer({"name": "sma", "settings": {"length": 9}})
    assert reply == {"type": "indicator_values", "columns": ["SMA_9"]}
    expected = compute_indicator(bars.to_frame(), "sma", {"length": 9})["SMA_9"]
    assert arrays["SMA_9"].tobytes() == expected.tobytes()
    assert shared.computations == 1


def test_a_request_carrying_arrays_breaks_the_protocol(bars: MarketData, tmp_path: Path) -> None:
    body = {"type": "indicator", "name": "sma", "settings": {"length": 3}}
    steps = [{"raw": encode(body, {"SMA_3": np.zeros(len(bars))}).hex()}]
    with pytest.raises(ProtocolError, match="carries no arrays"):
        run_hostile(steps, bars, tmp_path, SharedIndicators(bars))


def test_a_normal_run_serves_no_indicators(bars: MarketData, tmp_path: Path) -> None:
    steps = [{"type": "indicator", "name": "sma", "settings": {"length": 9}}]
    with pytest.raises(ProtocolError, match="does not serve"):
        run_hostile(steps, bars, tmp_path, None)
