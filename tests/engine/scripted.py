"""A strategy driven by a script of actions per bar index, for worked examples."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.engine import (
    Bar,
    Event,
    MarketData,
    OrderRecord,
    OrderTicket,
    PositionInfo,
    RunConfig,
    RunResult,
    Strategy,
    run_backtest,
)

Action = Callable[[Strategy], Any]
OhlcRow = tuple[float, float, float, float]
MarketBuilder = Callable[..., MarketData]  # the `make_market` fixture of tests/conftest.py

# Worked examples pay no fee, slippage or funding unless the row says so.
QUIET: dict[str, Any] = {"fee_maker": 0.0, "fee_taker": 0.0, "funding_rate": 0.0}


@dataclass
class Observed:
    """What the strategy saw after each bar closed, and what its calls returned."""

    positions: dict[int, PositionInfo] = field(default_factory=dict)
    cash: dict[int, float] = field(default_factory=dict)
    equity: dict[int, float] = field(default_factory=dict)
    returned: dict[int, list[Any]] = field(default_factory=dict)
    tickets: list[OrderTicket] = field(default_factory=list)


def run_script(
    market: MarketData,
    script: Mapping[int, Action | Sequence[Action]],
    *,
    seen: Observed | None = None,
    journal: list[Event] | None = None,
    **config: Any,
) -> tuple[RunResult, Observed]:
    """Run a strategy that performs `script[bar.index]` at each bar (after observing it).

    Pass `seen` to let actions read what earlier bars returned (e.g. a ticket to cancel), and
    `journal` to collect the run's events.
    Config keywords override QUIET defaults (no fees, no funding) and RunConfig's own.
    """
    observed = seen if seen is not None else Observed()

    class Scripted(Strategy):
        def on_data(self, bar: Bar) -> None:
            observed.positions[bar.index] = self.position
            observed.cash[bar.index] = self.get_cash()
            observed.equity[bar.index] = self.get_equity()
            actions = script.get(bar.index, ())
            for action in actions if isinstance(actions, Sequence) else (actions,):
                value = action(self)
                observed.returned.setdefault(bar.index, []).append(value)
                if isinstance(value, OrderTicket):
                    observed.tickets.append(value)

    result = run_backtest(Scripted, market, RunConfig(**{**QUIET, **config}), journal=journal)
    return result, observed


def warnings_of(result: RunResult) -> list[str]:
    return [line.message for line in result.logs if line.level.value == "warning"]


def order(result: RunResult, order_id: int) -> OrderRecord:
    return next(record for record in result.orders if record.id == order_id)
