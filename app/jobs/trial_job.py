"""One sweep trial executed by a `strategylab worker`: the RQ job function of a trial.

The web node running a sweep puts each trial of a batch on the sweep owner's RQ queue (the
same queues as runs, so owners take turns: app.jobs.redis_worker) as a TrialJob
(app.jobs.trial_codec). A worker takes it and, in order:
1. skips it when the trial's outcome is already on Redis (a trial is never run twice: a
   restarted web node submits the trials of its open batch again);
2. holds the trial's lease while it runs (renewed; a worker killed with SIGKILL lets it
   expire, and the web node retries the trial once on another worker) and watches its cancel
   flag (the sweep was cancelled: the trial's sandbox is killed);
3. rebuilds the base run from the job: the code, the dataset from the shared store refused
   unless its bytes have the hash the sweep recorded (app.jobs.verified_data), the config;
4. runs the trial exactly as the web node's TrialRunner would (app.runs.trials: a fresh
   confined sandbox child, the run's limits, shared indicators), keeping the base's runner
   for the next trial of the same study (app.jobs.trial_bases);
5. stores the outcome (a TrialRun or a TrialFailed with its sentence) on Redis for the web
   node, which tells the study in trial order.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.data.errors import DataError
from app.jobs.redis_job import CURRENT_CONTEXT, RunLease, WorkerContext, serving
from app.jobs.redis_keys import (
    TRIAL_RESULT_TTL_S,
    cancel_key,
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


def execute_trial(job: TrialJob, context: WorkerContext) -> None:
    """Run one trial on this worker and store its outcome (see the module docstring)."""
    connection = context.connection
    result_key = trial_result_key(job.key)
    if connection.exists(result_key):
        logger.info("trial already finished; job dropped trial=%s", job.key[:12])
        return
    stop = threading.Event()
    if connection.exists(cancel_key(trial_lease_id(job.key))):
        return  # cancelled before it started
    with RunLease(connection, trial_lease_id(job.key), stop):
        logger.info("trial started trial=%s owner=%s", job.key[:12], job.owner)
        outcome = _run(job, context, stop)
        if outcome is None:
            logger.info("trial cancelled trial=%s", job.key[:12])
            return
        connection.set(result_key, encode_outcome(outcome), ex=TRIAL_RESULT_TTL_S)
    logger.info("trial finished trial=%s", job.key[:12])


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


def run_trial(payload: dict[str, Any]) -> None:
    """RQ's entry point (by name, app.jobs.redis_keys.TRIAL_FUNCTION): run the trial with
    the worker's context, or, in a process RQ started some other way, a context made now."""
    job = TrialJob.from_dict(payload)
    context = CURRENT_CONTEXT.get()
    if context is not None:
        execute_trial(job, context)
        return
    with serving(WorkerContext.from_settings(load_settings(), warm=False)) as fresh:
        execute_trial(job, fresh)
