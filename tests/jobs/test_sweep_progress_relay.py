"""Live sweep progress on every web node: the node running a sweep publishes through Redis,
a viewer on another node sees the trials finish and the best so far, then the end."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.jobs.redis_queue import connect
from app.jobs.redis_sweep_progress import RelayedSweepHub
from app.jobs.sweep_progress import Message, SweepViewer
from tests.jobs.redis_server import ThrowawayRedis

PROGRESS: Message = {"type": "progress", "trials_done": 2, "trials_total": 4, "best": 1.5}
TRIALS: list[Message] = [
    {"type": "trial", "number": 0, "value": 1.0},
    {"type": "trial", "number": 1, "value": 1.5},
]
DONE: Message = {"type": "done", "status": "done"}


async def _received(viewer: SweepViewer, until: Message, timeout_s: float = 10) -> list[Message]:
    """Every message the viewer gets until `until` arrives."""
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while until not in messages:
        assert time.monotonic() < deadline, f"no {until!r}; got {messages}"
        try:
            await asyncio.wait_for(viewer.wake.wait(), 0.2)
        except TimeoutError:
            continue
        messages += viewer.take()
    return messages


@pytest.mark.slow
def test_a_viewer_on_another_node_sees_the_sweep_live(redis_server: ThrowawayRedis) -> None:
    async def scenario() -> tuple[list[Message], list[Message], bool]:
        running, other = (RelayedSweepHub(connect(redis_server.url)) for _ in range(2))
        running.start()
        other.start()
        try:
            running.open("sweep-1", {"type": "progress", "trials_done": 0})
            await _wait_live(other, "sweep-1")
            viewer = other.subscribe("sweep-1")
            assert viewer is not None
            running.publish("sweep-1", PROGRESS, TRIALS)
            live = await _received(viewer, PROGRESS)
            running.finish("sweep-1", [DONE])
            ending = await _received(viewer, DONE)
            running.publish("sweep-1", PROGRESS, [])  # a late event never reopens it
            await asyncio.sleep(0.5)
            return live, ending, other.is_live("sweep-1")
        finally:
            running.stop()
            other.stop()

    live, ending, is_reopened = asyncio.run(scenario())
    assert [m for m in live if m["type"] == "trial"] == TRIALS
    assert [m for m in live if m["type"] == "progress"][-1] == PROGRESS
    assert ending[-1] == DONE and viewer_ended(ending)
    assert not is_reopened


def viewer_ended(messages: list[Message]) -> bool:
    return messages.count(DONE) == 1


async def _wait_live(hub: RelayedSweepHub, sweep_id: str) -> None:
    deadline = time.monotonic() + 10
    while not hub.is_live(sweep_id):
        assert time.monotonic() < deadline, "the other node never learnt of the sweep"
        await asyncio.sleep(0.05)
