"""Deleting a run gives its space back: a run of many orders must not leave the database big.

SQLite runs with auto_vacuum=INCREMENTAL and `crud.delete_run` frees the pages in its own
transaction; a database made before that is switched over (VACUUM) when it is migrated.
PostgreSQL deletes the rows (its autovacuum makes the space reusable): the row-count test in
test_crud.py covers it on both.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from app.db import RunRow, RunStatus, crud, make_engine, migrate, session_scope
from app.db.models import OrderRecordRow
from app.engine import RunConfig, RunResult, Strategy, run_backtest
from tests.conftest import build_market


class PlaceAndCancel(Strategy):
    """What the amplification attack did: place orders far from the price and cancel them."""

    params = {"per_bar": 20}  # noqa: RUF012  (the strategy contract)

    def on_data(self, bar: object) -> None:
        close = float(getattr(bar, "close", 100.0))
        for _ in range(int(self.params["per_bar"])):
            ticket = self.buy(0.01, limit=close * 0.5)
            if ticket is not None:
                self.cancel(ticket)
            self.log("placed and cancelled")


@pytest.fixture(scope="module")
def many_orders() -> RunResult:
    closes = [100 + 5 * np.sin(i / 7) for i in range(600)]
    return run_backtest(PlaceAndCancel, build_market(closes), RunConfig())


def _store(engine: Engine, result: RunResult) -> str:
    run_id = uuid.uuid4().hex
    with session_scope(engine) as session:
        crud.create_run(
            session,
            run=RunRow(
                id=run_id,
                status=RunStatus.RUNNING,
                code="class X: pass",
                code_hash=crud.code_hash("class X: pass"),
                dataset="TEST-1h",
                created_at=datetime.now(UTC),
            ),
        )
        assert crud.store_result(session, run_id=run_id, result=result)
    return run_id


def _delete(engine: Engine, run_id: str) -> None:
    with session_scope(engine) as session:
        crud.delete_run(session, run_id=run_id)


def _file_bytes(path: Path) -> int:
    """The database's size on disk, its write-ahead log included."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _pages(path: Path) -> tuple[int, int]:
    """(page_count, freelist_count) read by a separate connection."""
    with closing(sqlite3.connect(path)) as connection:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    return int(pages), int(free)


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    return tmp_path / "space.db"


@pytest.fixture
def empty_schema_bytes(tmp_path: Path) -> int:
    """The size on disk of a database with the schema and nothing in it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(engine)
    engine.dispose()
    return _file_bytes(tmp_path / "empty.db")


SLACK_BYTES = 5 * 4096
"""What a database may keep beyond the empty schema once its runs are deleted: 5 pages."""


def test_cant_keep_a_deleted_runs_space_in_the_sqlite_file(
    sqlite_file: Path, many_orders: RunResult, empty_schema_bytes: int
) -> None:
    assert len(many_orders.orders) == 12_000
    engine = make_engine(f"sqlite:///{sqlite_file}")
    migrate(engine)
    empty_pages, _ = _pages(sqlite_file)
    run_id = _store(engine, many_orders)
    full_pages, _ = _pages(sqlite_file)
    assert full_pages > empty_pages + 300  # the orders and log lines took real space
    _delete(engine, run_id)
    engine.dispose()  # the last connection checkpoints the log into the file
    pages, free = _pages(sqlite_file)
    assert free == 0
    assert pages <= empty_pages + 5
    assert _file_bytes(sqlite_file) <= empty_schema_bytes + SLACK_BYTES


@pytest.mark.slow
def test_cant_keep_space_after_several_runs_are_deleted_one_by_one(
    sqlite_file: Path, many_orders: RunResult
) -> None:
    engine = make_engine(f"sqlite:///{sqlite_file}")
    migrate(engine)
    kept = _store(engine, dataclasses.replace(many_orders, orders=many_orders.orders[:10]))
    kept_pages, _ = _pages(sqlite_file)
    run_ids = [_store(engine, many_orders) for _ in range(2)]
    for run_id in run_ids:
        _delete(engine, run_id)
        assert _pages(sqlite_file)[1] == 0  # each deletion frees its pages at once
    pages, _ = _pages(sqlite_file)
    assert pages <= kept_pages + 5
    with session_scope(engine) as session:  # the run kept is intact
        assert crud.count_children(session, model=OrderRecordRow, run_id=kept) == 10
    engine.dispose()


@pytest.mark.slow
def test_cant_keep_space_in_a_database_made_before_incremental_vacuum(
    sqlite_file: Path, many_orders: RunResult, empty_schema_bytes: int
) -> None:
    engine = make_engine(f"sqlite:///{sqlite_file}")
    migrate(engine)
    run_id = _store(engine, many_orders)
    engine.dispose()
    with closing(sqlite3.connect(sqlite_file, isolation_level=None)) as connection:
        # the database as an older version left it: no auto_vacuum, a deleted run's pages free
        connection.execute("PRAGMA auto_vacuum=NONE")
        connection.execute("VACUUM")
        assert connection.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
        for table in ("trades", "orders", "run_logs", "run_equity"):
            connection.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        connection.execute("DELETE FROM runs WHERE id = ?", (run_id,))
    assert _pages(sqlite_file)[1] > 300
    engine = make_engine(f"sqlite:///{sqlite_file}")
    migrate(engine)  # switches the file to incremental vacuum, giving the free pages back
    engine.dispose()
    with closing(sqlite3.connect(sqlite_file)) as connection:
        assert connection.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert _pages(sqlite_file)[1] == 0
    assert _file_bytes(sqlite_file) <= empty_schema_bytes + SLACK_BYTES


def test_results_are_stored_in_batches_that_read_back_in_order(
    engine: Engine, many_orders: RunResult
) -> None:
    # more rows than one insert batch: every row arrives, in order, on SQLite and PostgreSQL
    assert len(many_orders.orders) > 2 * crud.INSERT_BATCH_ROWS
    run_id = _store(engine, many_orders)
    with session_scope(engine) as session:
        count = crud.count_children(session, model=OrderRecordRow, run_id=run_id)
        assert count == len(many_orders.orders)
        tail = crud.list_orders(session, run_id=run_id, limit=3, offset=count - 3)
        assert [row.order_id for row in tail] == [o.id for o in many_orders.orders[-3:]]
