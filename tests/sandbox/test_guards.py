"""The guards stop what gets past validation: guarded code run with validation skipped."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.engine import Strategy
from sandbox import SandboxViolation, StrategyRejected
from sandbox.compile import compile_strategy, default_contract, restricted_code
from sandbox.guards import build_globals
from sandbox.validate import protected_api_names


def guarded(body: str) -> Callable[..., Any]:
    """`probe(x)` compiled by RestrictedPython with our guards, without the AST validation."""
    source = "def probe(x):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    module = build_globals(default_contract(), Strategy, protected_api_names())
    exec(restricted_code(source, "probe.py"), module)
    probe: Callable[..., Any] = module["probe"]
    return probe


READ_ONLY = np.arange(5.0)
READ_ONLY.setflags(write=False)


@pytest.mark.parametrize(
    ("body", "argument"),
    [
        ("return x.tofile", READ_ONLY),
        ("return x.ctypes", READ_ONLY),
        ("return x.base", READ_ONLY),
        ("return x.flags", READ_ONLY),
        ("return x.dumps", READ_ONLY),
        ("return x.setflags", READ_ONLY),
        ("import pandas as pd\nreturn pd.Series([1.0]).to_csv", None),
        ("import pandas as pd\nreturn pd.Series([1.0]).to_pickle", None),
        ("import pandas as pd\nreturn pd.DataFrame({'a': [1]}).query", None),
        ("import pandas as pd\nreturn pd.DataFrame({'a': [1]}).eval", None),
        ("import pandas as pd\nreturn pd.DataFrame({'a': [1]}).style", None),
        ("import pandas as pd\nreturn pd.Series([1.0]).apply", None),
        ("return '{0}'.format", None),
        ("return x.with_traceback", ValueError("e")),
        ("return Strategy.buy", None),
        ("return crossover.gi_frame", None),
        ("return [i for i in [1]].copy().pop.x", None),
    ],
)
def test_refused_attributes_raise_a_sandbox_violation(body: str, argument: object) -> None:
    # RestrictedPython itself refuses some names (gi_frame) at compile time: also a refusal.
    with pytest.raises((SandboxViolation, StrategyRejected)):
        guarded(body)(argument)


@pytest.mark.parametrize(
    ("body", "argument", "expected"),
    [
        ("return x.mean()", np.arange(5.0), 2.0),
        ("import math\nreturn math.sqrt(x)", 16.0, 4.0),
        ("import numpy as np\nreturn float(np.mean(x))", [1.0, 3.0], 2.0),
        (
            "import pandas as pd\nreturn float(pd.Series(x).rolling(2).mean().iloc[-1])",
            [1.0, 3.0],
            2.0,
        ),
        ("from statistics import median\nreturn median(x)", [1, 5, 9], 5),
        ("y = []\ny.append(x)\nreturn y", 1, [1]),
        ("d = {}\nd['a'] = x\nreturn d", 2, {"a": 2}),
        ("return x.args", ValueError("e"), ("e",)),
        ("return x.upper()", "btc", "BTC"),
    ],
)
def test_allowed_operations_work(body: str, argument: object, expected: object) -> None:
    assert guarded(body)(argument) == expected


@pytest.mark.parametrize("module", ["os", "sys", "numpy.lib", "pickle", "ctypes", "builtins"])
def test_imports_outside_the_facades_are_refused(module: str) -> None:
    with pytest.raises((SandboxViolation, StrategyRejected), match=r"not allowed|reserved"):
        guarded(f"import {module}")(None)


@pytest.mark.parametrize("name", ["load", "save", "fromfile", "lib", "ctypeslib", "memmap"])
def test_the_numpy_facade_exports_no_file_or_module_access(name: str) -> None:
    with pytest.raises(AttributeError):
        guarded(f"import numpy as np\nreturn np.{name}")(None)


@pytest.mark.parametrize("name", ["read_csv", "read_pickle", "eval", "io", "core", "compat"])
def test_the_pandas_facade_exports_no_readers(name: str) -> None:
    with pytest.raises(AttributeError):
        guarded(f"import pandas as pd\nreturn pd.{name}")(None)


def test_facades_cannot_be_changed() -> None:
    with pytest.raises(SandboxViolation):
        guarded("import math\nmath.sqrt = None")(None)


def test_engine_arrays_reject_item_writes() -> None:
    with pytest.raises(ValueError, match="read-only"):
        guarded("x[0] = 1.0")(READ_ONLY)


def test_classes_from_the_library_cannot_be_changed() -> None:
    with pytest.raises(SandboxViolation):
        guarded("Strategy.buy = None")(None)


def test_pandas_objects_refuse_item_writes_through_indexers() -> None:
    with pytest.raises(SandboxViolation):
        guarded("import pandas as pd\ns = pd.Series([1.0])\ns.iloc[0] = 5.0")(None)


def test_a_strategy_cannot_replace_its_api_at_run_time() -> None:
    compiled = compile_strategy(
        "class S(Strategy):\n    def on_data(self, bar):\n"
        "        me = self\n        me.data = None\n"
    )
    instance = object.__new__(compiled.strategy_class)
    with pytest.raises(SandboxViolation, match="part of the Strategy API"):
        instance.on_data(None)


def test_user_objects_keep_their_own_attributes() -> None:
    compiled = compile_strategy(
        "class S(Strategy):\n    def on_data(self, bar):\n        self.count = 3\n"
        "        return self.count\n"
    )
    instance = object.__new__(compiled.strategy_class)
    assert instance.on_data(None) == 3


def test_builtins_are_the_safe_set_only() -> None:
    for name in ("open", "eval", "exec", "getattr", "type", "__import__('os')"):
        with pytest.raises((NameError, SandboxViolation, StrategyRejected)):
            guarded(f"return {name}")(None)


def test_user_classes_expose_their_names_but_not_mro() -> None:
    compiled = compile_strategy(
        "class S(Strategy):\n    limit = 3\n\n    def on_data(self, bar):\n"
        "        me = S\n        return me.limit\n"
    )
    instance = object.__new__(compiled.strategy_class)
    assert instance.on_data(None) == 3
    with pytest.raises(SandboxViolation):
        guarded("return x.mro")(compiled.strategy_class)


def test_engine_enums_do_not_expose_string_formatting() -> None:
    from app.engine import OrderSide

    with pytest.raises(SandboxViolation):
        guarded("return x.format")(OrderSide.BUY)
    assert guarded("return x.value")(OrderSide.BUY) == "buy"


def unvalidated(source: str) -> Any:
    """An instance of the strategy class compiled without the AST validation."""
    compiled = compile_strategy(source, is_validated=False)
    return object.__new__(compiled.strategy_class)


def test_self_reads_in_checked_methods_skip_the_guard() -> None:
    import dis

    compiled = compile_strategy(
        "class S(Strategy):\n    fast = 1\n    def on_data(self, bar):\n        return self.fast\n"
    )
    names = [i.argval for i in dis.get_instructions(compiled.strategy_class.on_data)]
    assert "_check_self_" in names
    assert "_getattr_" not in names


def test_a_method_smuggled_out_of_its_class_refuses_foreign_objects() -> None:
    instance = unvalidated(
        "import numpy as np\n"
        "class S(Strategy):\n"
        "    def leak(self):\n        return self.tofile\n"
        "    table = [leak]\n"
        "    def on_data(self, bar):\n        return self.table[0](np.ones(1))\n"
    )
    with pytest.raises(SandboxViolation, match="called on a 'ndarray'"):
        instance.on_data(None)


def test_methods_cannot_be_taken_from_the_class() -> None:
    instance = unvalidated(
        "class S(Strategy):\n"
        "    def leak(self):\n        return 1\n"
        "    def on_data(self, bar):\n        return S.leak\n"
    )
    with pytest.raises(SandboxViolation):
        instance.on_data(None)


@pytest.mark.parametrize(
    "rebinding",
    [
        "self = np.ones(1)",
        "for self in [np.ones(1)]:\n            pass",
        "[0 for self in [1]]",
        "f = lambda self: self.tofile",
        "(self := np.ones(1))",
        "import numpy as self",
    ],
)
def test_methods_that_rebind_self_keep_the_guard(rebinding: str) -> None:
    import dis

    instance = unvalidated(
        "import numpy as np\n"
        "class S(Strategy):\n"
        f"    def on_data(self, bar):\n        {rebinding}\n        return self.tofile\n"
    )
    names = [i.argval for i in dis.get_instructions(type(instance).on_data)]
    assert "_check_self_" not in names
    with pytest.raises((SandboxViolation, AttributeError)):
        instance.on_data(None)


def test_a_rebound_self_is_still_refused_by_the_guard() -> None:
    instance = unvalidated(
        "import numpy as np\n"
        "class S(Strategy):\n"
        "    def on_data(self, bar):\n        self = np.ones(1)\n        return self.tofile\n"
    )
    with pytest.raises(SandboxViolation, match="ndarray"):
        instance.on_data(None)


def test_augmented_assignment_on_attributes_and_items_works() -> None:
    compiled = compile_strategy(
        "class S(Strategy):\n"
        "    def on_data(self, bar):\n"
        "        self.n = 1\n        self.n += 2\n"
        "        self.counts = {'up': 1}\n        self.counts['up'] *= 5\n"
        "        return self.n, self.counts['up']\n"
    )
    assert object.__new__(compiled.strategy_class).on_data(None) == (3, 5)


def test_augmented_assignment_still_goes_through_the_write_guard() -> None:
    with pytest.raises(SandboxViolation):
        guarded("import math\nmath.pi += 1")(None)
    with pytest.raises(ValueError, match="read-only"):
        guarded("x[0] += 1.0")(READ_ONLY)
