"""The owner filter (app/db/ownership.py): a scoped session reaches only its user's records
and their children, stamps new records with its user, and lets an admin see all; stored
datasets are the claimer's, shared when nobody claimed them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from app.auth.users import create_user
from app.db import RecordNotFoundError, crud, make_engine, migrate, session_scope
from app.db.dataset_owners import claim_dataset, is_dataset_visible, visible_datasets
from app.db.models import LogRecord, StrategyRecord
from app.db.ownership import OwnerScope, scoped_engine
from tests.jobs.fixtures import queued_run

ALICE, BOB = OwnerScope(user_id=1), OwnerScope(user_id=2)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'o.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def test_new_records_belong_to_the_scope_and_others_cannot_reach_them(engine: Engine) -> None:
    with session_scope(scoped_engine(engine, ALICE)) as session:
        strategy, _ = crud.create_strategy(session, name="a", code="x = 1")
        run = crud.create_run(session, run=queued_run("x = 1"))
        session.add(LogRecord(run_id=run.id, seq=0, time=0, bar_index=0, level="info", message="m"))
    assert strategy.owner_id == 1 and run.owner_id == 1 and strategy.id is not None
    with session_scope(scoped_engine(engine, BOB)) as session:
        assert crud.list_strategies(session) == [] and crud.list_runs(session) == []
        with pytest.raises(RecordNotFoundError):
            crud.get_strategy(session, strategy_id=strategy.id)
        with pytest.raises(RecordNotFoundError):
            crud.delete_run(session, run_id=run.id)
        assert crud.count_children(session, model=LogRecord, run_id=run.id) == 0  # children too
        assert not crud.set_run_status(
            session, run_id=run.id, expected=(run.status,), status=run.status
        )
        with pytest.raises(RecordNotFoundError):
            crud.update_strategy(session, strategy_id=strategy.id, name="taken over")
        moved = session.execute(update(StrategyRecord).values(name="x")).rowcount  # type: ignore[attr-defined]
        assert moved == 0  # a bulk update of every strategy reaches none of alice's
    with session_scope(scoped_engine(engine, OwnerScope(user_id=3, sees_all=True))) as session:
        assert [r.id for r in crud.list_runs(session)] == [run.id]
        assert crud.count_children(session, model=LogRecord, run_id=run.id) == 1
    with session_scope(engine) as session:  # the operator's (job runner, CLI): everything
        assert crud.get_run(session, run_id=run.id).owner_id == 1


@dataclass(frozen=True)
class Entry:
    name: str
    source: str
    symbol: str
    timeframe: str


def test_datasets_are_their_claimers_and_unclaimed_ones_shared(engine: Engine) -> None:
    sample = Entry("BTC-1h", "sample", "BTCUSDT", "1h")
    claimed = Entry("ETHUSDT/1h", "store", "ETHUSDT", "1h")
    shared = Entry("SOLUSDT/1h", "store", "SOLUSDT", "1h")
    with session_scope(engine) as session:
        for name in ("alice", "bobby"):  # ids 1 and 2
            create_user(session, username=name, password="long enough password")
    with session_scope(scoped_engine(engine, ALICE)) as session:
        assert claim_dataset(session, key="ETHUSDT/1h", owner_id=1)
    with session_scope(scoped_engine(engine, BOB)) as session:
        assert not claim_dataset(session, key="ETHUSDT/1h", owner_id=2)  # taken
        assert visible_datasets(session, [sample, claimed, shared]) == [sample, shared]
        assert not is_dataset_visible(session, claimed)
    with session_scope(scoped_engine(engine, ALICE)) as session:
        assert visible_datasets(session, [sample, claimed, shared]) == [sample, claimed, shared]
