"""`strategylab worker`: take runs from Redis and execute them on this machine, in the sandbox."""

from __future__ import annotations

import logging
import os
import socket

import redis
import typer
from pydantic import ValidationError
from sqlalchemy import text

from app.db import make_engine
from app.jobs.queue import WORKER_NICE
from app.jobs.redis_queue import connect
from app.jobs.redis_worker import work
from app.settings import load_settings, settings_problems
from sandbox import lower_thread_priority

EXIT_NOT_CONFIGURED = 2
EXIT_UNREACHABLE = 3


def run_worker(*, name: str | None, burst: bool) -> None:
    """Execute queued runs from STRATEGYLAB_REDIS_URL on this machine, one at a time, each in
    its own sandbox; start one per core. The database (DATABASE_URL) and the dataset store
    (STRATEGYLAB_DATA_DIR) must be the web server's."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings()
    except ValidationError as error:
        for problem in settings_problems(error):
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_NOT_CONFIGURED) from None
    if settings.redis_url is None:
        typer.echo(
            "error: STRATEGYLAB_REDIS_URL is not set: set it to the Redis the web server uses "
            "(e.g. redis://redis-host:6379/0); see docs/deploy.md",
            err=True,
        )
        raise typer.Exit(EXIT_NOT_CONFIGURED)
    connection = connect(settings.redis_url)
    try:
        connection.ping()
    except redis.RedisError as error:
        typer.echo(f"error: cannot reach Redis at {settings.redis_url}: {error}", err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from error
    engine = make_engine(settings.resolved_database_url)
    try:
        with engine.connect() as connection_db:
            connection_db.execute(text("SELECT 1"))
    except Exception as error:
        typer.echo(f"error: cannot reach the database: {error}", err=True)
        raise typer.Exit(EXIT_UNREACHABLE) from error
    finally:
        engine.dispose()
    # Runs are batch work: the whole worker yields the CPU to web nodes on the same machine
    # (its sandboxes are started at this niceness too), as the local pool's threads do.
    lower_thread_priority(WORKER_NICE)
    worker_name = name or f"{socket.gethostname()}-{os.getpid()}"
    connection.close()
    work(settings, name=worker_name, burst=burst)
