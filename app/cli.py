"""The `strategylab` console script: starts a run's sandbox worker, then the commands.

A `strategylab run` waits for two sets of imports: its own (typer, numpy, pandas, pyarrow,
pydantic-settings, the engine and the sandbox: ~1.8 s of CPU) and its worker's (numpy, pandas,
pandas-ta, numba, RestrictedPython, the engine: ~1.6 s). The worker is started here, before
this process imports any of them, so the two run side by side on two cores instead of one
after the other. The commands themselves live in app.commands; their public names are
reachable from here as well (`from app.cli import cli_app`), imported on first use.
"""

from __future__ import annotations

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


def main() -> None:
    """Console-script entry point."""
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
