"""A real crash: `strategylab serve` killed with SIGKILL mid-run, then started again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.jobs.fixtures import SAMPLE_NAME, SLOW_CODE

STRATEGYLAB = Path(sys.executable).parent / "strategylab"
LOOPBACK = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
"""The one HTTP client of these tests' requests to their servers. `httpx.get` builds a client,
SSL context included, per call: ~40 ms of CPU, which the polling loops below spent many times a
second while the server they waited for needed the CPU. No connection is kept alive, so a
killed server leaves none stale for the next request."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    data_dir: Path, port: int, *, extra_env: dict[str, str] | None = None, timeout_s: float = 60
) -> subprocess.Popen[bytes]:
    """`strategylab serve` on `port` with one worker on `data_dir` (SQLite), once it answers."""
    env = {**os.environ, "STRATEGYLAB_DATA_DIR": str(data_dir), "STRATEGYLAB_WORKERS": "1"}
    env.update(extra_env or {})
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [str(STRATEGYLAB), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if LOOPBACK.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise TimeoutError("the server did not start")


def status(base: str, run_id: str) -> dict[str, object]:
    run: dict[str, object] = LOOPBACK.get(f"{base}/api/runs/{run_id}").json()
    return run


def test_a_killed_server_leaves_no_run_running(data_dir: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(data_dir, port)
    try:
        body = {"code": SLOW_CODE, "dataset": SAMPLE_NAME}
        running = LOOPBACK.post(f"{base}/api/runs", json=body).json()["id"]
        waiting = LOOPBACK.post(f"{base}/api/runs", json=body).json()["id"]
        deadline = time.monotonic() + 30
        while status(base, running)["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(10)
    server = start_server(data_dir, port)
    try:
        crashed = status(base, running)
        assert crashed["status"] == "failed"
        assert isinstance(crashed["error"], dict) and crashed["error"]["kind"] == "interrupted"
        assert status(base, waiting)["status"] in ("queued", "running")  # queued again
        LOOPBACK.post(f"{base}/api/runs/{waiting}/cancel", timeout=30)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
