"""Log text a sandboxed strategy writes cannot make the parent hold more than the run's caps.

Measured before the fix: 10,000 lines of 2,000 characters on 4,000 bars took the parent +78 MB,
+441 MB when each character was ESC (6 bytes in JSON, 4 characters once the parent escaped it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from app.engine import MarketData, RunConfig
from app.engine.logbook import cut_note
from sandbox import LimitsRefused, OperatorMaximums, RunLimits, run_sandboxed

LIMITS = RunLimits(wall_seconds=60.0, cpu_seconds=30.0, memory_mb=512, max_log_lines=10_000)


def logging_source(expression: str, per_bar: int) -> str:
    return (
        "class Attack(Strategy):\n"
        "    def on_data(self, bar):\n"
        f"        for i in range({per_bar}):\n"
        f"            self.log({expression})\n"
    )


def decoded_log_bytes(logs: tuple[object, ...]) -> int:
    return sum(sys.getsizeof(getattr(line, "message", "")) for line in logs)


@pytest.mark.slow  # 40,000 log calls of 2,000 characters in a worker
@pytest.mark.parametrize(
    "expression",
    ['"x" * 2000', '"\\x1b" * 2000', '"a", 1.5, "\\x1b" * 3000, [1, 2], "end"'],
    ids=["max_length", "escape_characters", "multi_part"],
)
def test_cant_amplify_logs_in_the_parent(
    expression: str, make_market: Callable[..., MarketData]
) -> None:
    market = make_market(bars=4_000, seed=3)
    result = run_sandboxed(logging_source(expression, 10), market, RunConfig(), LIMITS)
    kept = sum(len(line.message) for line in result.logs)
    assert kept <= LIMITS.max_log_chars  # 2,000,000 characters, whatever the characters
    widest = LIMITS.max_log_line_chars + len(cut_note(10**6))
    assert all(len(line.message) <= widest for line in result.logs)
    assert decoded_log_bytes(result.logs) < 4 * 1024 * 1024  # was 78 MB and 441 MB
    assert len(result.logs) + result.logs_dropped == 4_000 * 10  # no warm-up: every bar logs


def test_one_enormous_argument_is_cut_in_the_worker(market: MarketData) -> None:
    source = logging_source('"q" * 50_000_000 if bar.index == 0 else "-"', 1)
    result = run_sandboxed(source, market, RunConfig(), LIMITS)
    assert result.logs[0].message == "q" * 1_000 + cut_note(49_999_000)


def test_the_config_log_caps_are_lowered_to_the_runs_limits(market: MarketData) -> None:
    limits = RunLimits(wall_seconds=60.0, max_log_line_chars=10, max_log_chars=100)
    result = run_sandboxed(logging_source('"z" * 50', 1), market, RunConfig(), limits)
    assert result.config.max_log_line_chars == 10 and result.config.max_log_chars == 100
    assert [line.message for line in result.logs] == ["z" * 10 + cut_note(40)] * 2
    assert result.logs_dropped == len(market) - 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_log_line_chars", 0), ("max_log_line_chars", 2_001), ("max_log_chars", 20_000_001)],
)
def test_cant_ask_for_log_caps_outside_the_operators_maximums(field: str, value: int) -> None:
    with pytest.raises(LimitsRefused, match=field):
        RunLimits(**{field: value}).checked(OperatorMaximums())
