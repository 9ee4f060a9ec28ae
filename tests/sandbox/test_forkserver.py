"""The fork server: children forked from one warmed-up process are workers like any other —
same results, every OS layer active, nothing shared between runs, nothing of the server's
(its control socket, other children's pidfds) reachable from a child."""

from __future__ import annotations

import dataclasses
import os
import select
import signal
import tempfile
import time
from pathlib import Path

import pytest

from app.engine import MarketData, RunConfig
from sandbox import ForkServer, RunLimits, WorkerPool, codec, forkserver, run_sandboxed
from sandbox.protocol import WORKER_MESSAGES, FrameReader, encode_parts
from sandbox.supervisor import (
    WarmWorker,
    run_unvalidated_for_tests,
    start_fork_server,
    start_worker,
)
from tests.sandbox.conftest import outcome

EXAMPLES = Path(__file__).resolve().parents[2] / "strategies_examples"
LIMITS = RunLimits(wall_seconds=60.0, cpu_seconds=20.0, memory_mb=1024)

REFERENCE = """
class Reference(Strategy):
    params = {"fast": 5, "slow": 20}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("ema", length=self.params["slow"])

    def on_data(self, bar):
        self.log("bar", bar.index, np.round(np.mean(np.array([1.0, 2.0])), 3), math.pi)
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(0.1)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(0.1, leverage=2)
"""

# Tries to change everything a strategy can reach; each attempt may be refused (the guards),
# the run goes on regardless. Whatever got through must not reach the next run.
MUTATOR = """
class Mutator(Strategy):
    params = {"fast": 5}

    def initialize(self):
        targets = [Strategy, crossover, crossunder, math, statistics, np, pd, self.params]
        for target in targets:
            for name in ["params", "fast", "pi", "mean", "array", "Series", "indicator", "log"]:
                try:
                    setattr(target, name, 0)
                except Exception:
                    pass
                try:
                    target[name] = 0
                except Exception:
                    pass
        try:
            Strategy.params["fast"] = 999
        except Exception:
            pass
        self.fast = self.indicator("sma", length=5)

    def on_data(self, bar):
        self.buy(0.1) if bar.index % 7 == 0 else self.close_position()
"""

PRELUDE = "import math\nimport statistics\nimport numpy as np\nimport pandas as pd\n"


def test_forked_worker_runs_like_a_fresh_worker(
    server: ForkServer, long_market: MarketData
) -> None:
    source = (EXAMPLES / "sma_crossover.py").read_text(encoding="utf-8")
    forked = run_sandboxed(source, long_market, RunConfig(), LIMITS, worker=start_worker(server))
    fresh = run_sandboxed(source, long_market, RunConfig(), LIMITS, worker=start_worker())
    assert outcome(forked) == outcome(fresh)
    assert len(forked.trades) > 0


def test_cant_leak_state_from_one_forked_run_to_the_next(
    server: ForkServer, long_market: MarketData
) -> None:
    code = PRELUDE + REFERENCE
    before = run_sandboxed(code, long_market, RunConfig(), LIMITS, worker=start_worker(server))
    mutator = PRELUDE + MUTATOR  # unvalidated: only RestrictedPython and the guards stop it
    run_unvalidated_for_tests(
        mutator, long_market, RunConfig(), LIMITS, worker=start_worker(server)
    )
    after = run_sandboxed(code, long_market, RunConfig(), LIMITS, worker=start_worker(server))
    assert outcome(after) == outcome(before)
    assert len(before.logs) > 0


def ready_layers(process_stdout: int, deadline_s: float = 60.0) -> dict[str, str]:
    """Read frames from a worker until its `ready` frame; return the layers it reports."""
    reader = FrameReader(max_json_bytes=1 << 24, max_blob_bytes=1 << 28, allowed=WORKER_MESSAGES)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process_stdout], [], [], 0.5)
        if not ready:
            continue
        chunk = os.read(process_stdout, 1 << 20)
        assert chunk, "the worker closed its output before reporting its layers"
        for frame in reader.feed(chunk):
            if frame.type == "ready":
                return dict(frame.body["layers"])
    raise AssertionError("no ready frame in time")


def send_job(worker: WarmWorker, market: MarketData) -> None:
    job = encode_parts(
        {
            "type": "job",
            "code": PRELUDE + REFERENCE,
            "filename": "strategy.py",
            "strategy": None,
            "validate": True,
            "symbol": market.symbol,
            "config": codec.config_to_dict(RunConfig()),
            "limits": dataclasses.asdict(LIMITS),
        },
        codec.market_arrays(market),
    )
    stdin = worker.process.stdin
    assert stdin is not None
    for part in job:
        stdin.write(part)
    stdin.close()


def test_forked_worker_applies_every_layer(server: ForkServer, market: MarketData) -> None:
    with start_worker(server) as worker:
        send_job(worker, market)
        assert worker.process.stdout is not None
        layers = ready_layers(worker.process.stdout.fileno())
    for name in ("network", "rlimits", "privileges", "no_new_privs", "landlock", "seccomp"):
        assert layers[name].startswith("active"), (name, layers[name])


def open_descriptors(pid: int) -> dict[int, str]:
    found: dict[int, str] = {}
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            found[int(entry.name)] = str(entry.readlink())
        except OSError:
            continue
    return found


def test_cant_reach_the_servers_socket_or_other_childrens_pidfds(server: ForkServer) -> None:
    first = start_worker(server)
    second = start_worker(server)
    try:
        for worker in (first, second):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the child closes them before anything else
                found = open_descriptors(worker.process.pid).values()
                if not any("socket:" in t or "pidfd" in t for t in found):
                    break
                time.sleep(0.05)
            targets = list(open_descriptors(worker.process.pid).values())
            assert not [t for t in targets if "socket:" in t or "pidfd" in t], targets
    finally:
        first.close()
        second.close()


def test_a_killed_forked_worker_reports_the_signal(server: ForkServer) -> None:
    worker = start_worker(server)
    os.killpg(worker.process.pid, signal.SIGKILL)
    assert worker.process.wait(timeout=10) == -signal.SIGKILL
    worker.close()


def test_each_forked_worker_gets_its_own_working_directory(server: ForkServer) -> None:
    workers = [start_worker(server) for _ in range(2)]
    try:
        deadline = time.monotonic() + 10  # each child moves there first thing after the fork
        cwds = [str(Path(f"/proc/{w.process.pid}/cwd").readlink()) for w in workers]
        while cwds != [w.workdir for w in workers] and time.monotonic() < deadline:
            time.sleep(0.05)
            cwds = [str(Path(f"/proc/{w.process.pid}/cwd").readlink()) for w in workers]
        assert cwds == [w.workdir for w in workers]
        assert all(Path(c).parent == Path(tempfile.gettempdir()) for c in cwds)
    finally:
        for worker in workers:
            worker.close()


def test_a_child_of_a_dead_server_never_looks_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's end is seen by its reader thread a moment after the process is gone; a
    poll in that moment must not call the child alive (a pool handed such a worker to a run,
    which the reader's kill then failed). The reader is slowed down here to hold that moment
    open: a poll must wait for it."""
    receive = forkserver._receive

    def slow_end(sock: object) -> tuple[object, list[int]]:
        message, fds = receive(sock)  # type: ignore[arg-type]
        if message is None:
            time.sleep(1.0)
        return message, fds

    monkeypatch.setattr(forkserver, "_receive", slow_end)
    server = start_fork_server()
    try:
        worker = start_worker(server)
        server.process.kill()
        server.process.wait(timeout=10)
        assert worker.process.poll() == -signal.SIGKILL
        worker.close()
    finally:
        server.close()


def test_pool_forks_again_after_its_fork_server_died(market: MarketData) -> None:
    with WorkerPool(1) as pool:
        first = pool.take()
        first.close()
        server = pool._server
        assert server is not None
        server.process.kill()
        server.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while server.is_alive and time.monotonic() < deadline:
            time.sleep(0.05)
        worker = pool.take()
        result = run_sandboxed(PRELUDE + REFERENCE, market, RunConfig(), LIMITS, worker=worker)
        assert len(result.logs) > 0
