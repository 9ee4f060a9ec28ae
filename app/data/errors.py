"""Exceptions raised by the dataset layer, grouped by what the caller does next."""

from __future__ import annotations

from pathlib import Path

from app.data.problems import ValidationReport


class DataError(Exception):
    """Base of every error the dataset layer raises; its message is one sentence for a user."""


class DataFileError(DataError):
    """A data file is missing, unreadable or malformed: the user fixes the file and retries."""

    def __init__(
        self,
        message: str,
        *,
        path: Path,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.row = row
        self.column = column


class DatasetNotFoundError(DataError):
    """A dataset reference names no stored dataset or version: the user picks another one."""

    def __init__(self, message: str, *, reference: str) -> None:
        super().__init__(message)
        self.reference = reference


class InvalidReferenceError(DataError):
    """A dataset reference or timeframe string cannot be parsed: the user corrects the spelling."""


class ValidationFailedError(DataError):
    """Data has fatal problems and was refused: the user reads the report and fixes the data."""

    def __init__(self, message: str, *, report: ValidationReport) -> None:
        super().__init__(message)
        self.report = report


class FetchError(DataError):
    """An exchange could not deliver data: the user retries later; fetched pages are kept."""
