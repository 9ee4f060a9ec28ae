"""Validation turns every refused construct into a diagnostic a trader can read."""

from __future__ import annotations

import pytest

from sandbox import Severity, validate_source

GOOD = """
import math
import numpy as np
from statistics import mean

class Good(Strategy):
    params = {"fast": 10}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.count = 0

    def on_data(self, bar):
        self.count = self.count + 1
        values = [x for x in range(3)]
        if crossover(self.fast, self.data.close) and math.isfinite(bar.close):
            self.buy(1.0)
        self.log(f"{bar.close:.2f}", mean(values), np.mean(values))
"""


def codes(source: str) -> list[str]:
    return [d.code for d in validate_source(source)]


def strategy(body: str) -> str:
    return "class S(Strategy):\n    def on_data(self, bar):\n        " + body + "\n"


def test_a_good_strategy_has_no_diagnostics() -> None:
    assert validate_source(GOOD) == []


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("import os\n" + strategy("pass"), "SB101"),
        ("import numpy.linalg\n" + strategy("pass"), "SB101"),
        ("from numpy import load\n" + strategy("pass"), "SB102"),
        ("from . import x\n" + strategy("pass"), "SB101"),
        (strategy("x = bar.__class__"), "SB202"),
        (strategy("x = __builtins__"), "SB201"),
        (strategy("x = bar._market"), "SB203"),
        (strategy("eval('1')"), "SB301"),
        (strategy("x = getattr(bar, 'close')"), "SB301"),
        (strategy("x = type(bar)"), "SB301"),
        (strategy("print(bar)"), "SB301"),
        (strategy("x = '{0.close}'.format(bar)"), "SB303"),
        (strategy("x = '{}'.format(bar)"), "SB304"),
        (strategy("x = [1].gi_frame"), "SB302"),
        (strategy("x = self.data.close.values.tofile"), "SB305"),
        (strategy("x = bar.to_csv"), "SB305"),
        (strategy("yield 1"), "SB401"),
        (strategy("x = (i for i in [1])"), "SB401"),
        (strategy("self.n[len(self.n) - 1] += 1"), "SB403"),
        (strategy("self.buy = None"), "SB504"),
        (strategy("self.indicator('sma', length=5, offset=-3)"), "SB601"),
        (strategy("self.indicator('dpo', length=5)"), "SB601"),
        (strategy("self.indicator('sma', length=5, centered=True)"), "SB601"),
        ("x = 1\n", "SB501"),
        (
            strategy("pass") + "class T(Strategy):\n    def on_data(self, bar):\n        pass\n",
            "SB502",
        ),
        ("class S(Strategy):\n    def initialize(self):\n        pass\n", "SB503"),
        (
            "class S(Strategy):\n    def buy(self):\n        pass\n    def on_data(self, b):\n"
            "        pass\n",
            "SB504",
        ),
        ("class S(dict):\n    pass\n" + strategy("pass"), "SB505"),
        ("class S(Strategy, metaclass=type):\n    def on_data(self, b):\n        pass\n", "SB402"),
        (strategy("pass").replace("    def", "    @staticmethod\n    def"), "SB402"),
        ("def f(:\n", "SB001"),
    ],
)
def test_refused_constructs_get_their_code(source: str, code: str) -> None:
    assert code in codes(source)


def test_import_message_names_the_allowed_modules() -> None:
    (diagnostic,) = validate_source("import os\n" + strategy("pass"))
    assert str(diagnostic) == (
        "line 1: importing 'os' is not allowed; available modules are math, statistics, "
        "numpy, pandas"
    )
    assert diagnostic.severity is Severity.ERROR
    assert (diagnostic.line, diagnostic.col) == (1, 1)


def test_all_problems_are_collected_in_order() -> None:
    source = "import os\nimport sys\n" + strategy("eval('x'); open('f')")
    found = validate_source(source)
    assert [d.line for d in found] == [1, 2, 5, 5]


def test_syntax_error_is_a_diagnostic_with_position() -> None:
    (diagnostic,) = validate_source("class S(Strategy):\n    def on_data(self, bar)\n")
    assert diagnostic.code == "SB001"
    assert diagnostic.line == 2
    assert diagnostic.message.startswith("syntax error")


def test_did_you_mean_for_a_misspelt_facade_name() -> None:
    (diagnostic,) = validate_source("from math import sqrtt\n" + strategy("pass"))
    assert diagnostic.suggestion == "sqrt"


def test_complex_augmented_assignment_suggests_the_rewrite() -> None:
    (diagnostic,) = validate_source(strategy("self.n[len(self.n) - 1] += 2"))
    assert diagnostic.suggestion == "self.n[len(self.n) - 1] = self.n[len(self.n) - 1] + 2"


def test_simple_augmented_assignments_are_accepted() -> None:
    assert validate_source(strategy("self.n += 1; self.counts['up'] -= 2; self.a.b *= 3")) == []


def test_a_chosen_class_among_several_is_accepted() -> None:
    source = strategy("pass") + "class T(Strategy):\n    def on_data(self, bar):\n        pass\n"
    assert validate_source(source, strategy_name="T") == []


def test_names_bound_by_the_strategy_are_not_mistaken_for_builtins() -> None:
    assert validate_source(strategy("id = 3; x = id + 1")) == []


def test_diagnostics_serialise_to_json_ready_dicts() -> None:
    (diagnostic,) = validate_source("import os\n" + strategy("pass"))
    data = diagnostic.to_dict()
    assert data["severity"] == "error"
    assert set(data) == {
        "line",
        "col",
        "end_line",
        "end_col",
        "severity",
        "code",
        "message",
        "hint",
        "suggestion",
    }


def test_declared_params_are_read_without_running_the_code() -> None:
    from sandbox import declared_params

    source = (
        "class Base(Strategy):\n    params = {'fast': 5, 'slow': 20}\n\n"
        "class S(Base):\n    params = {'fast': 10}\n\n    def on_data(self, bar):\n        pass\n"
    )
    assert declared_params(source) == {"fast": 10, "slow": 20}
