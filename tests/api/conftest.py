"""An app per test: its own data folder, SQLite file and runner, started by TestClient."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.main import create_app
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


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    with LoopbackClient(create_app(make_settings(data_dir))) as test_client:
        yield test_client


def wait_until_finished(client: TestClient, run_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in FINISHED:
            return run
        time.sleep(0.05)
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
