"""The progress hub: snapshot then stream, throttling, many viewers, slow viewers coalesced."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from app.jobs import ProgressHub
from app.jobs.progress import MAX_EQUITY_POINTS, MAX_PENDING_LOG_LINES, Viewer, decimate_points


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


async def drain(viewer: Viewer) -> list[dict[str, Any]]:
    """Reads everything a viewer is sent until its stream ends, as the websocket does."""
    messages: list[dict[str, Any]] = []
    while True:
        await viewer.wake.wait()
        is_last = viewer.is_ended
        messages += viewer.take()
        if is_last:
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
        return await drain(viewer), elapsed

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
        return snapshot, await drain(viewer)

    snapshot, stream = asyncio.run(scenario())
    assert snapshot[0]["type"] == "progress" and snapshot[0]["bars_done"] == 300
    assert snapshot[1]["type"] == "equity" and len(snapshot[1]["points"]) == 300
    assert stream[0]["bars_done"] == 301 and stream[-1]["type"] == "done"


def log(number: int) -> dict[str, Any]:
    return {
        "type": "log",
        "time": "t",
        "bar_index": number,
        "level": "info",
        "message": f"{number}",
    }


def test_two_viewers_see_the_same_stream_and_a_stalled_one_is_never_dropped() -> None:
    async def scenario() -> tuple[list[Any], list[Any], list[Any], int, Viewer]:
        hub = ProgressHub(min_interval_s=0.0)
        hub.open("r")
        first, second, stalled = (hub.subscribe("r") for _ in range(3))
        assert first and second and stalled
        reader = asyncio.create_task(drain(first[1]))
        reader2 = asyncio.create_task(drain(second[1]))
        for done in range(1, 5001):
            hub.publish_progress("r", progress(done, total=5000))
            hub.publish_logs("r", [log(done)])
            await asyncio.sleep(0)
        viewers = hub.viewer_count("r")
        pending = stalled[1]
        # What the stalled viewer holds is bounded, and only the newest state.
        assert pending.progress is not None and pending.progress["bars_done"] == 5000
        assert len(pending.points) <= MAX_EQUITY_POINTS
        assert pending.points[-1] == [1_700_000_000 + 5000, 5100.0]
        assert len(pending.logs) == MAX_PENDING_LOG_LINES
        hub.finish("r", [{"type": "done", "metrics": {}}])
        late = await drain(pending)
        return await reader, await reader2, late, viewers, pending

    one, two, late, viewers, _ = asyncio.run(scenario())
    assert one == two and one[-1]["type"] == "done"
    assert viewers == 3
    # The slow viewer wakes to: how many lines it missed, the newest lines, the final
    # progress, the equity curve decimated to the bound (ending at the last point), done.
    assert [m["type"] for m in late][:1] == ["skipped"]
    assert late[0]["lines"] == 5000 - MAX_PENDING_LOG_LINES
    logs = [m for m in late if m["type"] == "log"]
    assert [m["bar_index"] for m in logs] == list(range(5001 - MAX_PENDING_LOG_LINES, 5001))
    progress_messages = [m for m in late if m["type"] == "progress"]
    assert [m["pct"] for m in progress_messages] == [100.0]
    (equity,) = [m for m in late if m["type"] == "equity"]
    assert len(equity["points"]) <= MAX_EQUITY_POINTS
    assert equity["points"][0][0] == 1_700_000_001 and equity["points"][-1][0] == 1_700_005_000
    assert late[-1]["type"] == "done"


def test_decimation_keeps_the_first_and_newest_points_within_the_limit() -> None:
    points = [[float(i), float(i)] for i in range(10_001)]
    kept = decimate_points(points, 2000)
    assert len(kept) <= 2000 and kept[0] == [0.0, 0.0] and kept[-1] == [10_000.0, 10_000.0]
    assert [p[0] for p in kept] == sorted(p[0] for p in kept)
    assert decimate_points(points[:5], 10) == points[:5]


def test_stopping_the_server_ends_every_stream() -> None:
    async def scenario() -> list[dict[str, Any]]:
        hub = ProgressHub()
        hub.open("queued-run")
        subscribed = hub.subscribe("queued-run")
        assert subscribed is not None
        hub.close_all({"type": "error", "message": "stopping", "line": None})
        assert not hub.is_live("queued-run")
        return await drain(subscribed[1])

    assert asyncio.run(scenario())[-1]["message"] == "stopping"
