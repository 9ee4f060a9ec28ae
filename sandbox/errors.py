"""Exceptions the sandbox raises, grouped by what the caller does next."""

from __future__ import annotations

from app.engine.errors import StrategyRuntimeError
from sandbox.diagnostics import Diagnostic


class SandboxError(Exception):
    """Base of every sandbox exception."""


class StrategyRejected(SandboxError):  # noqa: N818  (named for what happened)
    """The source did not pass validation or compilation; show the diagnostics to the user."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        first = diagnostics[0] if diagnostics else None
        super().__init__(str(first) if first else "the strategy was rejected")
        self.diagnostics = diagnostics


class SandboxViolation(Exception):  # noqa: N818  (reads as what happened, like PermissionError)
    """Strategy code tried something the guards refuse (raised inside the sandboxed code)."""


class LimitExceeded(SandboxError):  # noqa: N818  (named for what happened)
    """The run hit one of its limits; `limit` names it and `value` is its setting in `unit`.

    `message` replaces the default sentence (sandbox.limits words the memory and record ones).
    """

    def __init__(self, limit: str, value: float, unit: str, message: str | None = None) -> None:
        super().__init__(message or f"the run exceeded its {limit} limit of {value:g} {unit}")
        self.limit = limit
        self.value = value
        self.unit = unit


class RunCancelled(SandboxError):  # noqa: N818  (named for what happened)
    """The run was cancelled by its owner; the worker was killed."""


class WorkerFailed(SandboxError):  # noqa: N818  (named for what happened)
    """The worker process died, broke the protocol or could not start; the run is lost."""


class ProtocolError(WorkerFailed):
    """A message on the worker pipe was malformed, unknown or too large."""


class StrategyFailed(StrategyRuntimeError, SandboxError):  # noqa: N818  (what happened)
    """The strategy's own code raised: type, message, the line in the user's file, the bar.

    A StrategyRuntimeError too, so callers of the engine and of the sandbox handle it alike.
    """

    def __init__(
        self,
        *,
        exc_type: str,
        message: str,
        line: int | None,
        bar_index: int | None,
        bar_time: str | None,
        phase: str,
    ) -> None:
        StrategyRuntimeError.__init__(
            self,
            exc_type=exc_type,
            message=message,
            bar_index=bar_index,
            bar_time=bar_time,
            phase=phase,
        )
        self.line = line
        where = f"line {line}: " if line else ""
        bar = f" at bar {bar_index} ({bar_time})" if bar_index is not None else ""
        self.args = (f"{where}{exc_type}: {message} (in {phase}{bar})",)
