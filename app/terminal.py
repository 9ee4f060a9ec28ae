"""Text for the operator's terminal: what a strategy wrote can neither inject Rich markup nor
reach the terminal as control characters.

Every string the CLI prints that a strategy could have influenced (its class name, params,
log lines, error messages, diagnostics) goes through `terminal_text` (plain echo) or
`markup_text` (a Rich console, where `[...]` is markup): control characters are escaped by
the sandbox's one sanitiser, and Rich's markup characters are escaped on top, so neither a
`MarkupError` nor a raw escape sequence can come out of a strategy's text.
"""

from __future__ import annotations

from typing import Final

from rich.markup import escape

from sandbox.text import clean_text

TERMINAL_TEXT_CHARS: Final = 20_000
"""Longest single message printed, in characters (diagnostics lists print line by line)."""


def terminal_text(value: object, max_chars: int = TERMINAL_TEXT_CHARS) -> str:
    """`value` as one line of printable text: controls and separators escaped, cut to fit."""
    return clean_text(str(value), max_chars)


def markup_text(value: object, max_chars: int = TERMINAL_TEXT_CHARS) -> str:
    """`terminal_text(value)` with Rich markup escaped, to embed in a Rich-printed string."""
    return escape(terminal_text(value, max_chars))


def markup_lines(text: str) -> str:
    """Several lines (joined by the CLI itself) as `markup_text`, line by line."""
    return "\n".join(markup_text(line) for line in text.split("\n"))


__all__ = ["markup_lines", "markup_text", "terminal_text"]
