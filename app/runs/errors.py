"""Exceptions of the run service, grouped by what the caller does next."""

from __future__ import annotations


class InvalidRunRequestError(ValueError):
    """A run request names something unusable: the caller fixes `field` and asks again (the
    API answers 422 at `field`, the CLI names the option)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StrategyLoadError(Exception):
    """A strategy file cannot be read: missing, unreadable, or not UTF-8 text."""
