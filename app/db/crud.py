"""Reads and writes of stored records; every function takes the session and keyword arguments.

Callers own the transaction (see `app.db.session.session_scope`): a function that writes
several rows (`store_result`) does so in the caller's one transaction.

Every query here goes through the owner filter of `app.db.ownership`: on a session of a
request's engine, strategies, runs, sweeps and their rows are confined to that user's (another
user's record is not found), and new ones are stamped with the user, with no owner argument.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, func, insert, update
from sqlmodel import Session, SQLModel, col, select

from app.db.arrays import pack_float64, pack_int64, unpack_float64, unpack_int64
from app.db.errors import RecordNotFoundError
from app.db.models import (
    LogRecord,
    OrderRecordRow,
    RunEquityRecord,
    RunRow,
    RunStatus,
    StrategyRecord,
    StrategyVersionRecord,
    SweepRow,
    SweepTrialRow,
    TradeRecord,
    utc_now,
)
from app.engine import RunResult

INSERT_BATCH_ROWS: Final = 5_000


def code_hash(code: str) -> str:
    """sha256 hex of the UTF-8 source: equal code, equal hash."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def json_safe(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with non-finite floats replaced by None (JSON and PostgreSQL refuse NaN)."""
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in values.items()
    }


# -- strategies -------------------------------------------------------------------------------


def create_strategy(
    session: Session, *, name: str, code: str
) -> tuple[StrategyRecord, StrategyVersionRecord]:
    """A new strategy with its first version."""
    now = utc_now()
    strategy = StrategyRecord(name=name, current_version=1, created_at=now, updated_at=now)
    session.add(strategy)
    session.flush()
    version = _add_version(session, strategy=strategy, code=code)
    return strategy, version


def _add_version(session: Session, *, strategy: StrategyRecord, code: str) -> StrategyVersionRecord:
    if strategy.id is None:
        raise ValueError("the strategy must be flushed before versions are added")
    version = StrategyVersionRecord(
        strategy_id=strategy.id,
        version=strategy.current_version,
        code=code,
        code_hash=code_hash(code),
        created_at=strategy.updated_at,
    )
    session.add(version)
    session.flush()
    return version


def list_strategies(session: Session) -> Sequence[StrategyRecord]:
    """Every strategy, most recently saved first."""
    query = select(StrategyRecord).order_by(
        col(StrategyRecord.updated_at).desc(), col(StrategyRecord.id).desc()
    )
    return session.exec(query).all()


def get_strategy(session: Session, *, strategy_id: int) -> StrategyRecord:
    """The strategy, or RecordNotFoundError."""
    strategy = session.get(StrategyRecord, strategy_id)
    if strategy is None:
        raise RecordNotFoundError("strategy", strategy_id)
    return strategy


def get_strategy_version(
    session: Session, *, strategy_id: int, version: int | None = None
) -> StrategyVersionRecord:
    """One version of a strategy (its current one when `version` is None)."""
    strategy = get_strategy(session, strategy_id=strategy_id)
    wanted = strategy.current_version if version is None else version
    query = select(StrategyVersionRecord).where(
        col(StrategyVersionRecord.strategy_id) == strategy_id,
        col(StrategyVersionRecord.version) == wanted,
    )
    found = session.exec(query).first()
    if found is None:
        raise RecordNotFoundError("strategy version", f"{strategy_id}@{wanted}")
    return found


def list_strategy_versions(
    session: Session, *, strategy_id: int
) -> Sequence[StrategyVersionRecord]:
    """Every saved version of a strategy, oldest first."""
    get_strategy(session, strategy_id=strategy_id)
    query = (
        select(StrategyVersionRecord)
        .where(col(StrategyVersionRecord.strategy_id) == strategy_id)
        .order_by(col(StrategyVersionRecord.version))
    )
    return session.exec(query).all()


def update_strategy(
    session: Session, *, strategy_id: int, name: str | None = None, code: str | None = None
) -> tuple[StrategyRecord, StrategyVersionRecord]:
    """Rename and/or save new code; saving code always adds a version (the old ones stay)."""
    strategy = get_strategy(session, strategy_id=strategy_id)
    strategy.updated_at = utc_now()
    if name is not None:
        strategy.name = name
    if code is not None:
        strategy.current_version += 1
        session.add(strategy)
        session.flush()
        return strategy, _add_version(session, strategy=strategy, code=code)
    session.add(strategy)
    session.flush()
    return strategy, get_strategy_version(session, strategy_id=strategy_id)


def delete_strategy(session: Session, *, strategy_id: int) -> None:
    """Delete a strategy and its versions; runs keep their own copy of the code."""
    get_strategy(session, strategy_id=strategy_id)
    session.execute(
        delete(StrategyVersionRecord).where(col(StrategyVersionRecord.strategy_id) == strategy_id)
    )
    session.execute(delete(StrategyRecord).where(col(StrategyRecord.id) == strategy_id))


# -- runs -------------------------------------------------------------------------------------


def create_run(session: Session, *, run: RunRow) -> RunRow:
    """Store a new (queued) run."""
    run.created_at = run.created_at or utc_now()
    session.add(run)
    session.flush()
    return run


def get_run(session: Session, *, run_id: str) -> RunRow:
    """The run, or RecordNotFoundError."""
    run = session.get(RunRow, run_id)
    if run is None:
        raise RecordNotFoundError("run", run_id)
    return run


def list_runs(
    session: Session,
    *,
    statuses: Collection[RunStatus] = (),
    strategy_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[RunRow]:
    """Runs, newest first, optionally only in some statuses or of one strategy."""
    query = select(RunRow)
    if statuses:
        query = query.where(col(RunRow.status).in_([s.value for s in statuses]))
    if strategy_id is not None:
        query = query.where(col(RunRow.strategy_id) == strategy_id)
    query = query.order_by(col(RunRow.created_at).desc(), col(RunRow.id)).offset(offset)
    return session.exec(query.limit(limit)).all()


def set_run_status(
    session: Session,
    *,
    run_id: str,
    expected: Collection[RunStatus],
    status: RunStatus,
    values: dict[str, Any] | None = None,
    attempt: int | None = None,
) -> bool:
    """Move a run to `status` only if it is in one of `expected` (atomic); True if it moved.
    With `attempt`, only while that is still the run's attempt (`start_run`): a worker whose
    attempt was replaced (its lease lapsed and the run was queued again) moves nothing."""
    statement = (
        update(RunRow)
        .where(col(RunRow.id) == run_id)
        .where(col(RunRow.status).in_([s.value for s in expected]))
    )
    if attempt is not None:
        statement = statement.where(col(RunRow.attempt) == attempt)
    moved = session.execute(statement.values(status=status.value, **(values or {}))).rowcount  # type: ignore[attr-defined]
    return bool(moved)


def start_run(session: Session, *, run_id: str, values: dict[str, Any]) -> int | None:
    """Move a queued run to running as its next attempt (atomic); the attempt's number (1,
    then 2 after a lost worker...), or None when the run was not queued. Every later write of
    that attempt names the number, so only the newest attempt can end the run."""
    statement = (
        update(RunRow)
        .where(col(RunRow.id) == run_id)
        .where(col(RunRow.status) == RunStatus.QUEUED.value)
        .values(status=RunStatus.RUNNING.value, attempt=col(RunRow.attempt) + 1, **values)
    )
    if not session.execute(statement).rowcount:  # type: ignore[attr-defined]
        return None
    return run_attempt(session, run_id=run_id)


def run_attempt(session: Session, *, run_id: str) -> int | None:
    """The run's current attempt number (None when the run is gone)."""
    return session.exec(select(RunRow.attempt).where(RunRow.id == run_id)).first()


def is_attempt_replaced(session: Session, *, run_id: str, attempt: int) -> bool:
    """True when attempt `attempt` no longer owns the run: a later attempt started it, or it
    was queued again for one (its worker was found lost). A run that ended (done, failed,
    cancelled) with this attempt, or is gone, is not replaced."""
    row = session.exec(select(RunRow.attempt, RunRow.status).where(RunRow.id == run_id)).first()
    if row is None:
        return False
    current, status = row
    return current != attempt or status is RunStatus.QUEUED


def set_run_progress(
    session: Session,
    *,
    run_id: str,
    bars_done: int,
    bars_total: int,
    attempt: int | None = None,
) -> bool:
    """Record how far a running run has got (ignored once it has finished, or, with
    `attempt`, once that attempt was replaced); True when it was recorded."""
    pct = 100.0 * bars_done / bars_total if bars_total else 0.0
    statement = (
        update(RunRow)
        .where(col(RunRow.id) == run_id)
        .where(col(RunRow.status) == RunStatus.RUNNING.value)
    )
    if attempt is not None:
        statement = statement.where(col(RunRow.attempt) == attempt)
    done = statement.values(bars_done=bars_done, bars_total=bars_total, pct=pct)
    return bool(session.execute(done).rowcount)  # type: ignore[attr-defined]


def store_result(
    session: Session, *, run_id: str, result: RunResult, attempt: int | None = None
) -> bool:
    """Write a finished run's results and mark it done, in the caller's one transaction.

    Returns False (writing nothing) when the run is no longer running, e.g. it was cancelled,
    or, with `attempt`, when that attempt was replaced by a newer one.
    """
    values = {
        "metrics": json_safe(dict(result.metrics)),
        "logs_dropped": result.logs_dropped,
        "bars_done": result.bars_total,
        "bars_total": result.bars_total,
        "pct": 100.0,
        "finished_at": utc_now(),
        "error": None,
    }
    moved = set_run_status(
        session,
        run_id=run_id,
        expected=(RunStatus.RUNNING,),
        status=RunStatus.DONE,
        values=values,
        attempt=attempt,
    )
    if not moved:
        return False
    curve = result.equity
    session.add(
        RunEquityRecord(
            run_id=run_id,
            points=len(curve.time),
            time=pack_int64(curve.time),
            equity=pack_float64(curve.equity),
            position=pack_float64(curve.position),
        )
    )
    rows: list[tuple[type[SQLModel], Iterator[dict[str, Any]]]] = [
        (TradeRecord, _trade_rows(run_id, result)),
        (OrderRecordRow, _order_rows(run_id, result)),
        (LogRecord, _log_rows(run_id, result)),
    ]
    for model, table_rows in rows:
        # executemany per batch, without ORM objects: a batch's dicts are all that is built
        # at once (a list of every row's dict cost the server ~1.5 KB per order)
        for batch in itertools.batched(table_rows, INSERT_BATCH_ROWS):
            session.execute(insert(model), list(batch))
    session.flush()
    return True


def _trade_rows(run_id: str, result: RunResult) -> Iterator[dict[str, Any]]:
    return (
        {
            "run_id": run_id,
            "seq": seq,
            "entry_time": trade.entry_time,
            "exit_time": trade.exit_time,
            "entry_index": trade.entry_index,
            "exit_index": trade.exit_index,
            "side": trade.side.value,
            "size": trade.size,
            "entry_price": trade.entry_price,
            "exit_price": trade.exit_price,
            "pnl": trade.pnl,
            "fees": trade.fees,
            "exit_reason": trade.exit_reason.value,
        }
        for seq, trade in enumerate(result.trades)
    )


def _log_rows(run_id: str, result: RunResult) -> Iterator[dict[str, Any]]:
    return (
        {
            "run_id": run_id,
            "seq": seq,
            "time": line.time,
            "bar_index": line.bar_index,
            "level": line.level.value,
            "message": line.message,
        }
        for seq, line in enumerate(result.logs)
    )


def _order_rows(run_id: str, result: RunResult) -> Iterator[dict[str, Any]]:
    return (
        {
            "run_id": run_id,
            "order_id": order.id,
            "created_time": order.created_time,
            "created_index": order.created_index,
            "side": order.side.value,
            "type": order.type.value,
            "amount": order.amount,
            "limit_price": order.limit_price,
            "stop_price": order.stop_price,
            "leverage": order.leverage,
            "stop_loss": order.stop_loss,
            "take_profit": order.take_profit,
            "status": order.status.value,
            "filled_time": order.filled_time,
            "filled_price": order.filled_price,
            "filled_amount": order.filled_amount,
            "fee": order.fee,
            "reason": order.reason,
        }
        for order in result.orders
    )


def list_trades(
    session: Session, *, run_id: str, limit: int, offset: int = 0
) -> Sequence[TradeRecord]:
    """A run's trades in the order they closed."""
    return _children(session, TradeRecord, run_id, col(TradeRecord.seq), limit, offset)


def list_orders(
    session: Session, *, run_id: str, limit: int, offset: int = 0
) -> Sequence[OrderRecordRow]:
    """A run's orders by id."""
    return _children(session, OrderRecordRow, run_id, col(OrderRecordRow.order_id), limit, offset)


def list_logs(session: Session, *, run_id: str, limit: int, offset: int = 0) -> Sequence[LogRecord]:
    """A run's log lines in the order they were written."""
    return _children(session, LogRecord, run_id, col(LogRecord.seq), limit, offset)


def _children[Row: SQLModel](
    session: Session, model: type[Row], run_id: str, order: Any, limit: int, offset: int
) -> Sequence[Row]:
    get_run(session, run_id=run_id)
    run_column = _run_column(model)
    query = select(model).where(run_column == run_id).order_by(order)
    return session.exec(query.offset(offset).limit(limit)).all()


def count_children(session: Session, *, model: type[SQLModel], run_id: str) -> int:
    """How many rows of `model` belong to the run."""
    run_column = _run_column(model)
    query = select(func.count()).select_from(model).where(run_column == run_id)
    return int(session.exec(query).one())


def _run_column(model: type[SQLModel]) -> Any:
    """The `run_id` column of a child table."""
    return model.__table__.c.run_id  # type: ignore[attr-defined]  # set by table=True


@dataclass(frozen=True, slots=True)
class EquityArrays:
    """A stored equity curve: bar times (epoch ns), equity and signed position per bar."""

    time: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    position: npt.NDArray[np.float64]


def get_equity(session: Session, *, run_id: str) -> EquityArrays | None:
    """The run's equity curve, or None while it has none (not finished, failed, cancelled)."""
    get_run(session, run_id=run_id)
    record = session.get(RunEquityRecord, run_id)
    if record is None:
        return None
    return EquityArrays(
        time=unpack_int64(record.time),
        equity=unpack_float64(record.equity),
        position=unpack_float64(record.position),
    )


def delete_run(session: Session, *, run_id: str) -> None:
    """Delete a run and everything it produced, and give the space back (see
    `reclaim_free_pages`)."""
    get_run(session, run_id=run_id)
    for model in (TradeRecord, OrderRecordRow, LogRecord, RunEquityRecord):
        run_column = _run_column(model)
        session.execute(delete(model).where(run_column == run_id))
    session.execute(delete(RunRow).where(col(RunRow.id) == run_id))
    reclaim_free_pages(session)


def reclaim_free_pages(session: Session) -> None:
    """SQLite: return the pages deleted rows left free to the file system, in the caller's
    transaction (the file shrinks when it commits).

    The database runs with auto_vacuum=INCREMENTAL (app.db.session), so a run of a million
    orders no longer leaves its hundreds of MB in the file after it is deleted. PostgreSQL
    needs nothing here: its autovacuum makes deleted rows' space reusable by later runs.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    cursor = connection.connection.cursor()
    try:
        cursor.execute("PRAGMA incremental_vacuum")
        cursor.fetchall()  # each step frees one page: run the statement to its end
    finally:
        cursor.close()


# -- sweeps -----------------------------------------------------------------------------------


def create_sweep(session: Session, *, sweep: SweepRow) -> SweepRow:
    """Store a new (queued) sweep."""
    sweep.created_at = sweep.created_at or utc_now()
    session.add(sweep)
    session.flush()
    return sweep


def get_sweep(session: Session, *, sweep_id: str) -> SweepRow:
    """The sweep, or RecordNotFoundError."""
    sweep = session.get(SweepRow, sweep_id)
    if sweep is None:
        raise RecordNotFoundError("sweep", sweep_id)
    return sweep


def list_sweeps(
    session: Session,
    *,
    statuses: Collection[RunStatus] = (),
    kind: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[SweepRow]:
    """Sweeps, newest first, optionally only in some statuses or of one kind."""
    query = select(SweepRow)
    if statuses:
        query = query.where(col(SweepRow.status).in_([s.value for s in statuses]))
    if kind is not None:
        query = query.where(col(SweepRow.kind) == kind)
    query = query.order_by(col(SweepRow.created_at).desc(), col(SweepRow.id)).offset(offset)
    return session.exec(query.limit(limit)).all()


def set_sweep_status(
    session: Session,
    *,
    sweep_id: str,
    expected: Collection[RunStatus],
    status: RunStatus,
    values: dict[str, Any] | None = None,
) -> bool:
    """Move a sweep to `status` only if it is in one of `expected` (atomic); True if it moved."""
    statement = (
        update(SweepRow)
        .where(col(SweepRow.id) == sweep_id)
        .where(col(SweepRow.status).in_([s.value for s in expected]))
        .values(status=status.value, **(values or {}))
    )
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def set_sweep_progress(
    session: Session,
    *,
    sweep_id: str,
    trials_done: int,
    trials_total: int | None,
    trials_per_s: float,
    eta_s: float | None,
    best: list[dict[str, Any]] | None,
) -> None:
    """Record how far a running sweep has got (ignored once it has finished)."""
    session.execute(
        update(SweepRow)
        .where(col(SweepRow.id) == sweep_id)
        .where(col(SweepRow.status) == RunStatus.RUNNING.value)
        .values(
            trials_done=trials_done,
            trials_total=trials_total,
            trials_per_s=trials_per_s,
            eta_s=eta_s,
            best=best,
        )
    )


def add_sweep_trials(session: Session, *, sweep_id: str, trials: Sequence[SweepTrialRow]) -> int:
    """Store the trials whose number the sweep does not have yet; returns how many were new.

    A trial reported twice (a resumed sweep reports what it had already done) is stored once.
    """
    if not trials:
        return 0
    numbers = [trial.number for trial in trials]
    query = select(SweepTrialRow.number).where(
        col(SweepTrialRow.sweep_id) == sweep_id, col(SweepTrialRow.number).in_(numbers)
    )
    known = set(session.exec(query).all())
    fresh = {trial.number: trial for trial in trials if trial.number not in known}
    for trial in fresh.values():
        trial.sweep_id = sweep_id
        session.add(trial)
    session.flush()
    return len(fresh)


def list_sweep_trials(
    session: Session, *, sweep_id: str, limit: int, offset: int = 0
) -> Sequence[SweepTrialRow]:
    """A sweep's stored trials by trial number."""
    get_sweep(session, sweep_id=sweep_id)
    query = (
        select(SweepTrialRow)
        .where(col(SweepTrialRow.sweep_id) == sweep_id)
        .order_by(col(SweepTrialRow.number))
    )
    return session.exec(query.offset(offset).limit(limit)).all()


def count_sweep_trials(session: Session, *, sweep_id: str) -> int:
    """How many trials of the sweep are stored."""
    query = (
        select(func.count())
        .select_from(SweepTrialRow)
        .where(col(SweepTrialRow.sweep_id) == sweep_id)
    )
    return int(session.exec(query).one())


def get_sweep_trial(session: Session, *, sweep_id: str, number: int) -> SweepTrialRow:
    """One stored trial of a sweep, or RecordNotFoundError."""
    get_sweep(session, sweep_id=sweep_id)
    query = select(SweepTrialRow).where(
        col(SweepTrialRow.sweep_id) == sweep_id, col(SweepTrialRow.number) == number
    )
    found = session.exec(query).first()
    if found is None:
        raise RecordNotFoundError("trial", f"{sweep_id}#{number}")
    return found


def delete_sweep(session: Session, *, sweep_id: str) -> None:
    """Delete a sweep and its trials (its Optuna study is the caller's to delete)."""
    get_sweep(session, sweep_id=sweep_id)
    session.execute(delete(SweepTrialRow).where(col(SweepTrialRow.sweep_id) == sweep_id))
    session.execute(delete(SweepRow).where(col(SweepRow.id) == sweep_id))
    reclaim_free_pages(session)
