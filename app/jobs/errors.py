"""Exceptions of the run service, grouped by what the caller does next."""

from __future__ import annotations

from app.db.models import RunStatus


class RunStateError(Exception):
    """The run is in a state that does not allow the request (the API answers 409)."""

    def __init__(self, run_id: str, status: RunStatus, wanted: str) -> None:
        super().__init__(f"run {run_id} is {status.value}; it cannot be {wanted}")
        self.run_id = run_id
        self.status = status


class InvalidRunRequestError(ValueError):
    """A run request names something unusable (the API answers 422 at `field`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
