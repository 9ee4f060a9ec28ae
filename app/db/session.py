"""Database engines and sessions: one engine per app, schema brought up to date by alembic."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024  # the write-ahead log is cut back to this after use
SQLITE_INCREMENTAL_VACUUM = 2  # PRAGMA auto_vacuum's value for INCREMENTAL


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout, and its folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    # Before anything creates a table (it only takes then, or through VACUUM: see
    # `_reclaim_deleted_space`): deleting a run can then shrink the file (crud.delete_run).
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT_BYTES}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    """An alembic config that runs this package's migrations on `engine`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (creates it on an empty database)."""
    command.upgrade(alembic_config(engine), "head")
    _reclaim_deleted_space(engine)
    logger.info("database schema is current url=%s", engine.url.render_as_string())


def _reclaim_deleted_space(engine: Engine) -> None:
    """SQLite: switch a database made before auto_vacuum=INCREMENTAL to it (VACUUM rewrites the
    file once, returning what deleted runs left free) so later deletions shrink the file."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        mode = connection.exec_driver_sql("PRAGMA auto_vacuum").scalar()
        if mode != SQLITE_INCREMENTAL_VACUUM:
            logger.info("sqlite database switched to incremental vacuum url=%s", engine.url)
            connection.exec_driver_sql("PRAGMA auto_vacuum=INCREMENTAL")
            connection.exec_driver_sql("VACUUM")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed when the block succeeds and rolled back when it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
