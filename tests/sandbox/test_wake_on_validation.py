"""`self.wake_on(...)` in strategy source: refused declarations are one diagnostic at their
line (SB707) before the run, a misspelt method name gets a "did you mean", and a declared
strategy compiled through the sandbox runs as the every-bar one does."""

from __future__ import annotations

import textwrap

import pytest

from app.engine import MarketData, RunConfig, run_backtest
from sandbox import validate_source
from sandbox.compile import compile_strategy
from tests.engine.randomized import random_market


def errors_of(source: str) -> list[tuple[int, str, str, str, str]]:
    return [
        (d.line, d.code, d.message, d.hint, d.suggestion)
        for d in validate_source(textwrap.dedent(source))
        if d.is_error
    ]


def _strategy(initialize: str, on_data: str = "pass") -> str:
    return (
        "class S(Strategy):\n"
        "    def initialize(self):\n"
        '        self.fast = self.indicator("sma", length=3)\n'
        '        self.slow = self.indicator("sma", length=8)\n'
        f"        {initialize}\n"
        "    def on_data(self, bar):\n"
        f"        {on_data}\n"
    )


@pytest.mark.parametrize(
    ("call", "words", "suggestion"),
    [
        ('self.wake_on("crosover", self.fast, self.slow)', "not 'crosover'", '"crossover"'),
        ('self.wake_on("above", self.fast)', "takes two series (b may be a number), got 1", ""),
        ("self.wake_on()", "needs a condition or every=N bars", ""),
        ("self.wake_on(every=0)", "whole number of bars, 1 or more, not 0", ""),
        ('self.wake_on(every="1h")', "whole number of bars, 1 or more, not '1h'", ""),
        ('self.wake_on("below", 30, self.fast)', "a must be a series, not a number", ""),
        ('self.wake_on(kind="cross")', "takes no 'kind='; its only keyword is every=N", ""),
    ],
)
def test_a_refused_declaration_is_one_diagnostic_at_its_line(
    call: str, words: str, suggestion: str
) -> None:
    found = errors_of(_strategy(call))
    assert [(line, code) for line, code, *_ in found] == [(5, "SB707")]
    assert words in found[0][2]
    assert found[0][4] == suggestion


def test_a_declaration_in_on_data_is_refused_at_its_line() -> None:
    found = errors_of(_strategy("pass", 'self.wake_on("cross", self.fast, self.slow)'))
    assert [(line, code) for line, code, *_ in found] == [(7, "SB707")]
    assert "declared in initialize(), not in on_data()" in found[0][2]


@pytest.mark.parametrize(
    "call",
    [
        'self.wake_on("cross", self.fast, self.slow)',
        'self.wake_on("CrossOver", self.fast, self.slow, every=5)',
        'self.wake_on("below", self.fast, 30.5)',
        "self.wake_on(every=60)",
        "self.wake_on(*self.params.get('signal', ()))",
    ],
)
def test_a_readable_declaration_passes_validation(call: str) -> None:
    assert errors_of(_strategy(call)) == []


def test_a_misspelt_method_name_says_what_was_meant() -> None:
    found = errors_of(_strategy('self.wake_up("cross", self.fast, self.slow)'))
    assert [(line, code, suggestion) for line, code, _, _, suggestion in found] == [
        (5, "SB508", "self.wake_on")
    ]


SOURCE = """
class S(Strategy):
    params = {"wake": False}

    def initialize(self):
        self.fast = self.indicator("sma", length=4)
        self.slow = self.indicator("sma", length=12)
        if self.params["wake"]:
            self.wake_on("cross", self.fast, self.slow)

    def on_data(self, bar):
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(1.0, leverage=2)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(1.0, leverage=2)
"""


def test_a_sandboxed_declared_strategy_trades_as_the_every_bar_one() -> None:
    strategy = compile_strategy(SOURCE).strategy_class
    market: MarketData = random_market(2, 1_200, gap_chance=0.05)
    runs = {
        wake: run_backtest(strategy, market, RunConfig(cash=10_000.0, params=(("wake", wake),)))
        for wake in (True, False)
    }
    assert len(runs[True].trades) > 20
    assert runs[True].trades == runs[False].trades
    assert runs[True].metrics == runs[False].metrics
