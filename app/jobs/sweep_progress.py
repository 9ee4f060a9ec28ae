"""Live sweep progress fan-out: each running sweep's viewers get its latest state, then the
finished trials as they come, then the outcome.

Everything here runs on the server's event loop (the sweep thread hands updates over with
`call_soon_threadsafe`). A viewer holds only what it has not been sent yet: the newest
progress message (a newer one replaces it), at most MAX_PENDING_TRIALS trial rows (when a slow
reader falls further behind, the oldest are dropped and it is sent one `resync` message, which
tells it to read the stored trials from GET /api/sweeps/{id}/trials), then the closing
messages. Memory per viewer is bounded whatever the sweep does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Final

Message = dict[str, Any]
MAX_PENDING_TRIALS: Final = 1_000


@dataclass(slots=True)
class SweepViewer:
    """What one websocket has not been sent yet; `wake` is set whenever something is."""

    progress: Message | None = None
    trials: list[Message] = field(default_factory=list)
    missed: int = 0
    final: list[Message] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, progress: Message | None, trials: list[Message]) -> None:
        if progress is not None:
            self.progress = progress
        self.trials.extend(trials)
        extra = len(self.trials) - MAX_PENDING_TRIALS
        if extra > 0:
            self.missed += extra
            del self.trials[:extra]
        self.wake.set()

    def end(self, messages: list[Message]) -> None:
        if self.final is None:
            self.final = list(messages)
            self.wake.set()

    @property
    def is_ended(self) -> bool:
        return self.final is not None

    def take(self) -> list[Message]:
        """Everything pending, in order: resync note, trial rows, progress, closing messages."""
        self.wake.clear()
        messages: list[Message] = []
        if self.missed:
            messages.append({"type": "resync", "missed_trials": self.missed})
            self.missed = 0
        messages += self.trials
        self.trials = []
        if self.progress is not None:
            messages.append(self.progress)
            self.progress = None
        if self.final:
            messages += self.final
            self.final = []
        return messages


@dataclass(slots=True)
class SweepChannel:
    """One live sweep: its latest progress message and its viewers."""

    progress: Message | None = None
    viewers: list[SweepViewer] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class SweepHub:
    """Fan-out of live sweep messages to websocket viewers (one instance per app)."""

    def __init__(self) -> None:
        self._channels: dict[str, SweepChannel] = {}

    def start(self) -> None:
        """Called on the event loop once the app starts (a relayed hub starts listening)."""

    def stop(self) -> None:
        """Called once the app's sweeps have stopped."""

    def open(self, sweep_id: str, progress: Message | None = None) -> None:
        """Start tracking a sweep (queued or starting); idempotent."""
        channel = self._channels.setdefault(sweep_id, SweepChannel())
        if progress is not None and channel.progress is None:
            channel.progress = progress

    def is_live(self, sweep_id: str) -> bool:
        return sweep_id in self._channels

    def publish(self, sweep_id: str, progress: Message | None, trials: list[Message]) -> None:
        """Record the newest progress and hand it and the newly finished trials to viewers."""
        channel = self._channels.get(sweep_id)
        if channel is None:
            return
        if progress is not None:
            channel.progress = progress
        for viewer in channel.viewers:
            viewer.add(progress, trials)

    def finish(self, sweep_id: str, messages: list[Message]) -> None:
        """Send `messages` (done or error) after what is pending, then end every stream."""
        channel = self._channels.pop(sweep_id, None)
        if channel is None:
            return
        for viewer in channel.viewers:
            viewer.end(messages)
        channel.finished.set()

    def close_all(self, message: Message) -> None:
        """End every stream with `message` (the server is stopping)."""
        for sweep_id in list(self._channels):
            self.finish(sweep_id, [message])

    def subscribe(self, sweep_id: str) -> SweepViewer | None:
        """A viewer already holding the sweep's latest progress; None if it is not live."""
        channel = self._channels.get(sweep_id)
        if channel is None:
            return None
        viewer = SweepViewer()
        channel.viewers.append(viewer)
        viewer.add(channel.progress, [])
        return viewer

    def unsubscribe(self, sweep_id: str, viewer: SweepViewer) -> None:
        channel = self._channels.get(sweep_id)
        if channel is not None and viewer in channel.viewers:
            channel.viewers.remove(viewer)

    async def wait_finished(self, sweep_id: str, timeout_s: float) -> bool:
        """Wait until the sweep finishes (True) or the timeout passes (False)."""
        channel = self._channels.get(sweep_id)
        if channel is None:
            return True
        try:
            await asyncio.wait_for(channel.finished.wait(), timeout_s)
        except TimeoutError:
            return False
        return True
