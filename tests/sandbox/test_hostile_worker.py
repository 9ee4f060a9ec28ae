"""The parent survives any worker: a hostile worker (tests/hostile_worker.py) replaces the real
one, and every run ends with an exception that names a reason in clean text, or a result whose
every string is clean. Nothing the worker sends reaches the caller as it was sent."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

from app.engine import MarketData, Progress, RunConfig, RunResult
from sandbox import (
    LimitExceeded,
    ProtocolError,
    RunLimits,
    StrategyFailed,
    WorkerFailed,
    run_sandboxed,
)
from sandbox.codec import record_body
from sandbox.protocol import encode
from sandbox.text import REPLACEMENT
from tests.hostile_worker import (
    FORGED_LINE_START,
    NASTY_TEXTS,
    HostileScript,
    hostile_worker,
    nasty_record,
    ready,
    script,
)

CODE = """
class Quiet(Strategy):
    def on_data(self, bar):
        pass
"""
LIMITS = RunLimits(wall_seconds=3.0, cpu_seconds=3.0, memory_mb=512)


def is_clean(text: str) -> bool:
    """Valid, printable, one-line text: no surrogate, control, escape or separator."""
    return text.isprintable()


def run_hostile(
    behaviour: str, market: MarketData, folder: Path, progress: list[Progress] | None = None
) -> RunResult:
    worker = hostile_worker(script(behaviour, time0=int(market.time[0])), folder)
    return run_sandboxed(
        CODE,
        market,
        RunConfig(),
        LIMITS,
        worker=worker,
        on_progress=progress.append if progress is not None else None,
    )


@pytest.mark.parametrize(
    ("behaviour", "error", "reason"),
    [
        ("garbage", ProtocolError, "exceeds"),
        ("huge_frame", ProtocolError, "exceeds"),
        ("deep_json", ProtocolError, "not valid JSON"),
        ("shallow_but_too_deep", ProtocolError, "nests deeper than"),
        ("huge_number", ProtocolError, "not valid JSON"),
        ("unknown_type", ProtocolError, "no known type"),
        ("exit_mid_frame", WorkerFailed, "in the middle of a message"),
        ("exit_at_once", WorkerFailed, "stopped unexpectedly"),
        ("nasty_internal", WorkerFailed, "the worker failed"),
        ("silent", LimitExceeded, "wall-clock time"),
        ("endless", LimitExceeded, "wall-clock time"),
    ],
)
def test_cant_take_the_parent_down_with_a_broken_stream(
    behaviour: str, error: type[Exception], reason: str, market: MarketData, tmp_path: Path
) -> None:
    with pytest.raises(error) as caught:
        run_hostile(behaviour, market, tmp_path)
    message = str(caught.value)
    assert reason in message and is_clean(message)


def test_cant_reach_the_caller_with_hostile_text_in_an_error(
    market: MarketData, tmp_path: Path
) -> None:
    progress: list[Progress] = []
    with pytest.raises(StrategyFailed) as caught:
        run_hostile("nasty_error", market, tmp_path, progress)
    failure = caught.value
    for text in (failure.exc_type, failure.message, failure.phase, failure.bar_time or ""):
        assert is_clean(text)
    assert len(failure.message) <= 2_000 and failure.message.endswith("(text cut)")
    assert is_clean(str(failure)) and "\\x1b]0;" in failure.exc_type
    assert [line.message for p in progress for line in p.logs]  # the log lines came through
    assert all(is_clean(line.message) for p in progress for line in p.logs)


def test_cant_reach_the_caller_with_hostile_text_in_a_result(
    market: MarketData, tmp_path: Path
) -> None:
    result = run_hostile("nasty_result", market, tmp_path)
    texts = [result.strategy, *result.params, *map(str, result.params.values())]
    messages = [line.message for line in result.logs]
    assert all(is_clean(text) for text in (*texts, *messages))
    assert len(messages) == len(NASTY_TEXTS) + 1  # one log call is one line, still
    assert not any(message.startswith(FORGED_LINE_START) for message in messages)
    assert "\\n" + FORGED_LINE_START in messages[5]
    assert REPLACEMENT in messages[-1]  # invalid UTF-8 became U+FFFD, the line survived


def test_cant_crash_the_parents_own_derivations_with_absurd_numbers(
    market: MarketData, tmp_path: Path
) -> None:
    record = nasty_record(1e308, int(market.time[0]))  # finite, and overflowing once multiplied
    marks = dataclasses.replace(record.marks, signed_size=np.array([1e308]))
    absurd = encode(*record_body(dataclasses.replace(record, marks=marks)))
    worker = hostile_worker(HostileScript(ready() + absurd), tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the overflow in the equity rebuild raises, as here
        with pytest.raises(ProtocolError) as caught:
            run_sandboxed(CODE, market, RunConfig(), LIMITS, worker=worker)
    assert "field 'marks.cash' has a value beyond 1e+30" in str(caught.value)
