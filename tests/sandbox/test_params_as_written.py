"""A run's params are exactly the literal `params = {...}` validation checked: nothing in the
class body, the module or a method may change a class's defaults, and text defaults and names
are plain printable text (they reach the database, the browser and terminals)."""

from __future__ import annotations

import pytest

from sandbox import compile_strategy, validate_source
from sandbox.diagnostics import Diagnostic
from sandbox.errors import StrategyRejected
from sandbox.validate import declared_params

ON_DATA = "    def on_data(self, bar):\n        pass\n"
CLASS = "class S(Strategy):\n    params = {'x': 1}\n" + ON_DATA


def codes(source: str) -> set[str]:
    return {d.code for d in validate_source(source) if d.is_error}


CLASS_BODY_CHANGES = {
    "item assignment": "    params['x'] = float('inf')\n",
    "update call": "    params.update(x=float('nan'))\n",
    "setdefault": "    params.setdefault('y', 10 ** 400)\n",
    "read into another name": "    other = params\n",
    "item deletion": "    del params['x']\n",
    "inside a comprehension's iterable": "    keys = [k for k in params]\n",
}


@pytest.mark.parametrize("name", list(CLASS_BODY_CHANGES))
def test_cant_change_params_in_the_class_body(name: str) -> None:
    source = "class S(Strategy):\n    params = {'x': 1}\n" + CLASS_BODY_CHANGES[name] + ON_DATA
    assert "SB701" in codes(source)


CLASS_REACHES = {
    "module item assignment": CLASS + "S.params['x'] = float('inf')\n",
    "module update": CLASS + "S.params.update({'y': float('nan')})\n",
    "the base class's params": CLASS + "Strategy.params['x'] = 1e308 * 10\n",
    "from a function": CLASS + "def f():\n    S.params['x'] = 2\n",
    "from a method": CLASS.replace("pass", "S.params['x'] = 2"),
    "replacing the dict": CLASS + "S.params = {'x': float('inf')}\n",
    "from another class": CLASS + "class T(S):\n    params = {'y': 1}\n    z = S.params\n",
}


@pytest.mark.parametrize("name", list(CLASS_REACHES))
def test_cant_reach_a_class_params_by_its_name(name: str) -> None:
    assert "SB705" in codes(CLASS_REACHES[name])


ALIASED_CHANGES = {
    "a list holding the class": "k = [S]\nk[0].params['x'] = 10 ** 100\n",
    "a dict holding the class": "k = {'c': S}\nk['c'].params['x'] = float('inf')\n",
    "a function returning the class": "def c():\n    return S\nc().params['x'] = 2.0\n",
    "a new key": "k = [S]\nk[0].params['evil'] = float('nan')\n",
    "a key removed": "k = [S]\nk[0].params.pop('x')\n",
    "a type changed to bool": "k = [S]\nk[0].params['x'] = True\n",
    "a float for an int": "k = [S]\nk[0].params['x'] = 1.0\n",
}


@pytest.mark.parametrize("name", list(ALIASED_CHANGES))
def test_cant_run_a_class_whose_params_module_code_changed(name: str) -> None:
    source = CLASS + ALIASED_CHANGES[name]
    assert not codes(source)  # no name reaches the class: only running the module shows it
    with pytest.raises(StrategyRejected) as refused:
        compile_strategy(source)
    assert [d.code for d in refused.value.diagnostics] == ["SB704"]


def test_a_base_class_params_changed_through_an_alias_are_refused_too() -> None:
    source = (
        "class A(Strategy):\n    params = {'x': 1, 'y': 2}\n"
        "class B(A):\n    params = {'y': 3}\n" + ON_DATA + "k = [A]\nk[0].params['x'] = -0.0\n"
    )
    with pytest.raises(StrategyRejected):
        compile_strategy(source)


@pytest.mark.parametrize(
    "source",
    [
        CLASS,
        "class A(Strategy):\n    params = {'x': 1, 'y': 2.5}\n"
        "class B(A):\n    params = {'y': -0.0, 'z': 'text'}\n" + ON_DATA,
        "class S(Strategy):\n    params = {'x': 1}\n    params = {'y': True}\n" + ON_DATA,
        "class S(Strategy):\n" + ON_DATA,
        "class A(Strategy):\n    params = {'a': 1, 'x': 'a'}\n"
        + ON_DATA
        + "class B(A):\n    params = {'b': True, 'x': 'b'}\n"
        + "class C(A):\n    params = {'c': 2.5, 'x': 'c'}\n"
        + "class D(B, C):\n    params = {'d': 4}\n",
    ],
)
def test_params_left_as_written_compile_and_match_the_declared_ones(source: str) -> None:
    compiled = compile_strategy(source)
    merged: dict[str, object] = {}
    for cls in reversed(compiled.strategy_class.__mro__):
        merged.update(cls.__dict__.get("params", {}))
    assert merged == declared_params(source)


NOT_PLAIN_TEXT = {
    "lone surrogate default": "{'x': '\\ud800'}",
    "escape sequence default": "{'x': '\\x1b[2J'}",
    "newline default": "{'x': 'a\\nliquidated'}",
    "bidi override default": "{'x': '\\u202egnol'}",
    "surrogate name": "{'\\udfff': 1}",
    "escape in a name": "{'\\x1b]0;title\\x07': 1}",
    "empty name": "{'': 1}",
    "name too long": "{'" + "n" * 101 + "': 1}",
}


@pytest.mark.parametrize("name", list(NOT_PLAIN_TEXT))
def test_cant_declare_params_that_are_not_plain_text(name: str) -> None:
    source = CLASS.replace("{'x': 1}", NOT_PLAIN_TEXT[name])
    assert codes(source) & {"SB702", "SB703", "SB002"}
    assert declared_params(source) == {}


@pytest.mark.parametrize(
    "literal", ["'\\ud800'", "'ok \\udc80 then'", "f'{1}\\ud83d'", "'\\ud83d' '\\ude00'"]
)
def test_cant_write_a_lone_surrogate_in_any_string(literal: str) -> None:
    found = validate_source(CLASS.replace("pass", f"self.log({literal})"))
    assert "SB002" in {d.code for d in found}


def test_a_surrogate_pair_written_as_one_character_is_fine() -> None:
    assert not codes(CLASS.replace("pass", "self.log('\\U0001f600')"))


def test_a_class_name_longer_than_the_limit_is_refused() -> None:
    source = CLASS.replace("class S", "class " + "S" * 101)
    found: list[Diagnostic] = validate_source(source)
    assert "SB507" in {d.code for d in found}
    assert not codes(CLASS.replace("class S", "class " + "S" * 100))


@pytest.mark.parametrize(
    "docstring", ["'\\x1b[2J\\x1b]0;pwn\\x07 Title'", "'Title\\u202e'", "'\\x9b31m Title'"]
)
def test_cant_carry_terminal_escapes_in_the_title(docstring: str) -> None:
    from sandbox import inspect_source

    title = inspect_source(f"{docstring}\n" + CLASS).title
    assert title.isprintable()
    assert "Title" in title
