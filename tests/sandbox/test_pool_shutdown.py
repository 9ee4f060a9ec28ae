"""A pool closed while its fork server still warms up stops at once and leaves no process."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pytest

from sandbox import WorkerPool

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


def children_of(parent: int) -> list[str]:
    """`parent`'s child processes as "pid: command line"."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\nPPid:\t{parent}\n" in status.read_text():
                command = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                found.append(f"{status.parent.name}: {command.decode(errors='replace')}")
        except OSError:
            continue
    return found


@linux_only
def test_closing_a_pool_while_its_fork_server_warms_up_is_immediate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The fork server imports numpy, pandas, pandas-ta and the engine and warms them up
    # (seconds of CPU) before it can fork anything. Closing waited for that warm-up, and up to
    # CLOSE_WAIT_S more, then started a worker from scratch only to kill it: every test app
    # (and `strategylab serve` stopped early) paid it on shutdown.
    pool = WorkerPool(1)
    deadline = time.monotonic() + 10
    while not children_of(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.01)  # the starter thread has launched the fork server and waits for it
    assert children_of(os.getpid()), "the pool started no fork server"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="sandbox.pool"):
        pool.close()
    assert time.monotonic() - started < 2.5
    assert "fork server unusable" not in caplog.text  # a stop on request is no fault
    deadline = time.monotonic() + 5
    while (left := children_of(os.getpid())) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == []
