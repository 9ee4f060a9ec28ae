"""The run's log: the strategy's own lines and the engine's notices, bounded in count."""

from __future__ import annotations

from app.engine.types import LogLevel, LogLine


class LogSink:
    """Collects log lines stamped with the current bar, up to `max_lines` (the rest counted)."""

    def __init__(self, max_lines: int) -> None:
        self.lines: list[LogLine] = []
        self.max_lines = max_lines
        self.time = 0
        self.index = 0
        self.dropped = 0

    def write(self, level: LogLevel, message: str) -> None:
        if len(self.lines) >= self.max_lines:
            self.dropped += 1
            return
        self.lines.append(LogLine(self.time, self.index, level, message))
