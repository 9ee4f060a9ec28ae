"""A walk-forward fold's test run executed by a `strategylab worker`: its RQ job function.

The web node running a walk-forward puts each fold's test run on the owner's queue as a
TrialJob whose config is the test run's own (its window, its cash, the chosen params), and
it travels exactly as a sweep trial does (app.jobs.trial_job: the same queue and turns, the
lease with the attempt's number, the cancel flag, the fenced once-only outcome, a lost worker
retried once). The difference is what runs: the test run as a standalone run, as the web
node's RunService would run it (the dataset from the shared store, refused unless its bytes
have the recorded hash; a confined sandbox process of this worker's pool; every order, trade
and log line kept), and its outcome is the sandbox's checked result message, forwarded for
the web node to decode with the same checks (app.jobs.fold_test_codec), or the sentence of
the error a local run would have raised.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.data.errors import DataError
from app.engine import EngineError
from app.jobs.fold_test_codec import encode_failure, encode_result
from app.jobs.redis_job import CURRENT_CONTEXT, WorkerContext, serving
from app.jobs.trial_codec import TrialJob
from app.jobs.trial_job import execute_trial
from app.jobs.verified_data import VerifiedCatalog
from app.runs import PreparedRun, RunService
from app.runs.execute import execute
from app.runs.prepare import with_params
from app.settings import load_settings
from sandbox import ForkServerError, RunCancelled, SandboxError, WarmWorker, start_worker
from sandbox.supervisor import ResultCopy

logger = logging.getLogger(__name__)


def fold_test_outcome(job: TrialJob, context: WorkerContext, stop: threading.Event) -> bytes | None:
    """The test run's encoded outcome (app.jobs.fold_test_codec); None when cancelled."""
    try:
        prepared = _prepared(job, context)
    except (DataError, EngineError, ValueError) as error:  # other bytes here; a bad config
        return encode_failure(_sentence(error))
    capture = ResultCopy()
    try:
        result = execute(prepared, cancel=stop, worker=_sandbox(context), capture=capture)
    except RunCancelled:
        return None
    except (SandboxError, EngineError, ValueError) as error:  # what a local test run raises
        return encode_failure(_sentence(error))
    except (ForkServerError, OSError) as error:  # no process left for a sandbox, say
        logger.warning("test run could not start trial=%s: %s", job.key[:12], error)
        return encode_failure(f"the test run could not start on a worker: {_sentence(error)}")
    if capture.frame is None:  # run_sandboxed keeps it whenever it returns a result
        return encode_failure("the worker kept no result message of the test run")
    return encode_result(result, capture.frame)


def _prepared(job: TrialJob, context: WorkerContext) -> PreparedRun:
    service = RunService.from_settings(context.settings)
    catalog = VerifiedCatalog(context.settings.data_dir, expected_hash=job.dataset_hash)
    base = service.prepare_stored(
        code=job.code, dataset=job.dataset, config_data=job.config, catalog=catalog
    )
    return with_params(base, job.params)


def _sandbox(context: WorkerContext) -> WarmWorker:
    return context.sandboxes.take() if context.sandboxes is not None else start_worker()


def _sentence(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def run_fold_test(payload: dict[str, Any], attempt: int = 1) -> None:
    """RQ's entry point (by name, app.jobs.redis_keys.FOLD_TEST_FUNCTION): run attempt
    `attempt` of the test run with the worker's context, or, in a process RQ started some
    other way, a context made now."""
    job = TrialJob.from_dict(payload)
    context = CURRENT_CONTEXT.get()
    if context is not None:
        execute_trial(job, context, attempt, outcome_of=fold_test_outcome)
        return
    with serving(WorkerContext.from_settings(load_settings(), warm=False)) as fresh:
        execute_trial(job, fresh, attempt, outcome_of=fold_test_outcome)
