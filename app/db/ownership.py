"""The owner filter: the one place that confines every ORM query to its viewer's own records.

A request's engine carries an `OwnerScope` as an execution option (`scoped_engine`); every
session opened on it (`app.db.session.session_scope`, the API's session dependency, the
websockets) then
- reads, updates and deletes only rows the viewer owns: strategies, runs and sweeps whose
  `owner_id` is the viewer's, and the rows that hang off them (strategy versions; a run's
  trades, orders, logs and equity; a sweep's trials), through the parent's owner; a row of
  someone else's is simply not there, so the caller answers 404, never 403;
- stamps the viewer as the owner of every strategy, run or sweep it adds.
An admin's scope (`sees_all`) filters nothing but still stamps. An engine without a scope
(the job runner, the sweep runner, the CLI) is the operator's and sees everything.

The filter is SQLAlchemy's `with_loader_criteria` added in `do_orm_execute`, which covers
`select` (also `func.count()` over a table), `Session.get` and ORM `update`/`delete`: crud
functions need no owner argument, and a new crud function is covered without a thought.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import ORMExecuteState, with_loader_criteria
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col

from app.db.models import (
    LogRecord,
    OrderRecordRow,
    RunEquityRecord,
    RunRow,
    StrategyRecord,
    StrategyVersionRecord,
    SweepRow,
    SweepTrialRow,
    TradeRecord,
)

SCOPE_OPTION: Final = "strategylab_owner_scope"
EVERY_OWNER_OPTION: Final = "strategylab_every_owner"
"""An execution option that lifts the filter for one statement (`every_owner()`): for the
few reads that must see across owners, such as "is this dataset name someone else's"."""
OWNED_MODELS: Final = (StrategyRecord, RunRow, SweepRow)
RUN_CHILDREN: Final = (TradeRecord, OrderRecordRow, LogRecord, RunEquityRecord)


@dataclass(frozen=True, slots=True)
class OwnerScope:
    """Whose records a session may reach: `user_id`'s own, or every one when `sees_all`."""

    user_id: int
    sees_all: bool = False


def scoped_engine(engine: Engine, scope: OwnerScope) -> Engine:
    """`engine` (same pool, same connections) whose sessions are confined to `scope`."""
    return engine.execution_options(**{SCOPE_OPTION: scope})


def scope_of(session: OrmSession) -> OwnerScope | None:
    """The scope a session is confined to, or None for the operator's unscoped sessions."""
    bind = session.bind
    if bind is None:
        return None
    found = bind.get_execution_options().get(SCOPE_OPTION)
    return found if isinstance(found, OwnerScope) else None


def every_owner() -> dict[str, Any]:
    """Execution options for one statement that must see across owners (use sparingly)."""
    return {EVERY_OWNER_OPTION: True}


def _criteria(user_id: int) -> list[Any]:
    own_strategies = select(col(StrategyRecord.id)).where(col(StrategyRecord.owner_id) == user_id)
    own_runs = select(col(RunRow.id)).where(col(RunRow.owner_id) == user_id)
    own_sweeps = select(col(SweepRow.id)).where(col(SweepRow.owner_id) == user_id)
    options: list[Any] = [
        with_loader_criteria(
            model, col(model.owner_id) == user_id, include_aliases=True, propagate_to_loaders=True
        )
        for model in OWNED_MODELS
    ]
    options.append(
        with_loader_criteria(
            StrategyVersionRecord, col(StrategyVersionRecord.strategy_id).in_(own_strategies)
        )
    )
    options.extend(
        with_loader_criteria(model, model.run_id.in_(own_runs))  # type: ignore[attr-defined]
        for model in RUN_CHILDREN
    )
    options.append(with_loader_criteria(SweepTrialRow, col(SweepTrialRow.sweep_id).in_(own_sweeps)))
    return options


@event.listens_for(Session, "do_orm_execute")
def _confine_to_owner(state: ORMExecuteState) -> None:
    """Adds the owner criteria to every ORM select, update and delete of a scoped session."""
    scope = scope_of(state.session)
    if scope is None or scope.sees_all or state.execution_options.get(EVERY_OWNER_OPTION):
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(*_criteria(scope.user_id))


@event.listens_for(Session, "before_flush")
def _stamp_owner(session: OrmSession, _context: object, _instances: object) -> None:
    """Makes the viewer the owner of every strategy, run or sweep its session adds."""
    scope = scope_of(session)
    if scope is None:
        return
    for item in session.new:
        if isinstance(item, OWNED_MODELS) and item.owner_id is None:
            item.owner_id = scope.user_id
