"""The run's log is bounded where it is made: per message, per run, in lines, deterministically.

Log text cost the strategy nothing and the parent several times its size (10,000 lines of
2,000 escape characters took the parent +441 MB). The engine writes each message as the
printable text the parent keeps, cuts it at `max_log_line_chars` saying how much was cut, and
counts lines past `max_log_chars` characters per run as dropped, like lines past
`max_log_lines`.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest

from app.engine import RunConfig, Strategy, run_backtest
from app.engine.feed import Cursor
from app.engine.logbook import LogSink, cut_note, message_from_parts, printable_text
from app.engine.types import LogLevel
from app.runs.folder import log_lines
from tests.conftest import build_market

MARKET = build_market([100 + 5 * np.sin(i / 7) for i in range(200)])
QUIET: dict[str, Any] = {"max_log_line_chars": 100, "max_log_chars": 5_000}


def sink(**caps: int) -> LogSink:
    cursor = Cursor()
    cursor.end = 1
    return LogSink(caps.pop("max_lines", 1_000), cursor, MARKET.time, 0, **caps)


def strategy_logging(*parts: object, times: int = 1) -> type[Strategy]:
    class Logs(Strategy):
        def on_data(self, bar: object) -> None:
            for _ in range(times):
                self.log(*parts)

    return Logs


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ("short", "short"),
        ("x" * 100, "x" * 100),
        ("x" * 101, "x" * 100 + cut_note(1)),
        ("x" * 5_000, "x" * 100 + cut_note(4_900)),
        # 25 ESC escape to exactly 100 characters; the 26th would not fit: it is cut whole
        ("\x1b" * 30, "\\x1b" * 25 + cut_note(5)),
        ("a\nb", "a\\nb"),
        ("\u202eevil", "\\u202eevil"),
        ("\ud800", "\ufffd"),
    ],
    ids=["short", "at_cap", "one_over", "long", "escapes", "newline", "bidi", "surrogate"],
)
def test_a_message_is_printable_and_cut_at_the_line_cap(message: str, kept: str) -> None:
    assert printable_text(message, 100) == kept


def test_an_escape_is_never_split_by_the_cut() -> None:
    for width in range(1, 40):
        text = printable_text("ab\x1b\x1bcd\u202e" * 10, width)
        head = text.split("... (")[0]
        assert len(head) <= width
        assert not head.endswith(("\\", "\\x", "\\x1", "\\u", "\\u2", "\\u20", "\\u202"))


def test_cant_amplify_logs_in_the_parent() -> None:
    # 4,000 bars x 10 lines of 2,000 characters: what the parent receives stays in the caps
    market = build_market([100 + 5 * np.sin(i / 7) for i in range(4_000)])
    config = RunConfig(max_log_lines=10_000, max_log_line_chars=1_000, max_log_chars=2_000_000)
    result = run_backtest(strategy_logging("\x1b" * 2_000, times=10), market, config)
    note = len(cut_note(1_500))
    assert all(len(line.message) <= 1_000 + note for line in result.logs)
    assert sum(len(line.message) for line in result.logs) <= 2_000_000
    assert len(result.logs) + result.logs_dropped == 40_000
    assert all(line.message.isprintable() for line in result.logs)


@pytest.mark.parametrize(
    ("parts", "times"),
    [
        (("y" * 2_000,), 10),  # many max-length lines
        (("\x1b\x07\r\n" * 500,), 10),  # control-character-heavy lines
        (("price", 1.5, "z" * 3_000, [1, 2, 3], "end"), 10),  # multi-part calls
        (("\U000e0001" * 1_000,), 5),  # astral format characters: 10 characters escaped
    ],
    ids=["max_length", "controls", "multi_part", "astral_escapes"],
)
def test_kept_log_text_stays_within_the_run_cap(parts: tuple[object, ...], times: int) -> None:
    config = RunConfig(max_log_line_chars=300, max_log_chars=20_000)
    result = run_backtest(strategy_logging(*parts, times=times), MARKET, config)
    assert sum(len(line.message) for line in result.logs) <= 20_000
    assert result.logs_dropped > 0
    assert len(result.logs) + result.logs_dropped == len(MARKET) * times


def test_lines_past_the_character_cap_are_dropped_and_the_note_says_why() -> None:
    config = RunConfig(max_log_line_chars=100, max_log_chars=1_000)
    result = run_backtest(strategy_logging("x" * 100), MARKET, config)
    assert len(result.logs) == 10
    assert result.logs_dropped == len(MARKET) - 10
    last = list(log_lines(result))[-1]
    why = "limit of 1000 characters of log text per run"
    assert last == f"... {len(MARKET) - 10} more lines dropped ({why})"


def test_lines_past_the_line_cap_still_say_so() -> None:
    result = run_backtest(strategy_logging("hi"), MARKET, RunConfig(max_log_lines=5))
    last = list(log_lines(result))[-1]
    assert last == f"... {len(MARKET) - 5} more lines dropped (limit of 5 lines)"


def test_one_enormous_argument_is_not_copied_whole() -> None:
    huge = "q" * 100_000_000
    log = sink(max_line_chars=1_000)
    tracemalloc.start()
    try:
        log.write_parts(LogLevel.INFO, ("big:", huge, "tail"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # a copy of the argument would be 100 MB
    (line,) = log.lines
    assert line.message == "big: " + "q" * 995 + cut_note(100_000_010 - 1_000)


def test_a_huge_container_argument_is_shortened_before_it_is_joined() -> None:
    message, cut = message_from_parts((list(range(1_000_000)),), 1_000)
    assert message.startswith("[0, 1, 2") and "..." in message
    assert len(message) <= 1_000 and cut == 0


def test_multi_part_calls_join_like_print() -> None:
    log = sink()
    log.write_parts(LogLevel.INFO, ("price", 1.5, None, [1, "a"], {"k": 2}))
    assert log.lines[0].message == "price 1.5 None [1, 'a'] {'k': 2}"


def test_nothing_is_converted_once_the_log_is_full() -> None:
    class Exploding:
        def __str__(self) -> str:
            raise AssertionError("converted after the log was full")

    log = sink(max_lines=1)
    log.write_parts(LogLevel.INFO, ("first",))
    log.write_parts(LogLevel.INFO, (Exploding(),))
    assert [line.message for line in log.lines] == ["first"]
    assert log.dropped == 1


def test_after_the_character_cap_even_short_lines_are_dropped() -> None:
    log = sink(max_line_chars=50, max_total_chars=60)
    log.write(LogLevel.INFO, "a" * 50)
    log.write(LogLevel.INFO, "b" * 20)  # does not fit: the log is spent
    log.write(LogLevel.INFO, "c")
    assert [line.message for line in log.lines] == ["a" * 50]
    assert log.dropped == 2 and log.kept_chars == 50


def test_the_same_inputs_keep_the_same_lines() -> None:
    config = RunConfig(max_log_line_chars=77, max_log_chars=3_333)
    strategy = strategy_logging("w\x1b" * 90, 3, times=3)
    first = run_backtest(strategy, MARKET, config)
    again = run_backtest(strategy, MARKET, config)
    assert first.logs == again.logs and first.logs_dropped == again.logs_dropped


@pytest.mark.parametrize("field", ["max_log_line_chars", "max_log_chars"])
def test_a_log_cap_below_one_is_refused(field: str) -> None:
    from app.engine import ConfigError

    with pytest.raises(ConfigError) as caught:
        RunConfig(**{field: 0})  # type: ignore[arg-type]
    assert caught.value.field == field
