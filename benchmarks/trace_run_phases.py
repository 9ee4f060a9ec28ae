"""A per-phase timeline of one `strategylab run`: wall-clock seconds since the command started
and each process's own CPU seconds, for the CLI and its sandbox worker, one line per phase.

    .venv/bin/python benchmarks/trace_run_phases.py STRATEGY.py --data DATA.csv [run options]

It runs the console script's own steps (the early worker, then the commands) with the phases
wrapped; the worker is started as `trace_run_phases.py --worker`, which wraps the worker's
phases and writes its lines to its stderr (the CLI prints the worker's stderr at the end; the
locked-down worker may write nowhere else). Nothing in the product is changed on disk.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The worker gets only WORKER_ENV, so the CLI passes its start time through this file.
T0_FILE = Path("/tmp/strategylab-trace-t0")


def _t0() -> float:
    try:
        return float(T0_FILE.read_text())
    except (OSError, ValueError):
        return time.time()


T0 = _t0()


def mark(who: str, what: str) -> None:
    line = f"{who:6s} {time.time() - T0:7.3f} s wall {time.process_time():6.3f} s CPU  {what}\n"
    os.write(2, line.encode())


def wrap(owner: Any, name: str, who: str) -> None:
    """Replace `owner.name` by a function that marks its start and end."""
    function: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(function)
    def traced(*args: Any, **kwargs: Any) -> Any:
        mark(who, f"{name} start")
        try:
            return function(*args, **kwargs)
        finally:
            mark(who, f"{name} end")

    setattr(owner, name, traced)


def trace_worker() -> int:
    mark("worker", "interpreter started")
    import sandbox.worker as worker

    mark("worker", "imports done")
    names = ("load_indicator_libraries", "warm_up", "import_numba_compiler", "start_numba")
    for name in (*names, "lock_down", "compile_strategy"):
        wrap(worker, name, "worker")
    wrap(worker, "simulate", "worker")
    wrap(worker, "run_job", "worker")
    return worker.main()


def trace_cli(args: list[str]) -> None:
    T0_FILE.write_text(str(T0))
    mark("cli", "interpreter started")
    import sandbox.worker_process as worker_process

    command = (sys.executable, "-s", str(Path(__file__).resolve()), "--worker")
    worker_process.start_worker_process.__defaults__ = (command,)
    import app.cli

    started = app.cli.start_early_worker(["run", *args])
    mark("cli", "early worker started")
    import app.commands
    import app.runs.prepare as prepare
    import app.runs.service as service
    import sandbox.codec as codec
    import sandbox.supervisor as supervisor

    mark("cli", "imports done")
    for owner, name in (
        (prepare, "load_data_file"),
        (service, "execute"),
        (service, "write_folder"),
        (service, "write_indicator_file"),
        (supervisor, "_feed"),
        (codec, "result_from_frame"),
    ):
        wrap(owner, name, "cli")
    original_run = supervisor._WorkerSession.run

    def run(self: Any, job: Any, worker: Any = None) -> Any:
        try:
            return original_run(self, job, worker)
        finally:
            if worker is not None:
                worker.stderr_closed.wait(2)
                os.write(2, bytes(worker.stderr))

    supervisor._WorkerSession.run = run  # type: ignore[method-assign]
    sys.argv = ["strategylab", "run", *args]
    try:
        app.commands.main(started)
    finally:
        mark("cli", "done")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(trace_worker())
    if T0_FILE.exists():
        T0_FILE.unlink()
    T0 = time.time()
    trace_cli(sys.argv[1:])
