"""Validation turns every refused construct into a diagnostic a trader can read."""

from __future__ import annotations

import ast

import pytest

from sandbox import Severity, policy, validate_source

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


SETS_N_COUNTS_A = "    def initialize(self):\n        self.n, self.counts, self.a = [0], {}, None\n"


def test_complex_augmented_assignment_suggests_the_rewrite() -> None:
    (diagnostic,) = validate_source(strategy("self.n[len(self.n) - 1] += 2") + SETS_N_COUNTS_A)
    assert diagnostic.suggestion == "self.n[len(self.n) - 1] = self.n[len(self.n) - 1] + 2"


def test_simple_augmented_assignments_are_accepted() -> None:
    source = strategy("self.n += 1; self.counts['up'] -= 2; self.a.b *= 3") + SETS_N_COUNTS_A
    assert validate_source(source) == []


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


# -- every class statement is checked, wherever it stands ------------------------------------

ON_DATA = "class S(Strategy):\n    def on_data(self, bar):\n        pass\n"


@pytest.mark.parametrize(
    "source",
    [
        strategy("class X(dict):\n            pass"),
        strategy("class X(Exception):\n            pass"),
        strategy("class X(bar.__class__):\n            pass"),
        strategy("class X(self.data.close):\n            pass"),
        strategy("class X(*self.bases):\n            pass"),
        strategy("class X(S if bar else dict):\n            pass"),
        ON_DATA + "def make():\n    class X(list):\n        pass\n    return X\n",
        ON_DATA + "if True:\n    class X(set):\n        pass\n",
        ON_DATA + "try:\n    x = 1\nexcept Exception:\n    class X(tuple):\n        pass\n",
        "class S(Strategy):\n    class Inner(frozenset):\n        pass\n"
        "    def on_data(self, bar):\n        pass\n",
        strategy("class X(S):\n            class Y(int):\n                pass"),
    ],
)
def test_cant_derive_a_nested_class_from_anything_but_strategy_classes(source: str) -> None:
    assert "SB505" in codes(source)


@pytest.mark.parametrize(
    ("source", "code"),
    [
        (strategy("class X(S, metaclass=M):\n            pass"), "SB402"),
        (strategy("class X(S, flag=True):\n            pass"), "SB402"),
        (strategy("@S\n        class X(S):\n            pass"), "SB402"),
        (ON_DATA + "def f():\n    class X(S, **opts):\n        pass\n", "SB402"),
    ],
)
def test_cant_give_a_nested_class_keywords_or_decorators(source: str, code: str) -> None:
    assert code in codes(source)


@pytest.mark.parametrize(
    "source",
    [
        "class B(Strategy):\n    pass\nB = dict\nclass S(B):\n    def on_data(self, bar):\n"
        "        pass\n",
        "class B(Strategy):\n    pass\nclass S(B):\n    def on_data(self, bar):\n"
        "        B = list\n        class X(B):\n            pass\n",
        "import math as B\nclass B(Strategy):\n    def on_data(self, bar):\n        pass\n",
        "class B(Strategy):\n    def on_data(self, bar):\n        for B in [dict]:\n"
        "            pass\n",
        "class B(Strategy):\n    def on_data(self, bar, B=dict):\n        pass\n",
        "class B(Strategy):\n    def on_data(self, bar):\n        try:\n            pass\n"
        "        except Exception as B:\n            pass\n",
        "class B(Strategy):\n    def on_data(self, bar):\n        if (B := dict):\n"
        "            pass\n",
        "def B():\n    pass\nclass B(Strategy):\n    def on_data(self, bar):\n        pass\n",
        "Strategy = dict\n" + ON_DATA,
        ON_DATA.replace("pass", "Strategy = dict"),
        "from math import pi as Strategy\n" + ON_DATA,
    ],
)
def test_cant_rebind_the_name_of_a_base_class(source: str) -> None:
    assert "SB506" in codes(source)


@pytest.mark.parametrize("name", ["list", "dict", "Exception", "object", "type", "crossover"])
def test_cant_name_a_class_after_a_builtin(name: str) -> None:
    source = ON_DATA.replace("pass", f"class {name}(S):\n            pass")
    assert "SB506" in codes(source)


@pytest.mark.parametrize(
    "body",
    [
        "    buy = None\n",
        "    get_cash = lambda self: 1e9\n",
        "    if True:\n        def sell(self, amount):\n            pass\n",
        "    for log in [1]:\n        pass\n",
    ],
)
def test_cant_replace_the_strategy_api_from_a_class_body(body: str) -> None:
    source = "class S(Strategy):\n" + body + "    def on_data(self, bar):\n        pass\n"
    assert "SB504" in codes(source)


def test_a_nested_helper_class_of_the_file_is_accepted() -> None:
    source = (
        "class Helper:\n    pass\n\nclass S(Strategy):\n    def on_data(self, bar):\n"
        "        class Local(Helper):\n            pass\n        x = Local()\n"
    )
    assert validate_source(source) == []


# -- default deny: a node kind without a rule is refused -------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("match bar:\n            case 1:\n                pass", "'match'"),
        ("try:\n            pass\n        except* ValueError:\n            pass", "except*"),
        ("x: int = 1", "annotated"),
        ("type Alias = int", "aliases"),
        ("def inner[T](x):\n            pass", "type parameters"),
        ("with bar:\n            pass", "'with'"),
        ("global total", "'global'"),
        ("x = (i for i in [1])", "generator expressions"),
    ],
)
def test_cant_use_syntax_that_is_not_allowed(body: str, fragment: str) -> None:
    found = [d for d in validate_source(strategy(body)) if d.code == "SB401"]
    assert found and fragment in found[0].message


@pytest.mark.parametrize(
    ("kind", "body"),
    [("Lambda", "f = lambda: 1"), ("Slice", "x = [1, 2][0:1]"), ("NamedExpr", "(x := 1)")],
)
def test_cant_use_a_node_kind_the_allow_list_does_not_name(
    monkeypatch: pytest.MonkeyPatch, kind: str, body: str
) -> None:
    assert validate_source(strategy(body)) == []
    monkeypatch.setattr(policy, "ALLOWED_NODE_KINDS", policy.ALLOWED_NODE_KINDS - {kind})
    (diagnostic,) = validate_source(strategy(body))
    assert diagnostic.code == "SB404" and kind in diagnostic.message
    assert diagnostic.line == 3


def test_every_node_kind_of_this_python_has_a_rule_or_cannot_come_from_a_file() -> None:
    kinds = {
        cls.__name__
        for cls in vars(ast).values()
        if isinstance(cls, type) and issubclass(cls, ast.AST) and cls._fields is not None
    }
    abstract = {"AST", "mod", "stmt", "expr", "expr_context", "boolop", "operator", "unaryop"}
    abstract |= {"cmpop", "excepthandler", "pattern", "type_ignore", "type_param", "slice"}
    not_from_a_file = {"Interactive", "Expression", "FunctionType", "TypeIgnore"}
    deprecated = {"Index", "ExtSlice", "Suite", "AugLoad", "AugStore", "Param"}
    deprecated |= {"Num", "Str", "Bytes", "NameConstant", "Ellipsis"}
    unruled = kinds - policy.ALLOWED_NODE_KINDS - set(policy.REFUSED_NODE_KINDS)
    assert unruled <= abstract | not_from_a_file | deprecated


# -- params are literal, plain and finite ----------------------------------------------------


def with_params(params: str, base: str = "Strategy") -> str:
    return f"class S({base}):\n    params = {params}\n    def on_data(self, bar):\n        pass\n"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ('{"x": 1e999}', "SB703"),
        ('{"x": -1e999}', "SB703"),
        ('{"x": 1e309}', "SB703"),
        ('{"x": 123456789012345678901234567890}', "SB703"),
        ('{"x": -9007199254740993}', "SB703"),
        ('{"x": float("inf")}', "SB701"),
        ('{"x": float("nan")}', "SB701"),
        ('{"x": 10 ** 400}', "SB701"),
        ('{"x": 1e308 * 10}', "SB701"),
        ('{"x": [1e999]}', "SB702"),
        ('{"x": {"y": 1e999}}', "SB702"),
        ('{"x": (1.0, 1e999)}', "SB702"),
        ('{"x": 1e999j}', "SB702"),
        ('{"x": None}', "SB702"),
        ('{"x": b"raw"}', "SB702"),
        ("{1: 2}", "SB702"),
        ('{"x": 1, **other}', "SB701"),
        ("dict(x=1e999)", "SB701"),
        ("make_params()", "SB701"),
    ],
)
def test_cant_declare_params_that_are_not_plain_finite_literals(params: str, code: str) -> None:
    assert code in codes(with_params(params))


@pytest.mark.parametrize(
    "body",
    [
        "    params, other = {'x': 1e999}, 1\n",
        "    (params := {'x': 1e999})\n",
        "    for params in [{'x': 1e999}]:\n        pass\n",
        "    def params(self):\n        return {'x': 1e999}\n",
        "    params = {'x': 1}\n    params |= {'y': 1e999}\n",
        "    if True:\n        params = {'x': 1e999}\n",
    ],
)
def test_cant_set_params_any_other_way_than_one_literal_dict(body: str) -> None:
    source = "class S(Strategy):\n" + body + "    def on_data(self, bar):\n        pass\n"
    assert {"SB701", "SB703"} & set(codes(source))


def test_cant_inherit_a_non_finite_param_from_a_base_class() -> None:
    source = "class Base(Strategy):\n    params = {'x': 1e999}\n\n" + with_params("{}", "Base")
    assert "SB703" in codes(source)


@pytest.mark.parametrize(
    "params",
    [
        '{"fast": 10, "slow": 30}',
        '{"x": -9007199254740992, "y": 9007199254740992}',
        '{"x": 1.7976931348623157e308, "y": -5e-324}',
        '{"flag": True, "name": "btc", "amount": -0.5}',
        "{}",
    ],
)
def test_plain_finite_params_are_accepted(params: str) -> None:
    assert validate_source(with_params(params)) == []
