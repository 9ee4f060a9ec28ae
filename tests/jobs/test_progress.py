"""The progress hub: snapshot then stream, throttling, many viewers, slow viewers dropped."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app.jobs import ProgressHub
from app.jobs.progress import VIEWER_QUEUE_SIZE


def progress(done: int, total: int = 1000) -> dict[str, Any]:
    return {
        "type": "progress",
        "pct": 100 * done / total,
        "bars_done": done,
        "bars_total": total,
        "bars_per_s": 1.0,
        "eta_s": 1.0,
        "equity": 100.0 + done,
        "time": 1_700_000_000 + done,
    }


async def drain(queue: asyncio.Queue[Any]) -> list[dict[str, Any]]:
    messages = []
    while (message := await queue.get()) is not None:
        messages.append(message)
    return messages


def test_progress_is_throttled_and_the_last_state_always_arrives() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], float]:
        hub = ProgressHub(min_interval_s=0.1)
        hub.open("r")
        subscribed = hub.subscribe("r")
        assert subscribed is not None
        _, viewer = subscribed
        started = time.monotonic()
        for done in range(1, 1001):
            hub.publish_progress("r", progress(done))
            if done % 100 == 0:
                await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        hub.finish("r", [{"type": "done", "metrics": {}}])
        return await drain(viewer.queue), elapsed

    messages, elapsed = asyncio.run(scenario())
    progress_messages = [m for m in messages if m["type"] == "progress"]
    assert len(progress_messages) <= elapsed / 0.1 + 3
    assert progress_messages[-1]["bars_done"] == 1000
    points = [p for m in messages if m["type"] == "equity" for p in m["points"]]
    assert len(points) == 1000
    assert messages[-1]["type"] == "done"


def test_a_late_joiner_gets_the_current_state_first() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        hub = ProgressHub(min_interval_s=0.05)
        hub.open("r")
        for done in range(1, 301):
            hub.publish_progress("r", progress(done))
        subscribed = hub.subscribe("r")
        assert subscribed is not None
        snapshot, viewer = subscribed
        hub.publish_progress("r", progress(301))
        hub.finish("r", [{"type": "done", "metrics": {}}])
        return snapshot, await drain(viewer.queue)

    snapshot, stream = asyncio.run(scenario())
    assert snapshot[0]["type"] == "progress" and snapshot[0]["bars_done"] == 300
    assert snapshot[1]["type"] == "equity" and len(snapshot[1]["points"]) == 300
    assert stream[0]["bars_done"] == 301 and stream[-1]["type"] == "done"


def test_two_viewers_see_the_same_stream_and_a_stalled_one_is_dropped() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        hub = ProgressHub(min_interval_s=0.0)
        hub.open("r")
        first, second, stalled = (hub.subscribe("r") for _ in range(3))
        assert first and second and stalled
        reader = asyncio.create_task(drain(first[1].queue))
        reader2 = asyncio.create_task(drain(second[1].queue))
        for done in range(VIEWER_QUEUE_SIZE * 2):
            hub.publish_progress("r", progress(done))
            await asyncio.sleep(0)
        viewers = hub.viewer_count("r")
        hub.finish("r", [{"type": "done", "metrics": {}}])
        return await reader, await reader2, viewers

    one, two, viewers = asyncio.run(scenario())
    assert one == two and one[-1]["type"] == "done"
    assert viewers == 2


def test_stopping_the_server_ends_every_stream() -> None:
    async def scenario() -> list[dict[str, Any]]:
        hub = ProgressHub()
        hub.open("queued-run")
        subscribed = hub.subscribe("queued-run")
        assert subscribed is not None
        hub.close_all({"type": "error", "message": "stopping", "line": None})
        assert not hub.is_live("queued-run")
        return await drain(subscribed[1].queue)

    assert asyncio.run(scenario())[-1]["message"] == "stopping"
