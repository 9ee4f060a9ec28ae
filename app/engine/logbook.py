"""The run's log: the strategy's own lines and the engine's notices, bounded in count, in
characters per line and in characters per run.

Log text is the one record a strategy makes at no cost to itself that the parent pays for
several times over: every line crosses to the parent, is decoded, cleaned, held and stored
(10,000 lines of 2,000 characters took the parent +78 MB, +441 MB when each line was escape
characters, which JSON sends as 6 bytes and the parent's cleaner writes as 4). So the engine
bounds the text where it is made, deterministically (counts decide, never memory or time):

- every message is printable, single-line text already (control, format and unassigned
  characters written as their Python escapes, `\\x1b`, the way the parent's cleaner writes
  them), so the characters counted here are the characters the parent holds;
- a message longer than `max_line_chars` is cut there, and ends with a note saying how many
  of its characters were cut;
- once the kept lines hold `max_total_chars` characters, or `max_lines` lines are kept, every
  further line is counted in `dropped` instead (the log does not change results: it is cut,
  not stopped).

`message_from_parts` builds a `self.log(...)` message without copying a huge argument whole.
"""

from __future__ import annotations

import reprlib
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate
from typing import Final

from app.engine.config import RunConfig
from app.engine.feed import Cursor, IntArray
from app.engine.types import LogLevel, LogLine

_SHORT_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_REPLACEMENT: Final = "\ufffd"
_CONTAINERS: Final = (list, tuple, dict, set, frozenset)


def cut_note(cut_chars: int) -> str:
    """What ends a message cut at its line cap: how many of its characters were cut."""
    return f"... ({cut_chars} more characters cut)"


def dropped_note(dropped: int, kept_lines: int, config: RunConfig) -> str:
    """The line that ends a log with `dropped` lines not kept, naming the cap that dropped them
    (the line cap when `kept_lines` reached it, else the run's cap on log characters)."""
    if kept_lines >= config.max_log_lines:
        why = f"limit of {config.max_log_lines} lines"
    else:
        why = f"limit of {config.max_log_chars} characters of log text per run"
    return f"... {dropped} more lines dropped ({why})"


def message_from_parts(parts: Iterable[object], max_chars: int) -> tuple[str, int]:
    """`parts` as `print` would join them (`str` of each, spaces between), with no part
    converted or copied past `max_chars` characters: a string is sliced, a list, tuple, dict
    or set is shortened like `reprlib` (long contents become `...`). Returns the first
    `max_chars` characters of the message and how many characters of it lie beyond them (a
    string part counts whole, a shortened container as shortened)."""
    pieces: list[str] = []
    total = 0
    for index, part in enumerate(parts):
        if index:
            total += 1
        room = max(max_chars - total, 0)
        if isinstance(part, str):
            pieces.append(part[:room])
            total += len(part)
        else:
            text = _bounded_text(part, max_chars)
            pieces.append(text[:room])
            total += len(text)
    return " ".join(pieces)[:max_chars], max(total - max_chars, 0)


def _bounded_text(part: object, max_chars: int) -> str:
    if isinstance(part, _CONTAINERS):
        shortener = reprlib.Repr(
            maxlevel=4,
            maxtuple=100,
            maxlist=100,
            maxdict=50,
            maxset=50,
            maxfrozenset=50,
            maxstring=max(max_chars, 10),
            maxlong=max(max_chars, 10),
            maxother=max(max_chars, 10),
        )
        return shortener.repr(part)
    return str(part)


def printable_text(text: str, max_chars: int, cut_before: int = 0) -> str:
    """`text` as printable single-line text of at most `max_chars` characters, escapes
    included, followed by a cut note when characters were cut (`cut_before` of them already,
    by whoever built `text`). Non-printable characters become their Python escapes (`\\n`,
    `\\x1b`, `\\u202e`; a lone surrogate U+FFFD), and an escape is never split."""
    head = text[:max_chars]  # every character is at least one character once escaped
    if head.isprintable():
        kept, kept_raw = head, len(head)
    else:
        escaped = list(map(escape_char, head))
        kept_raw = bisect_right(list(accumulate(map(len, escaped))), max_chars)
        kept = "".join(escaped[:kept_raw])
    cut = cut_before + len(text) - kept_raw
    return kept + cut_note(cut) if cut else kept


def escape_char(char: str) -> str:
    """One character as it may be shown: itself when printable, U+FFFD for half a UTF-16
    pair, otherwise a Python-style escape (`\\n`, `\\x1b`, `\\u202e`). The parent's text
    cleaner (sandbox/text.py) uses the same rule, so counted characters are shown characters."""
    if char.isprintable():
        return char
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return _REPLACEMENT
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


class LogSink:
    """Collects log lines stamped with the current bar, up to `max_lines` lines holding at
    most `max_total_chars` characters, each message cut at `max_line_chars` (the rest counted
    in `dropped`).

    The current bar is the cursor's last visible one; lines written before the first traded
    bar (in `initialize()`) are stamped with that first bar.
    """

    def __init__(
        self,
        max_lines: int,
        cursor: Cursor,
        times: IntArray,
        first_index: int,
        *,
        max_line_chars: int = 2_000,
        max_total_chars: int = 20_000_000,
    ) -> None:
        self.lines: list[LogLine] = []
        self.max_lines = max_lines
        self.max_line_chars = max_line_chars
        self.max_total_chars = max_total_chars
        self.dropped = 0
        self.kept_chars = 0
        self._is_full = False
        self._cursor = cursor
        self._times = times
        self._first_index = first_index

    @property
    def current_index(self) -> int:
        """The bar a line written now is stamped with."""
        return max(self._cursor.end - 1, self._first_index)

    @property
    def is_full(self) -> bool:
        """True once no further line is kept (either cap reached)."""
        return self._is_full or len(self.lines) >= self.max_lines

    def write(self, level: LogLevel, message: str, *, cut_before: int = 0) -> None:
        """Keep `message` (made printable and cut at the line cap; `cut_before` characters
        were cut from it already) or count it as dropped."""
        if self.is_full:
            self.dropped += 1
            return
        text = printable_text(message, self.max_line_chars, cut_before)
        if self.kept_chars + len(text) > self.max_total_chars:
            self._is_full = True  # the run's log text is spent: this and every later line
            self.dropped += 1
            return
        self.kept_chars += len(text)
        index = self.current_index
        self.lines.append(LogLine(int(self._times[index]), index, level, text))

    def write_parts(self, level: LogLevel, parts: Iterable[object]) -> None:
        """Keep a `self.log(...)` call's parts as one line; nothing is converted once the log
        is full, and no part is copied past the line cap."""
        if self.is_full:
            self.dropped += 1
            return
        message, cut = message_from_parts(parts, self.max_line_chars)
        self.write(level, message, cut_before=cut)
