"""Live run events over Redis pub/sub: workers publish them, every web node replays them.

A worker's job runner hands its progress, log lines and closing messages to a
`RedisProgressPublisher` (the ProgressHub shape) instead of a local hub; each one becomes one
JSON event on EVENTS_CHANNEL: `{"run_id", "event": "open"|"progress"|"logs"|"finish", "data"}`.
Every web node runs one `ProgressRelay`, which subscribes to the channel and calls the same
method on its own ProgressHub on the event loop, so every node holds the same live state and a
viewer on any node sees the same view (throttling and coalescing stay the hub's own).

The messages were already checked by the worker's parent side (sandbox.codec) before they were
published; Redis is part of the installation's trusted core (docs/deploy.md: keep it private
and password-protected). A relay that loses Redis reconnects with back-off; events published
meanwhile are lost to that node, and its viewers get the run's outcome from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

import redis

from app.jobs.progress import Message, ProgressHub
from app.jobs.redis_keys import EVENTS_CHANNEL

logger = logging.getLogger(__name__)

RECONNECT_MAX_S: Final = 5.0
LISTEN_TIMEOUT_S: Final = 0.5
EVENTS: Final = frozenset({"open", "progress", "logs", "finish"})
FINISHED_REMEMBERED: Final = 10_000
"""Runs whose end a relay remembers, so a late event never reopens a finished run's channel."""


def encode_event(run_id: str, event: str, data: Any) -> str:
    """One event as strict JSON (non-finite numbers were replaced by null upstream)."""
    return json.dumps({"run_id": run_id, "event": event, "data": data}, allow_nan=False)


def listen(
    connection: redis.Redis,
    channel: str,
    what: str,
    stop: threading.Event,
    subscribed: threading.Event,
    dispatch: Callable[[object], None],
) -> None:
    """Until `stop` is set: subscribe to `channel` and hand each message's payload to
    `dispatch`; `subscribed` is set once a subscription stands. Redis away: retried with a
    doubling pause (at most RECONNECT_MAX_S), logged as `what` ("run events", ...)."""
    delay = 0.1
    while not stop.is_set():
        pubsub = connection.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        try:
            pubsub.subscribe(channel)
            subscribed.set()
            delay = 0.1
            while not stop.is_set():
                raw = pubsub.get_message(timeout=LISTEN_TIMEOUT_S)
                if raw is not None:
                    dispatch(raw.get("data"))
        except redis.RedisError as error:
            logger.warning("%s: Redis unreachable, retrying in %.1f s: %s", what, delay, error)
            stop.wait(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)
        finally:
            with contextlib.suppress(redis.RedisError):
                pubsub.close()


class RedisProgressPublisher(ProgressHub):
    """The hub a worker's job runner talks to: each call becomes one event on Redis."""

    def __init__(self, connection: redis.Redis) -> None:
        super().__init__()
        self._redis = connection

    def open(self, run_id: str) -> None:
        self._publish(run_id, "open", None)

    def publish_progress(self, run_id: str, message: Message) -> None:
        self._publish(run_id, "progress", message)

    def publish_logs(self, run_id: str, messages: list[Message]) -> None:
        if messages:
            self._publish(run_id, "logs", messages)

    def finish(self, run_id: str, messages: list[Message]) -> None:
        self._publish(run_id, "finish", messages)

    def _publish(self, run_id: str, event: str, data: Any) -> None:
        try:
            self._redis.publish(EVENTS_CHANNEL, encode_event(run_id, event, data))
        except (redis.RedisError, ValueError) as error:
            # The live view misses this event; the run itself and its stored outcome go on.
            logger.warning("run event not published run_id=%s event=%s: %s", run_id, event, error)


class ProgressRelay:
    """Replays every run event from Redis into this node's ProgressHub (a daemon thread)."""

    def __init__(self, connection: redis.Redis, hub: ProgressHub) -> None:
        self._redis = connection
        self._hub = hub
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="run-events", daemon=True)
        self._finished: OrderedDict[str, None] = OrderedDict()  # touched on the loop only

    def start(self, loop: asyncio.AbstractEventLoop, *, wait_s: float = 5.0) -> None:
        """Start listening; returns once subscribed (or after `wait_s` if Redis is down)."""
        self._loop = loop
        self._thread.start()
        self._subscribed.wait(wait_s)

    def stop(self) -> None:
        """Stop listening and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _listen(self) -> None:
        listen(
            self._redis, EVENTS_CHANNEL, "run events", self._stop, self._subscribed, self._dispatch
        )

    def _dispatch(self, payload: object) -> None:
        try:
            text = payload.decode() if isinstance(payload, bytes) else str(payload)
            event = json.loads(text)
            run_id, kind, data = str(event["run_id"]), str(event["event"]), event["data"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            logger.warning("run events: malformed event ignored")
            return
        if kind not in EVENTS or self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._apply, run_id, kind, data)

    def _apply(self, run_id: str, kind: str, data: Any) -> None:
        """On the event loop: the event applied to this node's hub."""
        if kind == "finish":
            self._finished[run_id] = None
            if len(self._finished) > FINISHED_REMEMBERED:
                self._finished.popitem(last=False)
            self._hub.finish(run_id, list(data or []))
            return
        if run_id in self._finished:
            return
        self._hub.open(run_id)
        if kind == "progress" and isinstance(data, dict):
            self._hub.publish_progress(run_id, data)
        elif kind == "logs" and isinstance(data, list):
            self._hub.publish_logs(run_id, data)
