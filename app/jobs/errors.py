"""Exceptions of the run service, grouped by what the caller does next."""

from __future__ import annotations

from app.db.models import RunStatus
from app.runs.errors import InvalidRunRequestError

__all__ = [
    "AttemptReplacedError",
    "InvalidRunRequestError",
    "RunStateError",
    "RunStorageError",
    "SweepStateError",
]


class RunStateError(Exception):
    """The run is in a state that does not allow the request (the API answers 409)."""

    def __init__(self, run_id: str, status: RunStatus, wanted: str) -> None:
        super().__init__(f"run {run_id} is {status.value}; it cannot be {wanted}")
        self.run_id = run_id
        self.status = status


class RunStorageError(Exception):
    """A step storing a run's progress or outcome failed; the run ends failed with this reason."""

    def __init__(self, step: str, error: Exception) -> None:
        super().__init__(f"{step}: {type(error).__name__}: {error}")
        self.step = step


class SweepStateError(RunStateError):
    """The sweep is in a state that does not allow the request (the API answers 409)."""

    def __init__(self, sweep_id: str, status: RunStatus, wanted: str) -> None:
        super().__init__(sweep_id, status, wanted)
        self.args = (f"sweep {sweep_id} is {status.value}; it cannot be {wanted}",)


class AttemptReplacedError(Exception):
    """This attempt at a run is no longer the run's: its worker's lease lapsed and the run was
    queued again for another worker. The attempt stops and stores nothing."""

    def __init__(self, run_id: str, attempt: int, current: int | None) -> None:
        super().__init__(f"attempt {attempt} of run {run_id} was replaced by attempt {current}")
        self.run_id = run_id
        self.attempt = attempt
        self.current = current
