"""Several web nodes share the sweeps: a running sweep another node holds is never taken up,
one whose node's lease expired is, and only one node at a time can claim a sweep."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from app.data.catalog import DatasetCatalog
from app.db import RunStatus, crud, make_engine, migrate, session_scope
from app.db.models import SweepRow
from app.engine import RunConfig
from app.jobs.redis_keys import lease_key
from app.jobs.redis_queue import connect
from app.jobs.sweep_leases import SweepLeases, lease_id
from app.jobs.sweep_progress import SweepHub
from app.jobs.sweeps import SweepRunner
from app.runs import RunService
from tests.jobs.fixtures import SAMPLE_NAME, make_settings
from tests.jobs.redis_server import ThrowawayRedis


def test_only_sweeps_without_a_live_node_are_taken_up(
    tmp_path: Path, redis_server: ThrowawayRedis
) -> None:
    settings = make_settings(tmp_path)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    connection = connect(redis_server.url)
    leases = SweepLeases(connection)
    ids = [uuid.uuid4().hex for _ in range(2)]
    with session_scope(engine) as session:
        for sweep_id in ids:
            crud.create_sweep(session, sweep=SweepRow(
                id=sweep_id, status=RunStatus.RUNNING, code="x = 1", code_hash="0" * 64,
                dataset=SAMPLE_NAME, study_name="s", config=RunConfig(symbol="T").to_dict(),
                created_at=datetime.now(UTC),
            ))  # fmt: skip
    held, orphan = ids
    assert leases.claim(held) and not leases.claim(held)  # one node at a time
    runner = SweepRunner(
        engine=engine,
        catalog=DatasetCatalog(tmp_path),
        service=RunService.from_settings(settings),
        hub=SweepHub(),
        trial_workers=1,
        leases=leases,
    )
    assert runner._waiting_sweeps() == [orphan]  # its node is gone: queued again
    with session_scope(engine) as session:
        assert crud.get_sweep(session, sweep_id=held).status is RunStatus.RUNNING
    connection.delete(lease_key(lease_id(held)))  # that node went away too
    assert sorted(runner._waiting_sweeps()) == sorted(ids)
    leases.ask_cancel(held)
    assert connection.exists(f"strategylab:cancel:{lease_id(held)}")
    engine.dispose()
