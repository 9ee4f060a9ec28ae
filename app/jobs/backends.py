"""The job runner a web node uses: the local process pool, or RQ on Redis when configured."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sqlalchemy import Engine

from app.data.catalog import DatasetCatalog
from app.jobs.owners import run_owner
from app.jobs.progress import ProgressHub
from app.jobs.queue import LocalProcessPool
from app.jobs.redis_queue import JOB_TIMEOUT_MARGIN_S, ClusterJobRunner, connect
from app.jobs.runner import JobRunner
from app.runs import RunService
from app.settings import Settings
from sandbox import WorkerPool


def make_job_runner(
    settings: Settings,
    *,
    engine: Engine,
    catalog: DatasetCatalog,
    hub: ProgressHub,
    pool_factory: Callable[..., WorkerPool] = WorkerPool,
) -> JobRunner:
    """STRATEGYLAB_REDIS_URL set: runs go to `strategylab worker` processes through RQ.
    Unset: `settings.workers` local sandbox workers. Either way owners take turns."""
    service = RunService.from_settings(settings)
    owner_of = run_owner(engine)
    if settings.redis_url is not None:
        return ClusterJobRunner(
            engine=engine,
            catalog=catalog,
            hub=hub,
            service=service,
            connection=connect(settings.redis_url),
            owner_of=owner_of,
            job_timeout_s=settings.max_wall_seconds + JOB_TIMEOUT_MARGIN_S,
        )
    return JobRunner(
        engine=engine,
        catalog=catalog,
        hub=hub,
        workers=settings.workers,
        pool_factory=pool_factory,
        service=service,
        queue_factory=partial(LocalProcessPool, owner_of=owner_of),
    )
