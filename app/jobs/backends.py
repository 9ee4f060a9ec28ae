"""The job runner and sweep runner a web node uses: the local process pool, or RQ on Redis
when configured (runs and sweep trials then execute on `strategylab worker` processes)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sqlalchemy import Engine

from app.data.catalog import DatasetCatalog
from app.jobs.fold_tests import RedisFoldTests
from app.jobs.owners import run_owner
from app.jobs.progress import ProgressHub
from app.jobs.queue import LocalProcessPool
from app.jobs.redis_keys import LeaseTiming
from app.jobs.redis_queue import JOB_TIMEOUT_MARGIN_S, ClusterJobRunner, connect
from app.jobs.redis_sweep_progress import RelayedSweepHub
from app.jobs.remote_trials import RedisSweepTrials
from app.jobs.runner import JobRunner
from app.jobs.sweep_leases import SweepLeases
from app.jobs.sweep_progress import SweepHub
from app.jobs.sweeps import SweepRunner, default_trial_workers
from app.runs import RunService
from app.settings import Settings
from sandbox import WorkerPool

CLUSTER_SWEEP_THREADS = 4
"""Sweeps a web node runs at once when their trials execute on the workers (each thread
only asks, tells and stores; the workers' turns between users share the machines)."""


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
            lease_timing=LeaseTiming.from_settings(settings),
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


def make_sweep_hub(settings: Settings) -> SweepHub:
    """STRATEGYLAB_REDIS_URL set: a hub whose sweeps every web node sees live
    (app.jobs.redis_sweep_progress). Unset: this node's own."""
    if settings.redis_url is not None:
        return RelayedSweepHub(connect(settings.redis_url))
    return SweepHub()


def make_sweep_runner(
    settings: Settings, *, engine: Engine, catalog: DatasetCatalog, hub: SweepHub
) -> SweepRunner:
    """STRATEGYLAB_REDIS_URL set: sweep and walk-forward trials, and the walk-forwards' test
    runs, go to `strategylab worker` processes through RQ, on their owner's queue. Unset: one
    sweep at a time on this machine's sandboxed trial workers."""
    service = RunService.from_settings(settings)
    workers = default_trial_workers(settings.workers)
    if settings.redis_url is not None:
        connection = connect(settings.redis_url)
        job_timeout_s = settings.max_wall_seconds + JOB_TIMEOUT_MARGIN_S
        trials = RedisSweepTrials(connection, job_timeout_s=job_timeout_s)
        return SweepRunner(
            engine=engine,
            catalog=catalog,
            service=service,
            hub=hub,
            trial_workers=workers,
            trials=trials,
            tests=RedisFoldTests(connection, job_timeout_s=job_timeout_s),
            sweep_threads=CLUSTER_SWEEP_THREADS,
            leases=SweepLeases(connection, LeaseTiming.from_settings(settings)),
        )
    return SweepRunner(
        engine=engine, catalog=catalog, service=service, hub=hub, trial_workers=workers
    )
