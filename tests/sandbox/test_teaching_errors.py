"""Errors that teach: a missing attribute of an API object says what exists ("did you mean"),
and an unknown indicator name, `self.` method or `warmup` is a diagnostic at its line before
anything runs. The allow-lists stay the only way to reach API objects."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from app.engine import MarketData, RunConfig, StrategyRuntimeError, run_backtest
from sandbox import validate_source
from sandbox.compile import compile_strategy

EXAMPLES = Path(__file__).resolve().parents[2] / "strategies_examples"


def run_body(body: str, market: MarketData) -> None:
    source = "class Probe(Strategy):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    compiled = compile_strategy(source, "probe.py")
    run_backtest(compiled.strategy_class, market, RunConfig())


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("self.position.pl", "PositionInfo has no attribute 'pl'; did you mean 'unrealized_pnl'?"),
        (
            "self.position.pnl",
            "PositionInfo has no attribute 'pnl'; did you mean 'unrealized_pnl'?",
        ),
        (
            "self.position.avg_price",
            "PositionInfo has no attribute 'avg_price'; did you mean 'entry_price'?",
        ),
        (
            "self.position.close()",
            "PositionInfo has no attribute 'close'; did you mean 'self.close_position()'?",
        ),
        ("self.data.Close", "DataView has no attribute 'Close'; did you mean 'close'?"),
        ("bar.Volume", "Bar has no attribute 'Volume'; did you mean 'volume'?"),
        (
            "self.data.close.valuess",
            "SeriesView has no attribute 'valuess'; did you mean 'values'?",
        ),
    ],
)
def test_a_missing_attribute_of_an_api_object_says_what_was_meant(
    market: MarketData, expression: str, message: str
) -> None:
    with pytest.raises(StrategyRuntimeError) as caught:
        run_body(f"def on_data(self, bar):\n    x = {expression}\n", market)
    assert caught.value.exc_type == "AttributeError"
    assert caught.value.message == message
    assert "SandboxViolation" not in str(caught.value)


def test_a_missing_attribute_of_the_strategy_itself_says_what_was_meant(
    market: MarketData,
) -> None:
    # Read through another name, so validation (which reads `self.`) cannot see it: the
    # guard answers with a "did you mean".
    with pytest.raises(StrategyRuntimeError) as caught:
        run_body(
            """
            def on_data(self, bar):
                me = self
                y = me.get_equtiy
            """,
            market,
        )
    assert caught.value.exc_type == "AttributeError"
    assert caught.value.message == "Probe has no attribute 'get_equtiy'; did you mean 'get_equity'?"


def test_a_name_the_object_has_but_strategies_may_not_read_stays_refused(
    market: MarketData,
) -> None:
    # TimeframeView.compute exists (the engine calls it); strategy code may not: refused as a
    # sandbox violation, with no suggestion of what lies behind it.
    with pytest.raises(StrategyRuntimeError, match="SandboxViolation: 'TimeframeView' has no"):
        run_body(
            """
            def initialize(self):
                f = self.timeframe("4h").compute
            def on_data(self, bar):
                pass
            """,
            market,
        )


def test_a_suggestion_is_only_ever_an_allowed_name() -> None:
    from app.engine import TimeframeView
    from sandbox.api_surface import ENGINE_API, missing_attribute_message

    # "comput" is close to the refused "compute"; the suggestion comes from the allow-list.
    message = missing_attribute_message(object(), "comput", ENGINE_API[TimeframeView])
    assert "compute" not in message


def diagnostics_of(source: str) -> list[tuple[int, str, str, str]]:
    return [
        (d.line, d.code, d.message, d.suggestion)
        for d in validate_source(textwrap.dedent(source))
        if d.is_error
    ]


def test_an_unknown_indicator_name_is_a_diagnostic_at_its_line() -> None:
    found = diagnostics_of(
        """
        class S(Strategy):
            def initialize(self):
                self.a = self.indicator("SMA", length=3)
                self.b = self.indicator("smaa", length=3)
                self.c = self.timeframe("4h").indicator("rsii")
            def on_data(self, bar):
                pass
        """
    )
    assert [(line, code, suggestion) for line, code, _, suggestion in found] == [
        (5, "SB602", '"sma"'),
        (6, "SB602", '"rsi"'),
    ]
    assert found[0][2].startswith("unknown indicator 'smaa'; did you mean 'sma'")


def test_an_unknown_strategy_method_is_a_diagnostic_with_did_you_mean() -> None:
    found = validate_source(
        textwrap.dedent(
            """
            class S(Strategy):
                def on_data(self, bar):
                    self.buyy(1.0)
                    self.I
                    self.helper()
            """
        )
    )
    errors = [(d.line, d.code, d.hint, d.suggestion) for d in found if d.is_error]
    assert errors == [
        (4, "SB508", "did you mean 'self.buy'?", "self.buy"),
        (5, "SB508", "did you mean 'self.indicator'?", "self.indicator"),  # backtesting.py's I
        (6, "SB508", "set self.helper = ... in initialize() before reading it", ""),
    ]
    assert (
        found[0].message
        == "'self.buyy' is not part of the Strategy API and is never set in this file"
    )


def test_names_the_file_sets_anywhere_are_not_flagged() -> None:
    assert (
        diagnostics_of(
            """
            class Base(Strategy):
                limit_pct = 2.0
                def initialize(self):
                    self.level, self.count = 1.0, 0
                    for self.i in range(2):
                        pass
                def on_data(self, bar):
                    self.count += 1
                    if self.count > self.threshold:  # set by the subclass
                        self.enter()
                def enter(self):
                    self.buy(1.0, stop_loss=bar_low(self))

            class Child(Base):
                def initialize(self):
                    self.threshold = 3
                    self.sma = self.indicator("sma", length=self.params.get("n", 5))

            def bar_low(strategy):
                return strategy.data.low[-1] * (1 - strategy.limit_pct / 100)
            """
        )
        == []
    )


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("-5", "warmup = -5 is negative"),
        ("2.5", "warmup = 2.5 is not understood"),
        ('"soon"', "warmup = 'soon' is not a duration"),
        ('"1M"', "months vary in length"),
    ],
)
def test_a_warmup_the_engine_would_refuse_is_a_diagnostic(value: str, words: str) -> None:
    found = diagnostics_of(
        f"""
        class S(Strategy):
            warmup = {value}
            def on_data(self, bar):
                pass
        """
    )
    assert [(line, code) for line, code, _, _ in found] == [(3, "SB706")]
    assert words in found[0][2]


@pytest.mark.parametrize("value", ["None", "0", "200", '"3d"', '"12h"'])
def test_a_readable_warmup_passes_validation(value: str) -> None:
    assert (
        diagnostics_of(
            f"class S(Strategy):\n    warmup = {value}\n    def on_data(self, bar):\n        pass\n"
        )
        == []
    )


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.stem)
def test_the_examples_have_no_unknown_names(path: Path) -> None:
    assert diagnostics_of(path.read_text()) == []
