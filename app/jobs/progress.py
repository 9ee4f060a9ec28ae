"""Live progress fan-out: each running run's viewers get a snapshot first, then the stream.

Everything here runs on the server's event loop (workers hand updates over with
`call_soon_threadsafe`). Progress is throttled per run: at most one progress and one equity
message per `min_interval_s`, whatever the run's speed, so streaming never slows a run down.

No viewer is ever dropped for being slow. Each viewer holds only what it has not been sent
yet, coalesced to the latest state: one progress message (a newer one replaces it), the
equity points not sent yet (halved by keeping every other point, and always the newest one,
when they pass MAX_EQUITY_POINTS), the newest MAX_PENDING_LOG_LINES log lines (older unsent
ones are counted and reported as one `skipped` message; every line stays in the run's stored
log), and the closing messages. A viewer's memory is bounded whatever the run does, and a
slow reader simply receives fewer, fresher messages; it always sees the final state.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

Message = dict[str, Any]
MAX_EQUITY_POINTS = 2000
SNAPSHOT_LOG_LINES = 200
MAX_PENDING_LOG_LINES = 200  # as many as a late joiner gets (SNAPSHOT_LOG_LINES)


def decimate_points(points: list[list[float]], limit: int) -> list[list[float]]:
    """`points` halved (every other one, from the first) until at most `limit` remain; the
    newest point is always kept so the curve ends where the run is."""
    while len(points) > limit:
        last = points[-1]
        points = points[::2]
        if points[-1] is not last:
            points[-1] = last
    return points


@dataclass(slots=True)
class Viewer:
    """What one websocket has not been sent yet, coalesced to the latest state.

    `take()` empties it in the order a viewer must see it: skipped-lines note, log lines,
    progress, equity points, then the closing messages (after which the stream ends).
    `wake` is set whenever something is pending.
    """

    progress: Message | None = None
    points: list[list[float]] = field(default_factory=list)
    logs: list[Message] = field(default_factory=list)
    logs_skipped: int = 0
    final: list[Message] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_ended(self) -> bool:
        """True once the run's closing messages are pending or sent."""
        return self.final is not None

    def add_progress(self, message: Message) -> None:
        self.progress = message
        self.wake.set()

    def add_points(self, points: list[list[float]]) -> None:
        self.points = decimate_points(self.points + points, MAX_EQUITY_POINTS)
        self.wake.set()

    def add_logs(self, messages: list[Message]) -> None:
        self.logs.extend(messages)
        extra = len(self.logs) - MAX_PENDING_LOG_LINES
        if extra > 0:
            self.logs_skipped += extra
            del self.logs[:extra]
        self.wake.set()

    def end(self, messages: list[Message]) -> None:
        """The run ended: `messages` close the stream after whatever is still pending."""
        if self.final is None:
            self.final = list(messages)
            self.wake.set()

    def take(self) -> list[Message]:
        """Everything pending, in order, and the viewer emptied (the ending stays known)."""
        self.wake.clear()
        messages: list[Message] = []
        if self.logs_skipped:
            messages.append({"type": "skipped", "lines": self.logs_skipped})
            self.logs_skipped = 0
        messages += self.logs
        self.logs = []
        if self.progress is not None:
            messages.append(self.progress)
            self.progress = None
        if self.points:
            messages.append({"type": "equity", "points": self.points})
            self.points = []
        if self.final:
            messages += self.final
            self.final = []
        return messages


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


# What a run is doing, in order, as its progress messages' `stage` says: waiting for a worker,
# starting the sandbox, loading the data, computing the indicators initialize() declares,
# running bars, storing the results (after the last bar). Indicators and running come from the
# engine's own reports (app.engine.loop.PROGRESS_STAGES); the others from the job runner.
STAGES = ("queued", "starting", "loading", "indicators", "running", "storing")


def queued_progress() -> Message:
    """The progress message of a run that has not started."""
    return stage_progress("queued")


def stage_progress(stage: str) -> Message:
    """The progress message of a run before its first bar: `stage` of STAGES, nothing done."""
    return {
        "type": "progress",
        "stage": stage,
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
            channel.equity_points = decimate_points(channel.equity_points, MAX_EQUITY_POINTS)
        channel.is_dirty = True
        self._schedule_flush(run_id, channel)

    def publish_logs(self, run_id: str, messages: list[Message]) -> None:
        """Send the strategy's new log lines to every viewer now; keep the latest for late
        joiners."""
        channel = self._channels.get(run_id)
        if channel is None or not messages:
            return
        channel.recent_logs = (channel.recent_logs + messages)[-SNAPSHOT_LOG_LINES:]
        for viewer in channel.viewers:
            viewer.add_logs(messages)

    def _schedule_flush(self, run_id: str, channel: RunChannel) -> None:
        if channel.flush_handle is not None:
            return
        loop = asyncio.get_running_loop()
        wait = channel.last_flush + self._min_interval_s - loop.time()
        if wait <= 0:
            self._flush(run_id)
            return
        channel.flush_handle = loop.call_later(wait, self._flush, run_id)

    def _flush(self, run_id: str) -> None:
        channel = self._channels.get(run_id)
        if channel is None:
            return
        channel.flush_handle = None
        if not channel.is_dirty:
            return
        channel.is_dirty = False
        channel.last_flush = asyncio.get_running_loop().time()
        self._send_state(channel)

    def _send_state(self, channel: RunChannel) -> None:
        for viewer in channel.viewers:
            if channel.progress is not None:
                viewer.add_progress(channel.progress)
            if channel.unsent_points:
                viewer.add_points(channel.unsent_points)
        channel.unsent_points = []

    def finish(self, run_id: str, messages: list[Message]) -> None:
        """Send the final progress and `messages` (logs, done or error), then end every stream."""
        channel = self._channels.pop(run_id, None)
        if channel is None:
            return
        if channel.flush_handle is not None:
            channel.flush_handle.cancel()
        if not channel.is_dirty:
            channel.progress = None  # every viewer already has it
        self._send_state(channel)
        for viewer in channel.viewers:
            viewer.end(messages)
        channel.finished.set()

    def close_all(self, message: Message) -> None:
        """End every stream with `message` (the server is stopping)."""
        for run_id in list(self._channels):
            self.finish(run_id, [message])

    def subscribe(self, run_id: str) -> tuple[list[Message], Viewer] | None:
        """The current state as messages and a viewer of what follows; None if not live."""
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
