"""A viewer that falls behind its run's stream is never dropped and always reads the outcome.

The cause of "Connection lost" at the end of a long run was uvicorn's websocket keepalive. A
ping is queued behind everything already written to that viewer, so (1) a pong deadline closes
(1011) a viewer that reads steadily but slower than its stream, and (2) even without a deadline,
a ping makes a viewer that is more than 10 s behind write after the server's last message:
uvicorn drops the TCP connection 10 s after its close frame, the viewer's late pong is
answered by a reset, and the reset discards what the viewer had not read yet, the outcome
included. The app therefore runs with the keepalive off (`app.api.ws.websocket_keepalive()`).

These tests serve a run's live stream (`app.api.ws.stream_live`, what `/ws/runs/{id}` sends once
it has checked the viewer) under uvicorn, drive the run's hub from the test, and read through a
tiny socket buffer. The two controls show each mechanism with a ping: they fail if uvicorn ever
stops queueing pings behind data (then the keepalive could come back).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, WebSocket
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from app.api.ws import stream_live, websocket_keepalive
from app.jobs import ProgressHub

RUN_ID = "slow-reader-run"
PING_INTERVAL_S = 0.3  # the controls' keepalive, short so a ping is always in flight
RECEIVE_BUFFER_BYTES = 4096  # a small TCP window, so the server's writes really queue
STALL_S = 11.0  # longer than the 10 s uvicorn waits for a close reply before dropping TCP
DONE = {"type": "done", "metrics": {"trades": 3}, "status": "done"}


class LiveServer:
    """A run's live stream and its hub under uvicorn in a thread; the test drives the hub."""

    def __init__(self, ws_options: dict[str, Any]) -> None:
        self.hub = ProgressHub(min_interval_s=0.0)
        self.loop: asyncio.AbstractEventLoop | None = None
        app = FastAPI()
        hub = self.hub

        @app.websocket("/ws/runs/{run_id}")
        async def watch(websocket: WebSocket, run_id: str) -> None:
            # The product's route first checks who may see the run; this is its live part.
            await websocket.accept()
            subscribed = hub.subscribe(run_id)
            assert subscribed is not None
            await stream_live(websocket, hub, run_id, subscribed)

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="critical", **ws_options
        )
        self.server = uvicorn.Server(config)

    async def serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.hub.open(RUN_ID)
        await self.server.serve()

    def call(self, function: Callable[..., None], *args: Any) -> None:
        """Run `function(*args)` on the server's loop, as the job runner does."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(function, *args)


@contextmanager
def live_server(ws_options: dict[str, Any]) -> Iterator[LiveServer]:
    served = LiveServer(ws_options)
    thread = threading.Thread(target=asyncio.run, args=(served.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not served.server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert served.server.started, "uvicorn didn't start"
    try:
        yield served
    finally:
        served.server.should_exit = True
        thread.join(timeout=15)


def log_lines(burst: int, count: int = 200) -> list[dict[str, Any]]:
    """`count` log lines of ~150 bytes each, as a strategy refusing orders writes them."""
    return [
        {
            "type": "log",
            "time": "2024-01-01T00:00:00Z",
            "bar_index": burst * count + i,
            "level": "info",
            "message": f"order refused: not enough margin for 1.0 BTC at bar {burst * count + i}",
        }
        for i in range(count)
    ]


def feed_run(served: LiveServer, *, bursts: int, pause_s: float) -> None:
    """A run that logs `bursts` x 200 lines with its progress, then ends done."""
    for burst in range(bursts):
        served.call(served.hub.publish_logs, RUN_ID, log_lines(burst))
        progress = {"type": "progress", "stage": "running", "pct": 100 * (burst + 1) / bursts}
        served.call(served.hub.publish_progress, RUN_ID, progress)
        time.sleep(pause_s)
    served.call(served.hub.finish, RUN_ID, [DONE])


def read_stream(
    served: LiveServer, feed: Callable[[], None], *, pause_s: float = 0.0, stall_s: float = 0.0
) -> tuple[list[dict[str, Any]], int | None]:
    """Reads the whole stream through a tiny buffer, `pause_s` after each message and once
    `stall_s` after the first one, until the server closes it (or the connection breaks);
    returns the messages and the close code."""
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    raw.connect(("127.0.0.1", served.port))
    messages: list[dict[str, Any]] = []
    url = f"ws://127.0.0.1:{served.port}/ws/runs/{RUN_ID}"
    with connect(url, sock=raw, max_queue=1, ping_interval=None) as websocket:
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        with contextlib.suppress(ConnectionClosedError):  # broken: close_code says how
            for text in websocket:
                messages.append(json.loads(text))
                time.sleep(stall_s if len(messages) == 1 else pause_s)
        feeder.join(timeout=30)
    return messages, websocket.close_code


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_viewer_far_behind_reads_everything_and_a_normal_close() -> None:
    with live_server(websocket_keepalive()) as served:
        messages, close_code = read_stream(
            served, lambda: feed_run(served, bursts=20, pause_s=0.02), stall_s=STALL_S
        )
    assert messages[-1] == DONE, [m["type"] for m in messages[-3:]]
    assert close_code == 1000  # closed by the server after the outcome
    assert [m for m in messages if m["type"] == "progress"][-1]["pct"] == 100.0


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_with_a_ping_a_viewer_far_behind_would_lose_the_outcome() -> None:
    options = {"ws_ping_interval": PING_INTERVAL_S, "ws_ping_timeout": None}
    with live_server(options) as served:
        messages, close_code = read_stream(
            served, lambda: feed_run(served, bursts=20, pause_s=0.02), stall_s=STALL_S
        )
    assert close_code == 1006, close_code  # reset: no close frame was ever read
    assert DONE not in messages


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_with_a_pong_deadline_a_steady_slow_viewer_would_be_dropped() -> None:
    options = {"ws_ping_interval": PING_INTERVAL_S, "ws_ping_timeout": PING_INTERVAL_S}
    with live_server(options) as served:
        messages, close_code = read_stream(
            served, lambda: feed_run(served, bursts=12, pause_s=0.05), pause_s=0.002
        )
    assert close_code in (1006, 1011), close_code  # 1011, or 1006 when a reset ate the frame
    assert DONE not in messages


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_steady_slow_viewer_is_never_dropped() -> None:
    with live_server(websocket_keepalive()) as served:
        messages, close_code = read_stream(
            served, lambda: feed_run(served, bursts=12, pause_s=0.05), pause_s=0.002
        )
    assert messages[-1] == DONE and close_code == 1000
