"""An app per test: its own data folder, SQLite file and runner, started by TestClient.

The apps of one test module share a warm fork server for their sandbox workers: it holds no
run's state (each run still gets a fresh forked worker), and starting one per app cost every
test seconds of CPU. The served app (`strategylab serve`, the browser tests) keeps its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.jobs.queue import WORKER_NICE
from app.main import create_app
from sandbox import ForkServer, WarmWorker, WorkerPool, start_fork_server, start_worker
from tests.jobs.fixtures import make_settings, write_sample

FINISHED = ("done", "failed", "cancelled")
BASE_URL = "http://127.0.0.1:8000"  # a name the server answers to (TestClient's own is refused)


class LoopbackClient(TestClient):
    """A TestClient that addresses the app as 127.0.0.1:8000, websockets included: the Host
    allow-list refuses TestClient's own name, `testserver`."""

    def __init__(self, app: Any, **options: Any) -> None:
        super().__init__(app, base_url=BASE_URL, **options)

    def websocket_connect(self, url: str, *args: Any, **options: Any) -> Any:
        if url.startswith("/"):
            url = BASE_URL.replace("http", "ws", 1) + url
        return super().websocket_connect(url, *args, **options)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write_sample(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def fork_server() -> Iterator[ForkServer]:
    """One fork server for the apps of a test module, at the job runner's niceness."""
    server = start_fork_server(nice=WORKER_NICE)
    yield server
    server.close()


def pools_on(server: ForkServer) -> Callable[..., WorkerPool]:
    """A `create_app(worker_pool=...)` factory: pools whose workers `server` forks (or that
    start from scratch once it is gone, as the default pool does)."""

    def start() -> WarmWorker:
        return start_worker(server if server.is_alive else None)

    def pool(size: int, *, nice: int = 0) -> WorkerPool:
        return WorkerPool(size, nice=nice, start=start)

    return pool


@pytest.fixture
def client(data_dir: Path, fork_server: ForkServer) -> Iterator[TestClient]:
    app = create_app(make_settings(data_dir), worker_pool=pools_on(fork_server))
    with LoopbackClient(app) as test_client:
        yield test_client


def poll_pauses(first_s: float = 0.02, longest_s: float = 0.2) -> Iterator[float]:
    """Pauses between the polls of a wait, s: short at first, so a quick run is seen at once,
    then half as long again each time, up to `longest_s`.

    A GET through the app costs ~8 ms of CPU; a fixed 0.05 s poll spent ~16 % of a core for
    as long as the run it waited for took, and took it from that run."""
    pause = first_s
    while True:
        yield pause
        pause = min(pause * 1.5, longest_s)


def wait_until_finished(client: TestClient, run_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    for pause in poll_pauses():
        run: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in FINISHED:
            return run
        if time.monotonic() >= deadline:
            break
        time.sleep(pause)
    raise TimeoutError(run_id)


def wait_until_running(client: TestClient, run_id: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get(f"/api/runs/{run_id}").json()["status"] != "running":
        if time.monotonic() > deadline:
            raise TimeoutError(run_id)
        time.sleep(0.05)


def collect(websocket: Any) -> list[dict[str, Any]]:
    """Every message until the server closes the socket."""
    messages = []
    try:
        while True:
            messages.append(websocket.receive_json())
    except WebSocketDisconnect:
        return messages


def handshake_close_code(client: TestClient, url: str, **options: Any) -> int:
    """The close code a websocket handshake is refused with (AssertionError if accepted)."""
    try:
        with client.websocket_connect(url, **options):
            pass
    except WebSocketDisconnect as refused:
        return int(refused.code)
    raise AssertionError(f"the handshake to {url} was accepted")
