"""The strategy's own settings in its class body besides `params`: `warmup`, checked before
the run when it is written as a literal (SB706), with the engine's own rule and sentence."""

from __future__ import annotations

import ast

from app.engine.errors import StrategyDefinitionError
from app.engine.warmup import warmup_setting
from sandbox.classes import is_literal_value, literal
from sandbox.diagnostics import Diagnostic
from sandbox.parsing import ParsedSource

WARMUP_ATTRIBUTE = "warmup"
BAD_WARMUP = "SB706"


def warmup_problems(parsed: ParsedSource, node: ast.ClassDef) -> list[Diagnostic]:
    """`warmup = <literal>` in a class body that the engine would refuse (a negative number,
    a float, text that is no duration, a month)."""
    found: list[Diagnostic] = []
    for statement in node.body:
        if not isinstance(statement, ast.Assign):
            continue
        if not any(isinstance(t, ast.Name) and t.id == WARMUP_ATTRIBUTE for t in statement.targets):
            continue
        value = literal(statement.value)
        if not is_literal_value(value):
            continue  # computed: the engine checks it when the run starts
        try:
            warmup_setting(value)
        except StrategyDefinitionError as error:
            found.append(
                parsed.diagnostic(
                    statement.value,
                    BAD_WARMUP,
                    str(error).split(";")[0],
                    'for example warmup = 200 (bars), warmup = "3d", or warmup = 0 to start '
                    "at the first bar",
                )
            )
    return found
