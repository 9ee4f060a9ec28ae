"""Runs through the worker: same results as in-process, errors, limits, cancel, protocol abuse."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.engine import MarketData, Progress, RunConfig, run_backtest
from sandbox import (
    LimitExceeded,
    LimitsRefused,
    OperatorMaximums,
    ProtocolError,
    RunCancelled,
    RunLimits,
    StrategyFailed,
    StrategyRejected,
    WorkerFailed,
    compile_strategy,
    run_sandboxed,
)
from sandbox.protocol import encode
from sandbox.supervisor import _WorkerSession

EXAMPLES = Path(__file__).resolve().parents[2] / "strategies_examples"
SMA = (EXAMPLES / "sma_crossover.py").read_text()
LOOP = "class S(Strategy):\n    def on_data(self, bar):\n        while True:\n            pass\n"


def test_a_sandboxed_run_equals_the_in_process_run(market: MarketData, config: RunConfig) -> None:
    reports: list[Progress] = []
    sandboxed = run_sandboxed(SMA, market, config, on_progress=reports.append)
    direct = run_backtest(compile_strategy(SMA).strategy_class, market, config)
    assert sandboxed.trades == direct.trades
    assert sandboxed.orders == direct.orders
    assert sandboxed.metrics.keys() == direct.metrics.keys()
    np.testing.assert_array_equal(sandboxed.equity.equity, direct.equity.equity)
    assert reports and reports[-1].bars_done == reports[-1].bars_total


def test_a_strategy_exception_names_type_message_line_and_bar(
    market: MarketData, config: RunConfig
) -> None:
    source = (
        "class S(Strategy):\n    def on_data(self, bar):\n        x = 1\n"
        "        if bar.index == 42:\n            x = 1 / 0\n"
    )
    with pytest.raises(StrategyFailed) as caught:
        run_sandboxed(source, market, config)
    error = caught.value
    assert (error.exc_type, error.line, error.bar_index) == ("ZeroDivisionError", 5, 42)
    assert error.bar_time == "2024-01-02T18:00:00Z"
    assert "line 5: ZeroDivisionError: division by zero" in str(error)


def test_validation_refuses_before_any_worker(market: MarketData, config: RunConfig) -> None:
    with pytest.raises(StrategyRejected) as caught:
        run_sandboxed("import os\n", market, config)
    assert {d.code for d in caught.value.diagnostics} == {"SB101", "SB501"}


def test_limits_above_the_operator_maximum_are_refused(
    market: MarketData, config: RunConfig
) -> None:
    with pytest.raises(LimitsRefused, match="wall_seconds"):
        run_sandboxed(
            SMA,
            market,
            config,
            RunLimits(wall_seconds=99),
            maximums=OperatorMaximums(wall_seconds=10),
        )


def test_cpu_limit_stops_an_endless_loop(market: MarketData, config: RunConfig) -> None:
    with pytest.raises(LimitExceeded) as caught:
        run_sandboxed(LOOP, market, config, RunLimits(cpu_seconds=1, wall_seconds=30))
    assert (caught.value.limit, caught.value.value) == ("CPU time", 1)
    assert "CPU time limit of 1 s" in str(caught.value)


def test_wall_clock_limit_is_enforced_by_the_parent(market: MarketData, config: RunConfig) -> None:
    started = time.monotonic()
    with pytest.raises(LimitExceeded, match="wall-clock time limit of 4 s"):
        run_sandboxed(LOOP, market, config, RunLimits(cpu_seconds=60, wall_seconds=4))
    assert time.monotonic() - started < 6


def test_cancel_kills_the_worker_within_a_second(market: MarketData, config: RunConfig) -> None:
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def cancel_soon() -> None:
        time.sleep(3)
        cancelled_at.append(time.monotonic())
        cancel.set()

    threading.Thread(target=cancel_soon, daemon=True).start()
    with pytest.raises(RunCancelled):
        run_sandboxed(LOOP, market, config, RunLimits(cpu_seconds=60), cancel=cancel)
    assert time.monotonic() - cancelled_at[0] < 1.0


def test_memory_limit_is_reported_with_its_value(market: MarketData, config: RunConfig) -> None:
    source = (
        "class S(Strategy):\n    def on_data(self, bar):\n"
        "        self.hog = [0.5] * (400 * 1024 * 1024)\n"
    )
    with pytest.raises(LimitExceeded) as caught:
        run_sandboxed(source, market, config, RunLimits(memory_mb=256))
    assert (caught.value.limit, caught.value.value) == ("memory", 256)


def fake_worker(tmp_path: Path, script: str) -> list[str]:
    path = tmp_path / "fake_worker.py"
    path.write_text(script)
    return [sys.executable, str(path)]


@pytest.mark.parametrize(
    "script",
    [
        "import sys\nsys.stdout.buffer.write(b'\\xff' * 64)\nsys.stdout.flush()\n"
        "import time\ntime.sleep(30)\n",
        "import sys, struct\nsys.stdout.buffer.write(struct.pack('>IQ', 2**31, 0))\n"
        "sys.stdout.flush()\nimport time\ntime.sleep(30)\n",
        "import sys, struct, json\np = json.dumps({'type': 'pickle'}).encode()\n"
        "sys.stdout.buffer.write(struct.pack('>IQ', len(p), 0) + p)\nsys.stdout.flush()\n"
        "import time\ntime.sleep(30)\n",
    ],
    ids=["garbage", "oversized", "unknown-type"],
)
def test_a_malformed_message_ends_the_worker_not_the_parent(tmp_path: Path, script: str) -> None:
    session = _WorkerSession(
        RunLimits(wall_seconds=20),
        OperatorMaximums(),
        None,
        None,
        command=fake_worker(tmp_path, script),
    )
    started = time.monotonic()
    with pytest.raises(ProtocolError):
        session.run([encode({"type": "job"})])
    assert time.monotonic() - started < 10


def test_a_forged_result_with_bad_fields_is_refused(
    tmp_path: Path, market: MarketData, config: RunConfig
) -> None:
    from sandbox.supervisor import _outcome

    forged = "trades: not-a-list"
    script = (
        "import sys, struct, json\n"
        f"p = json.dumps({{'type': 'result', 'trades': {forged!r}}}).encode()\n"
        "sys.stdout.buffer.write(struct.pack('>IQ', len(p), 0) + p)\nsys.stdout.flush()\n"
    )
    session = _WorkerSession(
        RunLimits(wall_seconds=20),
        OperatorMaximums(),
        None,
        None,
        command=fake_worker(tmp_path, script),
    )
    frame = session.run([encode({"type": "job"})])
    with pytest.raises(ProtocolError):
        _outcome(frame, market, config, RunLimits())


def test_a_worker_dying_silently_is_a_worker_failure(tmp_path: Path) -> None:
    session = _WorkerSession(
        RunLimits(wall_seconds=20),
        OperatorMaximums(),
        None,
        None,
        command=fake_worker(tmp_path, "raise SystemExit(3)\n"),
    )
    with pytest.raises(WorkerFailed, match="exit code 3"):
        session.run([encode({"type": "job"})])


def test_a_pre_started_worker_serves_one_run_and_is_gone_after(
    market: MarketData, config: RunConfig
) -> None:
    from sandbox import start_worker

    worker = start_worker()
    result = run_sandboxed(SMA, market, config, worker=worker)
    assert result.trades
    assert worker.process.poll() is not None
    assert not Path(worker.workdir).exists()


def test_a_pre_started_worker_is_closed_when_validation_refuses(
    market: MarketData, config: RunConfig
) -> None:
    from sandbox import start_worker

    worker = start_worker()
    with pytest.raises(StrategyRejected):
        run_sandboxed("import os\n", market, config, worker=worker)
    assert worker.process.poll() is not None


def test_numba_kernels_compile_without_saving_a_cache(tmp_path: Path) -> None:
    # Regression: on a fresh install the first pandas-ta kernel compiled inside the locked-down
    # worker tried to save numba's cache beside the package and failed with PermissionError.
    (tmp_path / "kernel.py").write_text(
        "from numba import njit\n\n@njit(cache=True)\ndef plus_one(x):\n    return x + 1\n"
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from sandbox.worker import keep_numba_cache_read_only\n"
        "keep_numba_cache_read_only()\n"
        "import kernel; print(kernel.plus_one(41))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert done.stdout.strip() == "42"
    assert not list(tmp_path.rglob("*.nbi")) and not list(tmp_path.rglob("*.nbc"))


def test_the_warm_up_trades_through_the_engine() -> None:
    from sandbox.worker import WarmUpStrategy, warm_up_market

    result = run_backtest(WarmUpStrategy, warm_up_market(), RunConfig())
    assert result.trades and len(result.equity.equity) == len(warm_up_market())


def test_the_warm_up_starts_no_numba_and_start_numba_compiles_without_writing(
    tmp_path: Path,
) -> None:
    # An empty numba cache, as on a fresh install. The warm-up (an SMA crossover: the numpy
    # sma, pandas-ta's pandas ema and rsi) leaves numba's compiler unstarted; start_numba (the
    # fork server's) then compiles pandas-ta's sma kernel (seconds) and saves nothing.
    cache, cwd = tmp_path / "numba-cache", tmp_path / "cwd"
    cwd.mkdir()
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from sandbox.worker import keep_numba_cache_read_only, start_numba, warm_up\n"
        "from pandas_ta.overlap.sma import nb_sma\n"
        "before = len(nb_sma.signatures)\n"
        "keep_numba_cache_read_only()\n"
        "warm_up()\n"
        "started = 'numba.np.arraymath' in sys.modules or 'numba.cpython.unicode' in sys.modules\n"
        "print(before, len(nb_sma.signatures), started)\n"
        "start_numba()\n"
        "print(len(nb_sma.signatures), 'numba.np.arraymath' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-s", "-c", probe, str(Path(__file__).parents[2])],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
        cwd=cwd,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1",
            "NUMBA_CACHE_DIR": str(cache),
        },
    )
    assert done.stdout.split() == ["0", "0", "False", "1", "True"]
    assert done.stderr == ""  # a failing warm-up prints its traceback there
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


def test_numba_modules_are_imported_only_until_the_job_arrives() -> None:
    from sandbox.worker import NUMBA_COMPILER_MODULES, import_numba_compiler

    asked: list[int] = []

    def has_job_arrived() -> bool:
        asked.append(1)
        return len(asked) > 2  # the job arrives while the third module would be imported

    assert import_numba_compiler(has_job_arrived) == 2
    assert len(asked) == 3
    assert import_numba_compiler(lambda: False) == len(NUMBA_COMPILER_MODULES)  # all exist
    assert import_numba_compiler(lambda: True) == 0


def test_a_job_already_waiting_is_read_without_warming_up() -> None:
    from sandbox.worker import is_job_waiting

    read_end, write_end = os.pipe()
    try:
        assert not is_job_waiting(read_end)
        os.write(write_end, b"job")
        assert is_job_waiting(read_end)
    finally:
        os.close(read_end)
        os.close(write_end)


def test_records_streamed_past_the_message_limit_end_the_worker(tmp_path: Path) -> None:
    # Progress frames may carry records; many frames, each under the size limit, must not add
    # up to more than one result may hold in the parent.
    script = (
        "import sys, struct, json\n"
        "logs = {'message': []}\n"
        "spec = [{'name': f'logs.{n}', 'dtype': 'i8', 'length': 0}\n"
        "        for n in ('time', 'bar_index', 'level')]\n"
        "spec.append({'name': 'x', 'dtype': 'f8', 'length': 131072})\n"
        "p = json.dumps({'type': 'progress', 'progress': [1, 2, 0, 1.0], 'logs': logs,\n"
        "                'arrays': spec}).encode()\n"
        "blob = bytes(131072 * 8)\n"
        "for _ in range(5):\n"
        "    sys.stdout.buffer.write(struct.pack('>IQ', len(p), len(blob)) + p + blob)\n"
        "    sys.stdout.flush()\n"
        "import time\ntime.sleep(30)\n"
    )
    reports: list[object] = []
    session = _WorkerSession(
        RunLimits(wall_seconds=20),
        OperatorMaximums(max_message_mb=2),
        None,
        reports.append,
        command=fake_worker(tmp_path, script),
    )
    started = time.monotonic()
    with pytest.raises(LimitExceeded, match="limit exceeded: more than 2 MB of records"):
        session.run([encode({"type": "job"})])
    assert 1 <= len(reports) <= 2  # the frames within the budget were taken
    assert time.monotonic() - started < 10
