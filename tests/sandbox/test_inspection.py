"""The one source inspection: the class that runs is the class compile_strategy runs, and its
params are the engine's merge along the MRO, each typed by its default."""

from __future__ import annotations

import pytest

from sandbox import compile_strategy, inspect_source

ON_DATA = "    def on_data(self, bar):\n        pass\n"
CASES = {
    "single": "class A(Strategy):\n    params = {'n': 3}\n" + ON_DATA,
    "base_and_leaf": (
        "class Base(Strategy):\n    params = {'fast': 10, 'slow': 30}\n"
        + ON_DATA
        + "class Leaf(Base):\n    params = {'slow': 40, 'size': 0.5}\n"
    ),
    "leaf_without_params": (
        "class Base(Strategy):\n    params = {'fast': 10}\n" + ON_DATA + "class Leaf(Base):\n"
        "    pass\n"
    ),
    "diamond": (
        "class A(Strategy):\n    params = {'a': 1, 'x': 'a'}\n"
        + ON_DATA
        + "class B(A):\n    params = {'b': True, 'x': 'b'}\n"
        + "class C(A):\n    params = {'c': 2.5, 'x': 'c'}\n"
        + "class D(B, C):\n    params = {'d': 4}\n"
    ),
    "reassigned": (
        "class A(Strategy):\n    params = {'n': 1}\n    params = {'n': 2, 'm': 3}\n" + ON_DATA
    ),
}


def runtime_params(code: str) -> tuple[str, dict[str, object]]:
    """What the engine will see: the compiled class and its params merged along the MRO."""
    compiled = compile_strategy(code)
    merged: dict[str, object] = {}
    for cls in reversed(compiled.strategy_class.__mro__):
        merged.update(cls.__dict__.get("params") or {})
    return compiled.name, merged


@pytest.mark.parametrize("code", CASES.values(), ids=CASES.keys())
def test_the_inspected_class_and_params_are_the_ones_that_run(code: str) -> None:
    inspection = inspect_source(code)
    assert inspection.is_runnable, inspection.diagnostics
    name, merged = runtime_params(code)
    assert inspection.strategy_class == name
    assert inspection.defaults == merged


def test_inherited_params_merge_with_the_subclass_winning_and_keep_their_kinds() -> None:
    inspection = inspect_source(CASES["base_and_leaf"])
    assert inspection.strategy_class == "Leaf"
    assert [(p.name, p.kind, p.default) for p in inspection.params] == [
        ("fast", "int", 10),
        ("slow", "int", 40),
        ("size", "float", 0.5),
    ]


def test_bool_params_are_bools_not_ints() -> None:
    [param] = inspect_source("class A(Strategy):\n    params = {'on': False}\n" + ON_DATA).params
    assert param.kind == "bool" and param.default is False


def test_the_title_is_the_docstrings_first_line() -> None:
    code = '"""Mean reversion.\n\nLonger text."""\n' + CASES["single"]
    assert inspect_source(code).title == "Mean reversion."
    assert inspect_source(CASES["single"]).title == ""


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("class A(Strategy):\n", "syntax"),
        ("x = 1\n", "no class"),
        (CASES["single"] + "class B(Strategy):\n" + ON_DATA, "two leaves"),
    ],
)
def test_no_class_is_named_when_none_or_several_could_run(code: str, reason: str) -> None:
    inspection = inspect_source(code)
    assert inspection.strategy_class == "" and inspection.params == ()
    assert not inspection.is_runnable, reason


@pytest.mark.parametrize(
    "params",
    ["dict(n=1)", "{'n': 1, 'levels': [1, 2]}", "{'n': float('nan')}", "{**{'n': 1}}"],
)
def test_params_that_are_not_plain_literals_are_refused_and_not_offered(params: str) -> None:
    inspection = inspect_source(f"class A(Strategy):\n    params = {params}\n" + ON_DATA)
    assert not inspection.is_runnable
    assert all(param.kind in ("bool", "int", "float", "str") for param in inspection.params)
    assert "levels" not in inspection.defaults


def test_a_base_named_before_it_is_defined_does_not_loop() -> None:
    code = "class A(B):\n    params = {'a': 1}\n" + ON_DATA + "class B(A):\n    pass\n"
    inspection = inspect_source(code)  # Python itself would stop at the NameError
    assert not inspection.is_runnable


def test_a_deep_diamond_hierarchy_is_inspected_like_python_and_quickly() -> None:
    # Each class derives from the two before it: naive recursion would take 2**40 steps.
    lines = ["class C0(Strategy):\n    params = {'p0': 0}\n" + ON_DATA]
    lines.append("class C1(C0):\n    params = {'p1': 1}\n")
    for level in range(2, 40):
        bases = f"C{level - 1}, C{level - 2}"
        lines.append(f"class C{level}({bases}):\n    params = {{'p{level}': {level}}}\n")
    code = "".join(lines)
    inspection = inspect_source(code)
    assert inspection.strategy_class == "C39"
    assert inspection.defaults == runtime_params(code)[1]
    assert len(inspection.params) == 40


def test_a_chosen_class_name_is_honoured() -> None:
    code = CASES["single"] + "class B(Strategy):\n    params = {'m': 1}\n" + ON_DATA
    inspection = inspect_source(code, strategy_name="B")
    assert inspection.strategy_class == "B" and inspection.defaults == {"m": 1}
