"""A worker's lease keeper: a small process beside `strategylab worker` that renews its leases.

A run's lease on Redis says "a live worker runs this attempt". Renewed from a thread of the
worker, it lapsed whenever the worker's process was starved (a busy machine, a long stretch
holding the GIL while a result is decoded and stored), and the web nodes' reaper queued a run
again whose worker was alive, only slow: the run started twice. The keeper is a separate
process that does nothing but renew, so a slow worker keeps its leases, and a lost one does
not: the keeper reads its commands on stdin, and when the worker dies (kill -9, its machine
gone) stdin reaches end-of-file (or the keeper finds itself orphaned), it deletes the leases
it held and exits, so the reaper sees the loss within seconds. A lease is held until a
deadline (the job's hard timeout), so a worker stopped for good (SIGSTOP, never resumed) loses
its run then rather than never.

Each lease's value is its attempt's number: holding it succeeds only while no later attempt
holds it, and deleting it only while it is still the attempt's own, so an attempt that was
replaced (another worker runs the next attempt) never renews or deletes the newer lease.

This file runs as its own script (`python -P lease_keeper.py TTL RENEW_S`, the Redis URL as
the first line on stdin, never on the command line): it imports only the standard library and
redis, so the keeper starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

import redis

logger = logging.getLogger(__name__)

RENEW_SCRIPT: Final = """
local held = redis.call('get', KEYS[1])
if held == false or tonumber(held) <= tonumber(ARGV[1]) then
  return redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2]) and 1 or 0
end
return 0
"""
"""Hold lease KEYS[1] as attempt ARGV[1] for ARGV[2] s, unless a later attempt holds it."""
DROP_SCRIPT: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
"""Delete lease KEYS[1] only while it holds token ARGV[1]."""
KEEPER_POLL_S: Final = 0.5
"""Longest the keeper waits for a command before looking at its parent again, s."""


def renew_lease(connection: redis.Redis, key: str, attempt: int, ttl_s: int) -> bool:
    """Set or renew lease `key` for `ttl_s` seconds as attempt `attempt`; False when a later
    attempt holds it (this attempt was replaced)."""
    return bool(connection.eval(RENEW_SCRIPT, 1, key, str(attempt), str(ttl_s)))


def drop_lease(connection: redis.Redis, key: str, attempt: int) -> None:
    """Delete lease `key` if attempt `attempt` still holds it."""
    connection.eval(DROP_SCRIPT, 1, key, str(attempt))


def lease_holder(connection: redis.Redis, key: str) -> int | None:
    """The attempt holding lease `key` now (None: nobody; the lease lapsed or was released,
    or it holds no attempt number)."""
    return holder_of(connection.get(key))


def holder_of(raw: bytes | str | None) -> int | None:
    """The attempt number a lease's raw value names (None for none or a malformed one)."""
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else raw
    return int(text) if text.isdigit() else None


class LeaseKeeper:
    """The worker's side of the keeper process: `hold` and `drop` leases; `close` ends it."""

    def __init__(self, redis_url: str, *, ttl_s: int, renew_s: float) -> None:
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [sys.executable, "-P", str(Path(__file__).resolve()), str(ttl_s), str(renew_s)],
            stdin=subprocess.PIPE,
            close_fds=True,
        )
        self._send(redis_url)

    def hold(self, key: str, attempt: int, *, until_s: float) -> bool:
        """Renew lease `key` as attempt `attempt` until the epoch time `until_s`; False when
        the keeper is gone (the caller renews the lease itself)."""
        return self._send(f"hold {key} {attempt} {until_s:.3f}")

    def drop(self, key: str, attempt: int) -> None:
        """Stop renewing lease `key` and delete it if attempt `attempt` still holds it."""
        self._send(f"drop {key} {attempt}")

    def is_alive(self) -> bool:
        """True while the keeper process runs."""
        return self._process.poll() is None

    def close(self) -> None:
        """End the keeper (it deletes the leases it still holds)."""
        stdin = self._process.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):
                stdin.close()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)

    def _send(self, line: str) -> bool:
        stdin: IO[bytes] | None = self._process.stdin
        if stdin is None or not self.is_alive():
            return False
        with self._lock:
            try:
                stdin.write(line.encode() + b"\n")
                stdin.flush()
            except (OSError, ValueError):
                return False
        return True


class _Leases:
    """The keeper process's leases: key -> (attempt, deadline as epoch seconds)."""

    def __init__(self, connection: redis.Redis, ttl_s: int) -> None:
        self._redis = connection
        self._ttl_s = ttl_s
        self.held: dict[str, tuple[int, float]] = {}

    def command(self, line: str) -> None:
        parts = line.split()
        if len(parts) == 4 and parts[0] == "hold" and parts[2].isdigit():
            self.held[parts[1]] = (int(parts[2]), float(parts[3]))
        elif len(parts) == 3 and parts[0] == "drop" and parts[2].isdigit():
            self.held.pop(parts[1], None)
            self._quietly(drop_lease, parts[1], int(parts[2]))

    def renew(self) -> None:
        now = time.time()
        for key, (token, until_s) in list(self.held.items()):
            if now > until_s:
                del self.held[key]  # past the job's hard timeout: let it lapse
            elif not self._quietly(renew_lease, key, token, self._ttl_s):
                del self.held[key]  # replaced by a newer attempt: nothing left to keep

    def release(self) -> None:
        for key, (token, _) in self.held.items():
            self._quietly(drop_lease, key, token)

    def _quietly(self, action: Callable[..., object], *args: object) -> bool:
        try:
            return bool(action(self._redis, *args))
        except redis.RedisError as error:  # Redis restarting: keep it, try again next round
            logger.warning("lease not renewed yet %s: %s", args[0], error)
            return True


def main(argv: list[str]) -> int:
    """The keeper process: renew held leases every RENEW_S until stdin ends."""
    ttl_s, renew_s = int(argv[1]), float(argv[2])
    for stopping in (signal.SIGINT, signal.SIGTERM):  # it ends with its worker, not before
        signal.signal(stopping, signal.SIG_IGN)
    source = sys.stdin.fileno()  # read unbuffered: select() must see every pending command
    parent = os.getppid()
    pending = b""
    while b"\n" not in pending:  # the first line: the Redis URL
        chunk = os.read(source, 65536)
        if not chunk:
            return 0
        pending += chunk
    url, pending = pending.split(b"\n", 1)
    leases = _Leases(_connect(url.decode().strip()), ttl_s)
    logging.basicConfig(format="%(asctime)s %(levelname)s lease-keeper %(message)s")
    next_renewal = time.monotonic()
    while os.getppid() == parent:
        *lines, pending = pending.split(b"\n")
        for line in lines:
            leases.command(line.decode())
            next_renewal = time.monotonic()  # a new lease is renewed at once
        if time.monotonic() >= next_renewal:
            leases.renew()
            next_renewal = time.monotonic() + renew_s
        wait_s = min(KEEPER_POLL_S, max(0.0, next_renewal - time.monotonic()))
        readable, _, _ = select.select([source], [], [], wait_s)
        if readable:
            chunk = os.read(source, 65536)
            if not chunk:
                break  # the worker is gone
            pending += chunk
    leases.release()
    return 0


def _connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
