"""Exceptions of the run service, grouped by what the caller does next."""

from __future__ import annotations

from pathlib import Path


class InvalidRunRequestError(ValueError):
    """A run request names something unusable: the caller fixes `field` and asks again (the
    API answers 422 at `field`, the CLI names the option)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StrategyLoadError(Exception):
    """A strategy file cannot be read: missing, unreadable, or not UTF-8 text."""


class CheckpointUnusable(Exception):  # noqa: N818  (named for what the caller meets)
    """A run cannot resume from its checkpoint `path`: damaged, edited, another run's, or
    missing what resuming needs. The run is not started from the beginning instead: the
    caller removes the file (to resume from the one before) or runs it again."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot resume from {path}: {reason}")
        self.path = path
        self.reason = reason
