"""Diagnostics: one problem found in a strategy's source, with its place and a trader's sentence."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

# The project's one severity (errors stop the run, warnings are shown but allowed).
from app.engine.types import Severity as Severity


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding in user source; lines are 1-based, columns 1-based (as editors show them).

    `code` is a stable identifier (``SB101`` ...) the editor and tests can rely on; `message`
    is a sentence a trader understands; `hint` says what to do instead; `suggestion` is a
    "did you mean" replacement when one is known.
    """

    line: int
    col: int
    end_line: int
    end_col: int
    severity: Severity
    code: str
    message: str
    hint: str = ""
    suggestion: str = ""

    @property
    def is_error(self) -> bool:
        """True when this finding stops the strategy from running."""
        return self.severity is Severity.ERROR

    def format(self, filename: str) -> str:
        """The compiler-style line `file:line:col: message` (with the hint appended)."""
        text = f"{filename}:{self.line}:{self.col}: {self.severity.value}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping with the severity as its string value."""
        data = asdict(self)
        data["severity"] = self.severity.value
        return data

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    """True when any diagnostic is an error."""
    return any(d.is_error for d in diagnostics)


CUT_MARK = "..."


def bounded(diagnostic: Diagnostic, max_chars: int) -> Diagnostic:
    """`diagnostic` with its message and hint cut to `max_chars` characters (ending in "...")
    and a suggestion longer than that dropped (half a replacement is no fix): a diagnostic
    names the code it is about, it never carries it back whole."""
    message, hint, suggestion = diagnostic.message, diagnostic.hint, diagnostic.suggestion
    if max(len(message), len(hint), len(suggestion)) <= max_chars:
        return diagnostic
    return replace(
        diagnostic,
        message=_cut(message, max_chars),
        hint=_cut(hint, max_chars),
        suggestion=suggestion if len(suggestion) <= max_chars else "",
    )


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[: max(max_chars - len(CUT_MARK), 0)] + CUT_MARK
