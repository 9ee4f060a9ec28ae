"""How many indicators a strategy's source declares, read without running it: the total shown
by the live view's "Computing indicators k / n" stage."""

from __future__ import annotations

import ast


def count_indicator_calls(source: str) -> int:
    """The `.indicator(...)` call sites in `source` (`self.indicator`, and a timeframe's
    `self.timeframe("4h").indicator`); 0 when it does not parse. A call in a loop counts once:
    the engine raises the total to the calls it sees, so the count is an estimate, never a cap.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return 0
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "indicator"
    )


__all__ = ["count_indicator_calls"]
