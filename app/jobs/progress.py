"""Live progress fan-out: each running run's viewers get a snapshot first, then the stream.

Everything here runs on the server's event loop (workers hand updates over with
`call_soon_threadsafe`). Progress is coalesced: at most one progress and one equity message per
`min_interval_s` per run, whatever the run's speed, so streaming never slows a run down. A
viewer too slow to keep up is dropped rather than allowed to hold memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

Message = dict[str, Any]
VIEWER_QUEUE_SIZE = 512
MAX_EQUITY_POINTS = 2000
SNAPSHOT_LOG_LINES = 200


@dataclass(slots=True)
class Viewer:
    """One websocket's queue of messages; None marks the end of the stream."""

    queue: asyncio.Queue[Message | None] = field(
        default_factory=lambda: asyncio.Queue(VIEWER_QUEUE_SIZE)
    )
    is_dropped: bool = False


@dataclass(slots=True)
class RunChannel:
    """The live state of one run: the latest progress, its equity points, its viewers."""

    progress: Message | None = None
    equity_points: list[list[float]] = field(default_factory=list)
    recent_logs: list[Message] = field(default_factory=list)
    unsent_points: list[list[float]] = field(default_factory=list)
    viewers: list[Viewer] = field(default_factory=list)
    last_flush: float = 0.0
    flush_handle: asyncio.TimerHandle | None = None
    is_dirty: bool = False
    finished: asyncio.Event = field(default_factory=asyncio.Event)


def queued_progress() -> Message:
    """The progress message of a run that has not started."""
    return {
        "type": "progress",
        "pct": 0.0,
        "bars_done": 0,
        "bars_total": 0,
        "bars_per_s": 0.0,
        "eta_s": None,
        "equity": None,
        "time": None,
    }


class ProgressHub:
    """Fan-out of live run messages to websocket viewers (one instance per app)."""

    def __init__(self, *, min_interval_s: float = 0.2) -> None:
        self._channels: dict[str, RunChannel] = {}
        self._min_interval_s = min_interval_s

    def open(self, run_id: str) -> None:
        """Start tracking a run (queued or starting); idempotent."""
        self._channels.setdefault(run_id, RunChannel())

    def is_live(self, run_id: str) -> bool:
        """True while the run is tracked (queued or running)."""
        return run_id in self._channels

    def publish_progress(self, run_id: str, message: Message) -> None:
        """Record a progress message; viewers get the newest one at most every interval."""
        channel = self._channels.get(run_id)
        if channel is None:
            return
        channel.progress = message
        if message.get("equity") is not None and message.get("time") is not None:
            point = [message["time"], message["equity"]]
            channel.equity_points.append(point)
            channel.unsent_points.append(point)
            if len(channel.equity_points) > MAX_EQUITY_POINTS:
                channel.equity_points = channel.equity_points[::2]
        channel.is_dirty = True
        self._schedule_flush(run_id, channel)

    def publish_logs(self, run_id: str, messages: list[Message]) -> None:
        """Send the strategy's new log lines to every viewer now; keep the latest for late
        joiners."""
        channel = self._channels.get(run_id)
        if channel is None or not messages:
            return
        channel.recent_logs = (channel.recent_logs + messages)[-SNAPSHOT_LOG_LINES:]
        for message in messages:
            self._broadcast(channel, message)

    def _schedule_flush(self, run_id: str, channel: RunChannel) -> None:
        if channel.flush_handle is not None:
            return
        wait = channel.last_flush + self._min_interval_s - time.monotonic()
        if wait <= 0:
            self._flush(run_id)
            return
        loop = asyncio.get_running_loop()
        channel.flush_handle = loop.call_later(wait, self._flush, run_id)

    def _flush(self, run_id: str) -> None:
        channel = self._channels.get(run_id)
        if channel is None or not channel.is_dirty:
            return
        channel.flush_handle = None
        channel.is_dirty = False
        channel.last_flush = time.monotonic()
        if channel.progress is not None:
            self._broadcast(channel, channel.progress)
        if channel.unsent_points:
            self._broadcast(channel, {"type": "equity", "points": channel.unsent_points})
            channel.unsent_points = []

    def finish(self, run_id: str, messages: list[Message]) -> None:
        """Send the final progress and `messages` (logs, done or error), then end every stream."""
        channel = self._channels.pop(run_id, None)
        if channel is None:
            return
        if channel.flush_handle is not None:
            channel.flush_handle.cancel()
        if channel.is_dirty and channel.progress is not None:
            self._broadcast(channel, channel.progress)
        if channel.unsent_points:
            self._broadcast(channel, {"type": "equity", "points": channel.unsent_points})
        for message in messages:
            self._broadcast(channel, message)
        for viewer in channel.viewers:
            self._put(viewer, None, is_final=True)
        channel.finished.set()

    def close_all(self, message: Message) -> None:
        """End every stream with `message` (the server is stopping)."""
        for run_id in list(self._channels):
            self.finish(run_id, [message])

    def subscribe(self, run_id: str) -> tuple[list[Message], Viewer] | None:
        """The current state as messages and a queue of what follows; None if not live."""
        channel = self._channels.get(run_id)
        if channel is None:
            return None
        viewer = Viewer()
        channel.viewers.append(viewer)
        snapshot = [channel.progress or queued_progress()]
        if channel.equity_points:
            snapshot.append({"type": "equity", "points": list(channel.equity_points)})
        snapshot.extend(channel.recent_logs)
        return snapshot, viewer

    def unsubscribe(self, run_id: str, viewer: Viewer) -> None:
        """Stop sending to `viewer` (its websocket closed)."""
        channel = self._channels.get(run_id)
        if channel is not None and viewer in channel.viewers:
            channel.viewers.remove(viewer)

    def viewer_count(self, run_id: str) -> int:
        """How many websockets watch the run now."""
        channel = self._channels.get(run_id)
        return len(channel.viewers) if channel else 0

    async def wait_finished(self, run_id: str, timeout_s: float) -> bool:
        """Wait until the run finishes (True) or the timeout passes (False)."""
        channel = self._channels.get(run_id)
        if channel is None:
            return True
        try:
            await asyncio.wait_for(channel.finished.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _broadcast(self, channel: RunChannel, message: Message) -> None:
        for viewer in list(channel.viewers):
            if not self._put(viewer, message):
                channel.viewers.remove(viewer)

    @staticmethod
    def _put(viewer: Viewer, message: Message | None, *, is_final: bool = False) -> bool:
        if viewer.is_dropped:
            return False
        try:
            viewer.queue.put_nowait(message)
        except asyncio.QueueFull:
            if not is_final:
                logger.warning("dropping a websocket viewer that cannot keep up")
            viewer.is_dropped = True
            while not viewer.queue.empty():  # make room for the end-of-stream marker
                viewer.queue.get_nowait()
            viewer.queue.put_nowait(None)
            return False
        return True
