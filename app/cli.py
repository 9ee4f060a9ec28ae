"""The `strategylab` console script: starts a run's sandbox worker, then the commands.

A `strategylab run` waits for two sets of imports: its own (typer, numpy, pyarrow,
pydantic-settings, the engine and the sandbox, not pandas: app/deferred_imports.py) and its
worker's (numpy, pandas, pandas-ta, numba, RestrictedPython, the engine). The worker is started
here, before this process imports any of them, so the two run side by side on two cores
instead of one after the other; at the end `console_main` exits without the interpreter's
finalization. The commands themselves live in app.commands; their public names are
reachable from here as well (`from app.cli import cli_app`), imported on first use.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from sandbox.worker_process import StartedWorker, start_worker_process

if TYPE_CHECKING:
    from app.commands import cli_app as cli_app
    from app.commands import run_command as run_command
    from app.commands import validate_command as validate_command
    from app.run_options import EXIT_BAD_INPUT as EXIT_BAD_INPUT
    from app.run_options import EXIT_STRATEGY_FAILED as EXIT_STRATEGY_FAILED

WORKER_COMMANDS: Final = frozenset({"run", "resume"})
"""The commands that run a strategy in a worker process started on its own."""


def needs_worker(args: Sequence[str]) -> bool:
    """True when the command line `args` (without the program name) runs a strategy: its
    first word is `run` or `resume` and it does not ask for `--help`."""
    return bool(args) and args[0] in WORKER_COMMANDS and "--help" not in args


def start_early_worker(args: Sequence[str]) -> StartedWorker | None:
    """The worker for the command `args` runs, started now; None when it runs none, or when
    the process cannot be started here (the run then starts its own and reports why)."""
    if not needs_worker(args):
        return None
    try:
        return start_worker_process()
    except OSError:
        return None


def console_main() -> None:
    """The `strategylab` console script: `main`, then, for a command that ran a strategy, an
    exit that skips the interpreter's finalization.

    Finalizing the ~1,000 modules a run imports (numpy, pyarrow, pydantic, typer, rich, the
    engine) takes 0.12-0.15 s after the run's files are written, 5 % of a whole SMA run
    (docs/performance.md). So the first exit handler registered, which runs last, ends the
    process with os._exit once every other exit handler has run (logging's flush, temporary
    folders' removal) and standard output and error are flushed: the technique Instagram
    published for its workers (`atexit.register(os._exit, 0)`), here with the command's own
    exit status. An uncaught exception, a status that is not a number, or any other command
    exits as Python always does. Only the console script does this: `main` stays a plain
    function for callers that go on after it."""
    _FAST_EXIT.armed = needs_worker(sys.argv[1:])
    atexit.register(_exit_without_finalization)
    try:
        main()
    except SystemExit as stop:
        if isinstance(stop.code, int) or stop.code is None:
            _FAST_EXIT.status = stop.code or 0
        raise
    _FAST_EXIT.status = 0


class _FastExit:
    """What console_main's exit handler needs: whether to skip finalization, with what status
    (None: the command did not end with a status, so Python exits as it would)."""

    armed: bool = False
    status: int | None = None


_FAST_EXIT: Final = _FastExit()


def _exit_without_finalization() -> None:
    if not _FAST_EXIT.armed or _FAST_EXIT.status is None:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe or stream: Python's own exit would say 120
        os._exit(120)
    os._exit(_FAST_EXIT.status)


def main() -> None:
    """Run the command line (what the console script runs, before its exit: console_main)."""
    started = start_early_worker(sys.argv[1:])
    try:
        from app.commands import main as run_commands  # the heavy imports, beside the worker's
    except BaseException:  # Ctrl-C or a broken install during the imports: no worker left
        if started is not None:
            started.discard()
        raise
    run_commands(started)


def __getattr__(name: str) -> object:
    """app.commands' names, for code that imports them from here (PEP 562)."""
    import app.commands

    try:
        return getattr(app.commands, name)
    except AttributeError:
        raise AttributeError(f"module 'app.cli' has no attribute {name!r}") from None
