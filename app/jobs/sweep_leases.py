"""Which web node runs a sweep, when several share one Redis: a lease per running sweep.

The node whose sweep thread runs a sweep claims its lease (`strategylab:lease:sweep-<id>`,
set only if absent) before moving it to running, then renews it as a run's is
(app.jobs.redis_job.RunLease) and watches its cancel flag, so:
- a node starting (or looking every ADOPT_INTERVAL_S) queues again only the running sweeps
  whose lease has expired (their node was stopped or killed), never one another node runs;
- a cancel on any node sets the flag, and the node running the sweep stops it.
"""

from __future__ import annotations

import threading
from typing import Final

import redis

from app.jobs.redis_job import RunLease
from app.jobs.redis_keys import (
    CANCEL_TTL_S,
    DEFAULT_LEASE_TIMING,
    LeaseTiming,
    cancel_key,
    lease_key,
)

ADOPT_INTERVAL_S: Final = 10.0
"""How often a node looks for running sweeps whose node is gone, s."""


def lease_id(sweep_id: str) -> str:
    """The id a sweep's lease and cancel flag go by (run ids never start with "sweep-")."""
    return f"sweep-{sweep_id}"


class SweepLeases:
    """The sweeps' leases and cancel flags on Redis."""

    def __init__(self, connection: redis.Redis, timing: LeaseTiming = DEFAULT_LEASE_TIMING) -> None:
        self._redis = connection
        self._timing = timing

    def claim(self, sweep_id: str) -> bool:
        """Take the sweep's lease if no node holds it; True when this node now does."""
        key = lease_key(lease_id(sweep_id))
        return bool(self._redis.set(key, b"1", nx=True, ex=self._timing.ttl_s))

    def release(self, sweep_id: str) -> None:
        """Give back a lease claimed and not used (the sweep was not this node's to run)."""
        self._redis.delete(lease_key(lease_id(sweep_id)))

    def hold(self, sweep_id: str, stop: threading.Event) -> RunLease:
        """While entered: the sweep's lease held and its cancel flag watched (sets `stop`)."""
        return RunLease(self._redis, lease_id(sweep_id), stop, timing=self._timing)

    def is_held(self, sweep_id: str) -> bool:
        """True while some node runs the sweep."""
        return bool(self._redis.exists(lease_key(lease_id(sweep_id))))

    def ask_cancel(self, sweep_id: str) -> None:
        """Ask whichever node runs the sweep to stop it."""
        self._redis.set(cancel_key(lease_id(sweep_id)), b"1", ex=CANCEL_TTL_S)
