"""A web node (or worker) outlives a PostgreSQL restart: pooled connections are checked before
use (pool_pre_ping), so the first request after the restart works, no error reaches a user."""

from __future__ import annotations

import subprocess

import pytest
from sqlmodel import select

from app.db import RunRow, make_engine, migrate, session_scope
from tests.db.pg_cluster import ThrowawayCluster


@pytest.mark.slow
def test_the_engine_reconnects_after_a_postgresql_restart(pg_cluster: ThrowawayCluster) -> None:
    name, url = pg_cluster.create_database()
    engine = make_engine(url)
    try:
        migrate(engine)
        with session_scope(engine) as session:  # a pooled connection now exists
            assert session.exec(select(RunRow)).all() == []
        pg_ctl = [str(pg_cluster.bindir / "pg_ctl"), "-D", str(pg_cluster.data)]
        subprocess.run(
            [
                *pg_cluster._as_user,
                *pg_ctl,
                "-l",
                str(pg_cluster.root / "server.log"),
                "-m",
                "immediate",
                "-w",
                "restart",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )  # every connection of the pool is now dead
        with session_scope(engine) as session:
            assert session.exec(select(RunRow)).all() == []
    finally:
        engine.dispose()
        pg_cluster.drop_database(name)
