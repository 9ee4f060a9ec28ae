"""Strategy source to class: RestrictedPython compile, then exec in guarded globals."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

from RestrictedPython.compile import compile_restricted_exec

from app.engine import Strategy, crossover, crossunder
from sandbox.diagnostics import Diagnostic, Severity, has_errors
from sandbox.errors import StrategyRejected
from sandbox.guards import build_globals
from sandbox.inspection import inspect_source
from sandbox.parsing import syntax_diagnostic
from sandbox.transform import StrategyPolicy
from sandbox.validate import (
    chosen_strategy_name,
    protected_api_names,
    validate_source,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CompiledStrategy:
    """A strategy class built from user source inside guarded globals, ready for the engine."""

    strategy_class: type
    name: str
    filename: str


def default_contract() -> dict[str, object]:
    """The names every strategy module sees: the engine's Strategy and its helpers."""
    return {"Strategy": Strategy, "crossover": crossover, "crossunder": crossunder}


def restricted_code(code: str, filename: str) -> CodeType:
    """RestrictedPython bytecode for validated source; its refusals become diagnostics.

    Validated source stays inside `policy.SOURCE_LIMITS`, far from the recursion limit of
    RestrictedPython's transformer; unvalidated source (the hostile suite's second pass) that
    the parser, the transformer or the compiler cannot handle is refused the same way.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            result = compile_restricted_exec(code, filename=filename, policy=StrategyPolicy)
    except SyntaxError as problem:
        raise StrategyRejected([syntax_diagnostic(problem)]) from None
    except (RecursionError, ValueError) as problem:
        message = f"the source is too deeply nested or unreadable to compile: {problem}"
        raise StrategyRejected(
            [Diagnostic(1, 1, 1, 2, Severity.ERROR, "SB013", message[:500])]
        ) from None
    if result.errors or result.code is None:
        raise StrategyRejected([_restricted_diagnostic(text) for text in result.errors])
    code_object: CodeType = result.code
    return code_object


def _restricted_diagnostic(text: str) -> Diagnostic:
    line = 1
    if text.startswith("Line "):
        number = text[5:].split(":", 1)[0]
        line = int(number) if number.isdigit() else 1
        text = text.split(":", 1)[1].strip() if ":" in text else text
    return Diagnostic(line, 1, line, 2, Severity.ERROR, "SB400", f"not allowed: {text}")


def _class_to_run(
    code: str, strategy_name: str | None, module_globals: Mapping[str, Any], strategy_base: type
) -> str:
    try:
        return chosen_strategy_name(code, strategy_name)
    except IndexError:  # unvalidated source: take the last Strategy subclass it defined
        found = [
            name
            for name, value in module_globals.items()
            if isinstance(value, type)
            and issubclass(value, strategy_base)
            and value is not strategy_base
        ]
        return found[-1] if found else ""


def compile_strategy(
    code: str,
    filename: str = "strategy.py",
    *,
    strategy_name: str | None = None,
    contract: Mapping[str, object] | None = None,
    is_validated: bool = True,
) -> CompiledStrategy:
    """Validate, compile and execute strategy source; returns the chosen Strategy subclass.

    Raises StrategyRejected with every diagnostic when the source is refused. `contract`
    replaces the engine's Strategy/crossover/crossunder (tests use stand-ins).
    `is_validated=False` skips the AST validation: only the hostile test suite does this, to
    show that RestrictedPython, the guards and the OS layers hold on their own.
    """
    if is_validated:
        diagnostics = validate_source(code, filename, strategy_name=strategy_name)
        if has_errors(diagnostics):
            raise StrategyRejected(diagnostics)
    names = dict(contract) if contract is not None else default_contract()
    strategy_base = names["Strategy"]
    if not isinstance(strategy_base, type):
        raise TypeError("the contract's Strategy must be a class")
    code_object = restricted_code(code, filename)
    module_globals: dict[str, Any] = build_globals(names, strategy_base, protected_api_names())
    exec(code_object, module_globals)
    name = _class_to_run(code, strategy_name, module_globals, strategy_base)
    strategy_class = module_globals.get(name)
    if not (isinstance(strategy_class, type) and issubclass(strategy_class, strategy_base)):
        raise StrategyRejected(
            [Diagnostic(1, 1, 1, 2, Severity.ERROR, "SB501", f"'{name}' is not a Strategy class")]
        )
    if is_validated:
        _refuse_changed_params(code, strategy_name, strategy_class)
    logger.debug("compiled strategy class=%s file=%s", name, filename)
    return CompiledStrategy(strategy_class=strategy_class, name=name, filename=filename)


def _refuse_changed_params(code: str, strategy_name: str | None, strategy_class: type) -> None:
    """StrategyRejected when the class's params, merged along its MRO as the engine reads them,
    are not exactly the literals validation checked: module code such as
    `S.params["x"] = float("inf")` (or through any alias of the class) ran in between."""
    written = inspect_source(code, strategy_name=strategy_name).defaults
    merged: dict[object, object] = {}
    for cls in reversed(strategy_class.__mro__):
        own = cls.__dict__.get("params")
        if isinstance(own, dict):
            merged.update(own)
        elif own is not None:
            merged = {"": own}  # not a dict: never equal to the literals
    if _typed(merged) != _typed(written):
        raise StrategyRejected(
            [
                Diagnostic(
                    1,
                    1,
                    1,
                    2,
                    Severity.ERROR,
                    "SB704",
                    "the strategy's params were changed after its class statement",
                    "set every default in params = {...} and read them as self.params",
                )
            ]
        )


def _typed(params: Mapping[Any, object]) -> dict[object, tuple[type, object]]:
    """Params compared by type and exact value (1, 1.0 and True differ; so do 0.0 and -0.0,
    and a NaN never equals anything)."""
    return {
        (type(k), k): (type(v), v.hex() if isinstance(v, float) else v) for k, v in params.items()
    }
