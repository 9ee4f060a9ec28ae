"""Live sweep progress over Redis pub/sub: the node running a sweep publishes, every node shows.

With STRATEGYLAB_REDIS_URL set a sweep (or walk-forward) runs on one web node's sweep thread,
but its viewers may be on any node. `RelayedSweepHub` is that node's SweepHub with two more
duties: every open, progress, trial rows and finish it is handed is also published as one
JSON event on SWEEP_EVENTS_CHANNEL (`{"node", "sweep_id", "event", "progress", "trials",
"messages"}`) from a publisher thread, so the event loop never waits on Redis; and a listener
thread replays the events of the other nodes into this node's hub on the event loop, so a
viewer on any node sees the trials finish and the best so far as they happen. A node that
learns of a sweep after it started opens its channel at the next event (its viewers had the
stored progress meanwhile). Events published while a node was away from Redis are lost to
it; its viewers get the outcome from the database, as for runs (app.jobs.redis_progress).
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import uuid
from collections import OrderedDict
from typing import Any, Final

import redis

from app.jobs.redis_progress import listen
from app.jobs.sweep_progress import Message, SweepHub

logger = logging.getLogger(__name__)

SWEEP_EVENTS_CHANNEL: Final = "strategylab:sweep-events"
"""Pub/sub channel of live sweep events (open, progress with trial rows, finish)."""
FINISHED_REMEMBERED: Final = 1_000
"""Sweeps whose end a node remembers, so a late event never reopens a finished channel."""
_STOP: Final = object()


class RelayedSweepHub(SweepHub):
    """A web node's SweepHub whose sweeps are seen live on every node (see the module)."""

    def __init__(self, connection: redis.Redis) -> None:
        super().__init__()
        self._redis = connection
        self.node = uuid.uuid4().hex
        self._outbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._finished: OrderedDict[str, None] = OrderedDict()  # touched on the loop only
        self._sender = threading.Thread(target=self._send, name="sweep-events-out", daemon=True)
        self._listener = threading.Thread(target=self._listen, name="sweep-events", daemon=True)

    def start(self, *, wait_s: float = 5.0) -> None:
        """Start publishing and listening (on the running loop); returns once subscribed,
        or after `wait_s` when Redis is away (the listener keeps trying)."""
        self._loop = asyncio.get_running_loop()
        self._sender.start()
        self._listener.start()
        self._subscribed.wait(wait_s)

    def stop(self) -> None:
        """Send what is pending, stop both threads."""
        self._outbox.put(_STOP)
        self._stop.set()
        for thread in (self._sender, self._listener):
            if thread.is_alive():
                thread.join(timeout=5)

    # -- this node's sweeps: applied here and published --------------------------------------

    def open(self, sweep_id: str, progress: Message | None = None) -> None:
        super().open(sweep_id, progress)
        self._post(sweep_id, "open", progress=progress)

    def publish(self, sweep_id: str, progress: Message | None, trials: list[Message]) -> None:
        super().publish(sweep_id, progress, trials)
        self._post(sweep_id, "progress", progress=progress, trials=trials)

    def finish(self, sweep_id: str, messages: list[Message]) -> None:
        super().finish(sweep_id, messages)
        self._post(sweep_id, "finish", messages=messages)

    def close_all(self, message: Message) -> None:
        """End this node's streams only (the server is stopping): the sweeps it ran go back
        to queued and resume elsewhere, so the other nodes' viewers are not told they ended."""
        for sweep_id in list(self._channels):
            SweepHub.finish(self, sweep_id, [message])

    def _post(self, sweep_id: str, event: str, **data: Any) -> None:
        try:
            text = json.dumps(
                {"node": self.node, "sweep_id": sweep_id, "event": event, **data},
                allow_nan=False,
            )
        except (TypeError, ValueError) as error:
            logger.warning("sweep event not published sweep_id=%s: %s", sweep_id, error)
            return
        self._outbox.put(text)

    def _send(self) -> None:
        while (text := self._outbox.get()) is not _STOP:
            try:
                self._redis.publish(SWEEP_EVENTS_CHANNEL, str(text))
            except redis.RedisError as error:  # other nodes' viewers miss it; the sweep goes on
                logger.warning("sweep event not published: %s", error)

    # -- the other nodes' sweeps: replayed here ----------------------------------------------

    def _listen(self) -> None:
        listen(
            self._redis,
            SWEEP_EVENTS_CHANNEL,
            "sweep events",
            self._stop,
            self._subscribed,
            self._dispatch,
        )

    def _dispatch(self, payload: object) -> None:
        try:
            text = payload.decode() if isinstance(payload, bytes) else str(payload)
            event = json.loads(text)
            node, sweep_id, kind = str(event["node"]), str(event["sweep_id"]), str(event["event"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            logger.warning("sweep events: malformed event ignored")
            return
        if node == self.node or self._loop is None or self._loop.is_closed():
            return  # this node's own events were applied when they were made
        self._loop.call_soon_threadsafe(self._apply, sweep_id, kind, event)

    def _apply(self, sweep_id: str, kind: str, event: dict[str, Any]) -> None:
        """On the event loop: another node's event applied to this node's hub."""
        progress = event.get("progress") if isinstance(event.get("progress"), dict) else None
        if kind == "finish":
            self._finished[sweep_id] = None
            if len(self._finished) > FINISHED_REMEMBERED:
                self._finished.popitem(last=False)
            messages = event.get("messages")
            SweepHub.finish(self, sweep_id, list(messages) if isinstance(messages, list) else [])
            return
        if kind == "open":  # started, or resumed after its node stopped
            self._finished.pop(sweep_id, None)
        if sweep_id in self._finished or kind not in ("open", "progress"):
            return
        SweepHub.open(self, sweep_id, progress)
        if kind == "progress":
            trials = event.get("trials")
            rows = (
                [row for row in trials if isinstance(row, dict)] if isinstance(trials, list) else []
            )
            SweepHub.publish(self, sweep_id, progress, rows)


__all__ = ["SWEEP_EVENTS_CHANNEL", "RelayedSweepHub"]
