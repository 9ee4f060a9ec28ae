"""A sandboxed run whose worker a test kills with SIGKILL part-way, made again when the kill
came too late.

The kill is sent from the run's progress callback, in the parent; on a loaded machine the
worker can finish its few thousand bars before the parent reads the report that kills it.
That attempt ran to its end, which is not the case under test, so it is made again in a
fresh folder (KILL_ATTEMPTS times at most)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import SandboxError

KILL_ATTEMPTS = 5


def until_killed(attempt: Callable[[], object], folder: Path) -> None:
    """Run `attempt` (a run whose worker is killed part-way, writing into `folder`) until one
    ends with the SandboxError of its killed worker; fail the test after KILL_ATTEMPTS runs
    that all finished first."""
    for _ in range(KILL_ATTEMPTS):
        shutil.rmtree(folder, ignore_errors=True)
        try:
            attempt()
        except SandboxError:
            return
    pytest.fail(f"the worker finished before its kill landed, {KILL_ATTEMPTS} times")
