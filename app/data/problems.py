"""Problems found in market data, as data: each with a stable code, a severity, a sentence and
the UTC bar times it concerns; a report holds all of them. The checks that find them are in
`app.data.validation`; this module imports nothing else of the data layer, so the layer's
errors can carry a report without an import circle.

A problem's severity is the project's one `Severity`: an error (a "fatal" problem) refuses an
import, a warning is stored with the dataset and shown before a run. Reports stored before the
severities were shared spell an error "fatal"; `Problem.from_dict` reads both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from app.deferred_imports import deferred
from app.engine.types import Severity

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

LEGACY_SEVERITIES = {"fatal": Severity.ERROR}


class ProblemCode(StrEnum):
    """Stable identifiers of the problem types, safe to match on in code and tests."""

    EMPTY = "empty"
    UNSORTED_BARS = "unsorted_bars"
    DUPLICATE_BARS = "duplicate_bars"
    CONFLICTING_DUPLICATES = "conflicting_duplicates"
    GAP = "gap"
    OHLC_VIOLATION = "ohlc_violation"
    NON_POSITIVE_PRICE = "non_positive_price"
    NEGATIVE_VOLUME = "negative_volume"
    MISSING_VALUES = "missing_values"
    OUTLIER_RETURN = "outlier_return"
    ZERO_VOLUME_RUN = "zero_volume_run"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: what (code, message), how bad, how many bars, and when (UTC bar times)."""

    code: ProblemCode
    severity: Severity
    message: str
    count: int
    first_time: datetime | None = None
    last_time: datetime | None = None
    times: tuple[datetime, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with ISO 8601 UTC times."""
        return {
            "code": self.code.value,
            "severity": self.severity.value,
            "message": self.message,
            "count": self.count,
            "first_time": format_time(self.first_time) if self.first_time else None,
            "last_time": format_time(self.last_time) if self.last_time else None,
            "times": [format_time(moment) for moment in self.times],
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Problem:
        """Rebuild a problem from `to_dict` output."""
        first, last = record.get("first_time"), record.get("last_time")
        return cls(
            code=ProblemCode(record["code"]),
            severity=LEGACY_SEVERITIES.get(record["severity"]) or Severity(record["severity"]),
            message=str(record["message"]),
            count=int(record["count"]),
            first_time=pd.Timestamp(first) if first else None,
            last_time=pd.Timestamp(last) if last else None,
            times=tuple(pd.Timestamp(moment) for moment in record.get("times", [])),
        )


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """All problems found in one set of bars, fatal first, each in time order."""

    problems: tuple[Problem, ...] = ()

    @property
    def is_fatal(self) -> bool:
        """True when at least one problem must refuse an import."""
        return any(problem.severity is Severity.ERROR for problem in self.problems)

    @property
    def fatal(self) -> tuple[Problem, ...]:
        """The problems that refuse an import."""
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """The problems kept with the dataset and shown before a run."""
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)

    def codes(self) -> set[ProblemCode]:
        """The distinct problem codes present."""
        return {problem.code for problem in self.problems}

    def summary(self) -> str:
        """One sentence: how many fatal problems and warnings."""
        if not self.problems:
            return "no problems found"
        return f"{len(self.fatal)} fatal problem(s) and {len(self.warnings)} warning(s)"

    def to_dict(self) -> list[dict[str, Any]]:
        """A JSON-ready list of problem dicts."""
        return [problem.to_dict() for problem in self.problems]

    @classmethod
    def from_dict(cls, records: Sequence[Mapping[str, Any]]) -> ValidationReport:
        """Rebuild a report from `to_dict` output."""
        return cls(tuple(Problem.from_dict(record) for record in records))


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with a `Z`, to the second (or finer when needed)."""
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.isoformat().replace("+00:00", "Z")
