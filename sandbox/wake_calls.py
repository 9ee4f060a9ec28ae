"""`self.wake_on(...)` declarations checked before the run (SB707): called in `on_data()`
(they belong to `initialize()`), an unknown condition (with a "did you mean"), the wrong
number of series, a number where the series goes, or an `every=` that is no whole number of
bars, each at its line in the engine's own words (`app.engine.wake`). Computed arguments are
the engine's to check when the run starts."""

from __future__ import annotations

import ast
import difflib

from app.engine.wake import WAKE_EXAMPLE, WAKE_KINDS
from sandbox.classes import is_literal_value, literal
from sandbox.diagnostics import Diagnostic
from sandbox.parsing import ParsedSource

WAKE_METHOD = "wake_on"
BAD_WAKE = "SB707"
# wake_on in a helper that initialize() calls is fine; in on_data it can never work
PER_BAR_METHOD = "on_data"


def wake_problems(parsed: ParsedSource, node: ast.ClassDef) -> list[Diagnostic]:
    """Each `<self>.wake_on(...)` in the methods of Strategy class `node` that the engine
    would refuse."""
    found: list[Diagnostic] = []
    for method in node.body:
        if not isinstance(method, ast.FunctionDef) or not method.args.args:
            continue
        self_name = method.args.args[0].arg
        for call in ast.walk(method):
            if not _is_wake_call(call, self_name):
                continue
            if method.name == PER_BAR_METHOD:
                found.append(
                    parsed.diagnostic(
                        call,
                        BAD_WAKE,
                        "wake_on is declared in initialize(), not in on_data(): the engine "
                        "works out the bars it fires on once, before the first bar",
                        "move this call into initialize()",
                    )
                )
                continue
            found += _argument_problems(parsed, call)  # type: ignore[arg-type]
    return found


def _is_wake_call(node: ast.AST, self_name: str) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == WAKE_METHOD
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == self_name
    )


def _argument_problems(parsed: ParsedSource, call: ast.Call) -> list[Diagnostic]:
    every = next((kw.value for kw in call.keywords if kw.arg == "every"), None)
    found = _every_problems(parsed, every)
    for keyword in call.keywords:
        if keyword.arg not in (None, "every"):
            found.append(
                parsed.diagnostic(
                    keyword,
                    BAD_WAKE,
                    f"wake_on takes no '{keyword.arg}='; its only keyword is every=N",
                    WAKE_EXAMPLE,
                )
            )
    if any(isinstance(arg, ast.Starred) for arg in call.args):
        return found  # computed arguments: the engine checks them
    if not call.args:
        if not call.keywords:
            found.append(
                parsed.diagnostic(
                    call, BAD_WAKE, "wake_on needs a condition or every=N bars", WAKE_EXAMPLE
                )
            )
        return found
    return found + _condition_problems(parsed, call)


def _every_problems(parsed: ParsedSource, every: ast.expr | None) -> list[Diagnostic]:
    period = literal(every)
    if every is None or not is_literal_value(period) or period is None:
        return []
    if isinstance(period, int) and not isinstance(period, bool) and period >= 1:
        return []
    return [
        parsed.diagnostic(
            every,
            BAD_WAKE,
            f"wake_on(every=N): N is a whole number of bars, 1 or more, not {period!r}"[:160],
            "for example every=60 (every 60 bars from the first bar on_data sees)",
        )
    ]


def _condition_problems(parsed: ParsedSource, call: ast.Call) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    kind = literal(call.args[0])
    if not isinstance(kind, str):
        return found
    if kind.lower() not in WAKE_KINDS:
        close = difflib.get_close_matches(kind.lower(), list(WAKE_KINDS), n=1)
        known = ", ".join(f'"{name}"' for name in WAKE_KINDS)
        found.append(
            parsed.diagnostic(
                call.args[0],
                BAD_WAKE,
                f"wake_on's first argument is one of {known}, not {kind[:40]!r}",
                f'did you mean "{close[0]}"?' if close else WAKE_EXAMPLE,
                f'"{close[0]}"' if close else "",
            )
        )
        return found
    if len(call.args) != 3:
        found.append(
            parsed.diagnostic(
                call,
                BAD_WAKE,
                f'wake_on("{kind.lower()}", a, b) takes two series (b may be a number), '
                f"got {len(call.args) - 1}",
                WAKE_EXAMPLE,
            )
        )
    elif isinstance(literal(call.args[1]), int | float):
        found.append(
            parsed.diagnostic(
                call.args[1],
                BAD_WAKE,
                f'wake_on("{kind.lower()}", a, b): a must be a series, not a number',
                "put the series first and the level second, such as "
                'self.wake_on("below", self.rsi, 30)',
            )
        )
    return found
