"""One sweep trial executed by a `strategylab worker`: the RQ job function of a trial.

The web node running a sweep puts each trial of a batch on the sweep owner's RQ queue (the
same queues as runs, so owners take turns: app.jobs.redis_worker) as a TrialJob
(app.jobs.trial_codec). A worker takes it and, in order:
1. skips it when the trial's outcome is already on Redis (a trial is never run twice: a
   restarted web node submits the trials of its open batch again), or when its attempt is no
   longer the trial's current one (the web node queued it again meanwhile);
2. holds the trial's lease while it runs, the attempt's number as its token (renewed by the
   worker's lease keeper; a worker killed with SIGKILL loses it, and the web node retries the
   trial once on another worker) and watches its cancel flag (the sweep was cancelled, or a
   newer attempt took the lease: the trial's sandbox is killed);
3. rebuilds the base run from the job: the code, the dataset from the shared store refused
   unless its bytes have the hash the sweep recorded (app.jobs.verified_data), the config;
4. runs the trial exactly as the web node's TrialRunner would (app.runs.trials: a fresh
   confined sandbox child, the run's limits, shared indicators), keeping the base's runner
   for the next trial of the same study (app.jobs.trial_bases);
5. stores the outcome (a TrialRun or a TrialFailed with its sentence) on Redis for the web
   node, which tells the study in trial order: only while its attempt is the current one
   and no outcome is stored yet (one atomic script), so a trial's outcome is counted once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

import redis

from app.data.errors import DataError
from app.jobs.redis_job import CURRENT_CONTEXT, WorkerContext, serving
from app.jobs.redis_keys import (
    TRIAL_RESULT_TTL_S,
    cancel_key,
    lost_key,
    trial_lease_id,
    trial_result_key,
)
from app.jobs.trial_codec import TrialJob, encode_outcome
from app.runs import PreparedRun, RunService
from app.runs.errors import InvalidRunRequestError
from app.runs.trials import TrialFailed, TrialOutcome
from app.settings import load_settings
from sandbox import ForkServerError, SandboxError

logger = logging.getLogger(__name__)

STORE_SCRIPT: Final = """
if tonumber(redis.call('get', KEYS[2]) or '0') + 1 ~= tonumber(ARGV[1]) then return 0 end
return redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3], 'NX') and 1 or 0
"""
"""Store outcome ARGV[2] at KEYS[1] (TTL ARGV[3]) only if attempt ARGV[1] is the trial's
current one (lost-worker counter KEYS[2] + 1) and no outcome is stored yet."""


def current_attempt(connection: redis.Redis, key: str) -> int:
    """The attempt trial `key` is on: 1, plus one per lost worker (app.jobs.remote_trials)."""
    return int(connection.get(lost_key(trial_lease_id(key))) or 0) + 1


def store_outcome(
    connection: redis.Redis, job: TrialJob, attempt: int, outcome: bytes | str
) -> bool:
    """Store a trial's encoded outcome for its web node; False (nothing stored) when the
    attempt was replaced or another attempt's outcome is stored already."""
    keys = (trial_result_key(job.key), lost_key(trial_lease_id(job.key)))
    return bool(connection.eval(STORE_SCRIPT, 2, *keys, attempt, outcome, TRIAL_RESULT_TTL_S))


OutcomeMaker = Callable[[TrialJob, WorkerContext, threading.Event], bytes | None]
"""Runs a trial job on this worker and encodes its outcome; None: cancelled (`stop` set)."""


def encoded_trial(job: TrialJob, context: WorkerContext, stop: threading.Event) -> bytes | None:
    """A sweep trial's outcome, encoded (app.jobs.trial_codec); None when cancelled."""
    outcome = _run(job, context, stop)
    return encode_outcome(outcome) if outcome is not None else None


def execute_trial(
    job: TrialJob,
    context: WorkerContext,
    attempt: int = 1,
    *,
    outcome_of: OutcomeMaker = encoded_trial,
) -> None:
    """Run attempt `attempt` of one trial on this worker and store its outcome (see the
    module docstring). `outcome_of` runs it: a sweep trial, or a walk-forward fold's test
    run (app.jobs.fold_test_job), which go through the same steps."""
    connection = context.connection
    if connection.exists(trial_result_key(job.key)):
        logger.info("trial already finished; job dropped trial=%s", job.key[:12])
        return
    if current_attempt(connection, job.key) != attempt:
        _log_stale(job, attempt)
        return
    stop = threading.Event()
    if connection.exists(cancel_key(trial_lease_id(job.key))):
        return  # cancelled before it started
    lease = context.lease(trial_lease_id(job.key), attempt, stop)
    with lease:
        logger.info("trial started trial=%s attempt=%d owner=%s", job.key[:12], attempt, job.owner)
        outcome = outcome_of(job, context, stop)
        if lease.is_replaced:
            _log_stale(job, attempt)
            return
        if outcome is None:
            logger.info("trial cancelled trial=%s", job.key[:12])
            return
        if not store_outcome(connection, job, attempt, outcome):
            _log_stale(job, attempt)
            return
    logger.info("trial finished trial=%s attempt=%d", job.key[:12], attempt)


def _log_stale(job: TrialJob, attempt: int) -> None:
    logger.warning(
        "stale attempt dropped: the trial was queued again after this worker's lease lapsed "
        "(or its outcome is stored already) trial=%s attempt=%d",
        job.key[:12],
        attempt,
    )


def _run(job: TrialJob, context: WorkerContext, stop: threading.Event) -> TrialOutcome | None:
    """The trial's outcome; None when cancelled. A base that cannot be rebuilt here (the
    dataset's bytes differ, the code is refused) fails the trial with its sentence."""

    def prepare() -> PreparedRun:
        from app.jobs.verified_data import VerifiedCatalog

        service = RunService.from_settings(context.settings)
        catalog = VerifiedCatalog(context.settings.data_dir, expected_hash=job.dataset_hash)
        return service.prepare_stored(
            code=job.code, dataset=job.dataset, config_data=job.config, catalog=catalog
        )

    try:
        runner = context.trials.runner_for(job.base_key, prepare)
        return runner.run_batch([job.params], cancel=stop)[0]
    except (DataError, SandboxError, ForkServerError, InvalidRunRequestError) as error:
        return TrialFailed(dict(job.params), " ".join(str(error).split()))
    except (OSError, ValueError) as error:  # no process left for a fork server; a bad config
        logger.warning("trial could not start trial=%s: %s", job.key[:12], error)
        return TrialFailed(dict(job.params), f"the trial could not start on a worker: {error}")


def run_trial(payload: dict[str, Any], attempt: int = 1) -> None:
    """RQ's entry point (by name, app.jobs.redis_keys.TRIAL_FUNCTION): run attempt `attempt`
    of the trial with the worker's context, or, in a process RQ started some other way, a
    context made now."""
    job = TrialJob.from_dict(payload)
    context = CURRENT_CONTEXT.get()
    if context is not None:
        execute_trial(job, context, attempt)
        return
    with serving(WorkerContext.from_settings(load_settings(), warm=False)) as fresh:
        execute_trial(job, fresh, attempt)
