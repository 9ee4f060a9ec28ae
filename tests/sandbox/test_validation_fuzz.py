"""Random and mutated strategy sources to validation: never an exception out, never a hang
(each example has a deadline), every finding a well-formed diagnostic, and whatever passes
compiles under RestrictedPython without raising."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sandbox import Diagnostic, StrategyRejected, has_errors, inspect_source, validate_source
from sandbox.compile import restricted_code

FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=3),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXAMPLES = Path(__file__).resolve().parents[2] / "strategies_examples"
SEEDS = [path.read_text(encoding="utf-8") for path in sorted(EXAMPLES.glob("*.py"))]
CODE = re.compile(r"SB\d{3}")
# Pieces that stress the parser, the limits and the rules: brackets, operators, keywords,
# refused constructs, non-finite params, and characters Python will not read.
# fmt: off
PIECES = [
    "(", ")", "[", "]", "{", "}", ":", ",", ".", "+a", "*", "**", "-", "not ", "lambda: ",
    "=", ":=", "->", "@", "\\", "'", '"', '"""', "f'{", "}'", "#", "\n", "\n    ", "\n\t",
    "\r", "\f", "\x00", "\ud800", "\ufeff", "\u2028", "\x1b[2J", "é",
    "class X(dict):\n    pass\n", "class Y(S, metaclass=type): pass\n", "def f[T](): pass\n",
    "async def g(): await h\n", "yield 1", "match x:\n case 1: pass\n", "with a: pass\n",
    "try:\n pass\nexcept* E: pass\n", "global g\n", "del x\n", "x: int = 1\n",
    "params = {'x': 1e999}\n", "params = {'x': [float('nan')]}\n", "1" * 40, "__class__",
    "_private", "import os\n", "from numpy import load\n", "Strategy = dict\n", "if a:\n",
    "for i in b:\n", "while c:\n", "break\n", "return\n", "self.buy = 1\n", "'{0.x}'.format(y)",
]
# fmt: on


def assert_well_formed(source: str, found: list[Diagnostic]) -> None:
    lines = max(len(re.split(r"\r\n|\r|\n", source)), 1)
    assert found == sorted(found, key=lambda d: (d.line, d.col, d.code))
    for diagnostic in found:
        assert isinstance(diagnostic, Diagnostic)
        assert CODE.fullmatch(diagnostic.code), diagnostic
        assert 1 <= diagnostic.line <= lines + 1, diagnostic
        assert diagnostic.col >= 1 and diagnostic.message, diagnostic
        diagnostic.message.encode("utf-8")  # no lone surrogate from the source echoed back
        diagnostic.hint.encode("utf-8")


def check(source: str) -> None:
    """Validation and inspection answer; accepted source compiles or is refused, not raised."""
    found = validate_source(source)
    assert_well_formed(source, found)
    inspection = inspect_source(source)
    assert all(diagnostic in inspection.diagnostics for diagnostic in found)
    if not has_errors(found):
        with contextlib.suppress(StrategyRejected):  # RestrictedPython's refusals, as data
            restricted_code(source, "strategy.py")


@st.composite
def mutated_sources(draw: st.DrawFn) -> str:
    """An example strategy with pieces inserted, repeated, deleted or duplicated."""
    source = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(source)))
        operation = draw(st.sampled_from(["insert", "repeat", "delete", "duplicate"]))
        if operation == "insert":
            source = source[:at] + draw(st.sampled_from(PIECES)) + source[at:]
        elif operation == "repeat":
            piece = draw(st.sampled_from(PIECES)) * draw(st.integers(2, 400))
            source = source[:at] + piece + source[at:]
        elif operation == "delete":
            source = source[:at] + source[at + draw(st.integers(1, 40)) :]
        else:
            end = min(len(source), at + draw(st.integers(1, 200)))
            source = source[:end] + source[at:end] * draw(st.integers(1, 30)) + source[end:]
    return source


ANY_CHARACTER = st.one_of(
    st.characters(), st.sampled_from(["\x00", "\ud800", "\udfff", "\ufeff", "\f", "\t", "\r"])
)


@FUZZ
@given(st.text(alphabet=ANY_CHARACTER, max_size=400))
@example("\ufeffclass S(Strategy):\n    pass\n")
@example("x = " + "+".join(["a"] * 5_000))
def test_random_text_never_makes_validation_raise(source: str) -> None:
    check(source)


@FUZZ
@given(st.lists(st.sampled_from(PIECES), max_size=120).map("".join))
def test_random_token_soup_never_makes_validation_raise(source: str) -> None:
    check(source)


@settings(FUZZ, max_examples=100)
@given(mutated_sources())
@example(SEEDS[0].replace("(", "(" * 300, 1))
@example(SEEDS[0] + "\nclass T(Strategy):\n    params = {'x': 1e999}\n")
def test_mutated_strategies_never_make_validation_raise(source: str) -> None:
    check(source)
