"""A real crash of a checkpointed run: `strategylab serve` killed with SIGKILL mid-run, started
again, and the run resumed from its checkpoint to the folder an uninterrupted run writes."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.api.test_crash_restart import LOOPBACK, free_port, start_server, status
from tests.jobs.fixtures import SAMPLE_NAME

CODE = """
class Slowish(Strategy):
    params = {"fast": 10, "slow": 30}
    state = ("spin", "crossings")

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])
        self.spin = 1
        self.crossings = 0

    def on_data(self, bar):
        for step in range(400):
            self.spin = (self.spin * 31 + step) % 1000003
        if crossover(self.fast, self.slow):
            self.crossings += 1
            self.close_position()
            self.buy(0.1)
            self.log("crossing", self.crossings, self.spin)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(0.1, leverage=3)
"""
BODY = {"code": CODE, "dataset": SAMPLE_NAME, "checkpoint_every": 100, "keep_checkpoints": 2}


def start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    runs_dir = {"STRATEGYLAB_RUNS_DIR": str(data_dir / "runs")}
    return start_server(data_dir, port, extra_env=runs_dir, timeout_s=90)


def wait_done(base: str, run_id: str, timeout_s: float = 240) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = status(base, run_id)
        if run["status"] in ("done", "failed", "cancelled"):
            return run
        time.sleep(0.2)
    raise TimeoutError(run_id)


def files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.mark.slow
def test_a_killed_server_resumes_a_checkpointed_run_byte_identically(data_dir: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(data_dir, port)
    try:
        crashed = LOOPBACK.post(f"{base}/api/runs", json=BODY).json()["id"]
        checkpoints = data_dir / "runs" / crashed / "checkpoints"
        deadline = time.monotonic() + 120
        while not list(checkpoints.glob("checkpoint-*.json")):
            assert time.monotonic() < deadline, "no checkpoint was written"
            assert status(base, crashed)["status"] in ("queued", "running")
            time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    assert status_file_free(data_dir / "runs" / crashed)
    server = start(data_dir, port)
    try:
        resumed = wait_done(base, crashed)
        assert resumed["status"] == "done", resumed
        whole = LOOPBACK.post(f"{base}/api/runs", json=BODY).json()["id"]
        assert wait_done(base, whole)["status"] == "done"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(60)
    runs = data_dir / "runs"
    assert files(runs / crashed) == files(runs / whole)
    assert not (runs / crashed / "checkpoints").exists()


def status_file_free(run_dir: Path) -> bool:
    """The crash left checkpoints and no results in the run's folder."""
    return not (run_dir / "trades.csv").exists() and (run_dir / "checkpoints").is_dir()
