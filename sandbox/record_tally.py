"""The parent's count of a run's records, checked against the run's caps before decoding.

The engine stops an honest run at its caps (app.engine.caps), so the parent never sees more.
A worker that does not (its engine patched, the protocol spoken by something else) could still
declare millions of records in one frame, each several times larger once decoded than on the
wire; the tally reads how many records a frame carries from its array lengths and refuses the
frame before a single record is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.errors import LimitExceeded
from sandbox.limits import RunLimits


def frame_record_counts(arrays: Mapping[str, Any]) -> dict[str, int]:
    """How many orders, trades and log lines a frame's arrays carry (the longest column of
    each: the codec refuses columns of different lengths later)."""
    counts = {"orders": 0, "trades": 0, "logs": 0}
    for name, array in arrays.items():
        kind = name.partition(".")[0]
        if kind in counts:
            counts[kind] = max(counts[kind], len(array))
    return counts


class RecordTally:
    """Orders and trades received so far (progress frames and the result together), and log
    lines per frame, against the run's limits."""

    def __init__(self, limits: RunLimits) -> None:
        self.caps = {
            "orders": limits.max_orders,
            "trades": limits.max_trades,
            "logs": limits.max_log_lines,
        }
        self.orders = 0
        self.trades = 0

    def add(self, arrays: Mapping[str, Any]) -> None:
        """Count a frame's records; LimitExceeded when they take the run past a cap."""
        counts = frame_record_counts(arrays)
        self.orders += counts["orders"]
        self.trades += counts["trades"]
        for kind, count in (("orders", self.orders), ("trades", self.trades)):
            self._refuse_past(kind, count)
        self._refuse_past("logs", counts["logs"])  # every frame holds at most the kept lines

    def _refuse_past(self, kind: str, count: int) -> None:
        cap = self.caps[kind]
        if count > cap:
            unit = "log lines" if kind == "logs" else kind
            raise LimitExceeded(kind, cap, unit, f"limit exceeded: more than {cap} {unit}")
