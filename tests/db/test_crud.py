"""The persistence suite: runs against SQLite and a real throwaway PostgreSQL server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

from app.db import RecordNotFoundError, RunRow, RunStatus, crud, session_scope
from app.db.migrations import VERSION_TABLE
from app.db.models import LogRecord, OrderRecordRow, RunEquityRecord, TradeRecord
from app.engine import RunConfig, RunResult, Strategy, run_backtest
from tests.conftest import build_market


class Flipper(Strategy):
    params = {"every": 5}  # noqa: RUF012  (the strategy contract)

    def on_data(self, bar: object) -> None:
        index = getattr(bar, "index", 0)
        if index % self.params["every"] == 0:
            self.close_position()
            self.buy(0.1) if (index // self.params["every"]) % 2 else self.sell(0.1, leverage=2)
            self.log(f"flip at {index}")


@pytest.fixture(scope="module")
def result() -> RunResult:
    closes = [100 + 5 * np.sin(i / 7) for i in range(300)]
    return run_backtest(Flipper, build_market(closes), RunConfig())


def new_run(status: RunStatus = RunStatus.QUEUED) -> RunRow:
    return RunRow(
        id=uuid.uuid4().hex,
        status=status,
        code="class X: pass",
        code_hash=crud.code_hash("class X: pass"),
        params={"every": 5},
        dataset="TEST-1h",
        config={"cash": 10_000.0},
        created_at=datetime.now(UTC),
    )


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, SQLModel.metadata) == []
    assert VERSION_TABLE in inspect(engine).get_table_names()


def test_every_save_keeps_the_previous_version(engine: Engine) -> None:
    with session_scope(engine) as session:
        strategy, first = crud.create_strategy(session, name="a", code="v1")
        strategy_id = strategy.id
    assert strategy_id is not None and first.version == 1
    with session_scope(engine) as session:
        crud.update_strategy(session, strategy_id=strategy_id, code="v2")
        crud.update_strategy(session, strategy_id=strategy_id, name="renamed")
    with session_scope(engine) as session:
        versions = crud.list_strategy_versions(session, strategy_id=strategy_id)
        assert [(v.version, v.code) for v in versions] == [(1, "v1"), (2, "v2")]
        current = crud.get_strategy_version(session, strategy_id=strategy_id)
        assert current.code == "v2"
        assert crud.get_strategy(session, strategy_id=strategy_id).name == "renamed"
        assert crud.get_strategy(session, strategy_id=strategy_id).created_at.tzinfo is UTC


def test_deleting_a_strategy_removes_its_versions(engine: Engine) -> None:
    with session_scope(engine) as session:
        strategy, _ = crud.create_strategy(session, name="a", code="v1")
        assert strategy.id is not None
        crud.delete_strategy(session, strategy_id=strategy.id)
    with session_scope(engine) as session, pytest.raises(RecordNotFoundError):
        crud.get_strategy_version(session, strategy_id=strategy.id)


def test_status_moves_only_from_the_expected_states(engine: Engine) -> None:
    run = new_run()
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    with session_scope(engine) as session:
        moved = crud.set_run_status(
            session, run_id=run.id, expected=(RunStatus.QUEUED,), status=RunStatus.RUNNING
        )
        again = crud.set_run_status(
            session, run_id=run.id, expected=(RunStatus.QUEUED,), status=RunStatus.CANCELLED
        )
    assert (moved, again) == (True, False)
    with session_scope(engine) as session:
        assert crud.get_run(session, run_id=run.id).status is RunStatus.RUNNING


def test_results_are_written_in_one_transaction(engine: Engine, result: RunResult) -> None:
    run = new_run(RunStatus.RUNNING)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        assert crud.store_result(session, run_id=run.id, result=result)
        raise RuntimeError("crash before commit")
    with session_scope(engine) as session:
        assert crud.get_run(session, run_id=run.id).status is RunStatus.RUNNING
        for model in (TradeRecord, OrderRecordRow, LogRecord, RunEquityRecord):
            assert crud.count_children(session, model=model, run_id=run.id) == 0


def test_a_stored_result_reads_back_exactly(engine: Engine, result: RunResult) -> None:
    run = new_run(RunStatus.RUNNING)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    with session_scope(engine) as session:
        assert crud.store_result(session, run_id=run.id, result=result)
    with session_scope(engine) as session:
        stored = crud.get_run(session, run_id=run.id)
        assert stored.status is RunStatus.DONE and stored.pct == 100.0
        assert stored.metrics is not None
        assert stored.metrics["trades"] == result.metrics["trades"]
        trades = crud.list_trades(session, run_id=run.id, limit=10_000)
        assert len(trades) == len(result.trades) > 10
        assert trades[3].pnl == result.trades[3].pnl
        assert trades[3].side == result.trades[3].side.value
        orders = crud.list_orders(session, run_id=run.id, limit=10_000)
        assert len(orders) == len(result.orders)
        logs = crud.list_logs(session, run_id=run.id, limit=5, offset=1)
        assert [line.message for line in logs] == [line.message for line in result.logs[1:6]]
        equity = crud.get_equity(session, run_id=run.id)
    assert equity is not None
    np.testing.assert_array_equal(equity.time, result.equity.time)
    np.testing.assert_array_equal(equity.equity, result.equity.equity)
    np.testing.assert_array_equal(equity.position, result.equity.position)


def test_a_cancelled_run_gets_no_results(engine: Engine, result: RunResult) -> None:
    run = new_run(RunStatus.CANCELLED)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
        assert not crud.store_result(session, run_id=run.id, result=result)
        assert crud.get_equity(session, run_id=run.id) is None


def test_deleting_a_run_removes_everything_it_produced(engine: Engine, result: RunResult) -> None:
    run = new_run(RunStatus.RUNNING)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
        crud.store_result(session, run_id=run.id, result=result)
    with session_scope(engine) as session:
        crud.delete_run(session, run_id=run.id)
    with session_scope(engine) as session:
        for model in (TradeRecord, OrderRecordRow, LogRecord, RunEquityRecord):
            assert crud.count_children(session, model=model, run_id=run.id) == 0
        with pytest.raises(RecordNotFoundError):
            crud.get_run(session, run_id=run.id)


def test_runs_list_newest_first_and_filter_by_status(engine: Engine) -> None:
    runs = [new_run(), new_run(RunStatus.DONE), new_run()]
    for offset, run in enumerate(runs):
        run.created_at = datetime(2024, 1, 1 + offset, tzinfo=UTC)
    with session_scope(engine) as session:
        for run in runs:
            crud.create_run(session, run=run)
    with session_scope(engine) as session:
        listed = crud.list_runs(session)
        assert [r.id for r in listed] == [runs[2].id, runs[1].id, runs[0].id]
        done = crud.list_runs(session, statuses=(RunStatus.DONE,))
        assert [r.id for r in done] == [runs[1].id]
        assert listed[0].created_at == datetime(2024, 1, 3, tzinfo=UTC)


def test_progress_is_recorded_only_while_running(engine: Engine) -> None:
    run = new_run(RunStatus.RUNNING)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    with session_scope(engine) as session:
        crud.set_run_progress(session, run_id=run.id, bars_done=25, bars_total=100)
    with session_scope(engine) as session:
        stored = crud.get_run(session, run_id=run.id)
        assert (stored.bars_done, stored.pct) == (25, 25.0)


def test_non_finite_metrics_are_stored_as_null() -> None:
    assert crud.json_safe({"a": float("nan"), "b": float("inf"), "c": 1.5}) == {
        "a": None,
        "b": None,
        "c": 1.5,
    }
