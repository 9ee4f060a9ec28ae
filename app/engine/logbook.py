"""The run's log: the strategy's own lines and the engine's notices, bounded in count."""

from __future__ import annotations

from app.engine.feed import Cursor, IntArray
from app.engine.types import LogLevel, LogLine


class LogSink:
    """Collects log lines stamped with the current bar, up to `max_lines` (the rest counted).

    The current bar is the cursor's last visible one; lines written before the first traded
    bar (in `initialize()`) are stamped with that first bar.
    """

    def __init__(self, max_lines: int, cursor: Cursor, times: IntArray, first_index: int) -> None:
        self.lines: list[LogLine] = []
        self.max_lines = max_lines
        self.dropped = 0
        self._cursor = cursor
        self._times = times
        self._first_index = first_index

    def write(self, level: LogLevel, message: str) -> None:
        if len(self.lines) >= self.max_lines:
            self.dropped += 1
            return
        index = max(self._cursor.end - 1, self._first_index)
        self.lines.append(LogLine(int(self._times[index]), index, level, message))
