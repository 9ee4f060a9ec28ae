"""Sweep trials on `strategylab worker` processes: the web node's side of the trial jobs.

With STRATEGYLAB_REDIS_URL set, the sweep thread on a web node keeps the study (it asks
Optuna for a batch and tells the results in trial order: app.research.sweep), and the trials
themselves execute on the workers. `RemoteTrialRunner.run_batch` puts each trial of a batch
on the sweep owner's RQ queue as a TrialJob (the same queues as runs, so a user's sweep of
1,000 trials takes one turn per worker against another user's run, never the whole queue),
then waits for the outcomes the workers store on Redis (app.jobs.trial_job):
- a trial is known by its study and number (`trial_key`): a web node restarted mid-batch
  finds a trial finished meanwhile (its outcome is used, not run again) or still queued or
  running (it waits for it), so no trial is run twice and none is lost;
- a trial whose worker was lost (its lease expired while its job was started, or its job
  failed) is queued once more; lost a second time, it is a TrialFailed "worker lost";
- cancel (the sweep's stop event) sets every open trial's cancel flag, which the worker
  running it polls (its sandbox is killed), and takes the queued ones off their queue; when
  the web node is only stopping (`is_pausing`), its open trials go on on the workers and the
  restarted node collects them.
Trials are numbered in the study before they are sent, so the sequence of params and the
study's results do not depend on how many workers there are or which finishes first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import count
from types import TracebackType
from typing import Final

import redis
from rq import Queue
from rq.job import Job, JobStatus

from app.db.models import SweepRow
from app.engine import ParamValue
from app.jobs.lease_keeper import holder_of
from app.jobs.owners import owner_key
from app.jobs.redis_keys import (
    CANCEL_TTL_S,
    QUEUES_SET,
    TRIAL_FUNCTION,
    TRIAL_RESULT_TTL_S,
    cancel_key,
    lease_key,
    lost_key,
    queue_name,
    trial_job_id,
    trial_lease_id,
    trial_result_key,
)
from app.jobs.trial_codec import TrialJob, decode_outcome, trial_key
from app.research.sweep import BatchRunner, TrialRunnerFactory
from app.runs import PreparedRun
from app.runs.prepare import with_params
from app.runs.trials import TrialFailed, TrialOutcome

logger = logging.getLogger(__name__)

POLL_S: Final = 0.2
"""How often the web node looks for its open trials' outcomes and lost workers, s."""
LOST_GRACE_S: Final = 3.0
"""A started trial without a lease for this long has lost its worker (the lease is set as
the job starts and lives its TTL, STRATEGYLAB_LEASE_TTL_S, after the last renewal), s."""
CANCEL_WAIT_S: Final = 10.0
"""How long a cancelled batch waits for its running trials' workers to let go, s."""
LOST_TRIAL_RETRIES: Final = 1
WORKER_LOST_REASON: Final = (
    "worker lost: the workers running this trial stopped before it finished, twice (killed, "
    "or their machines went away)."
)
ENDED: Final = frozenset({JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED})


@dataclass(frozen=True, slots=True)
class TrialSource:
    """What every trial job of a sweep names: the sweep's dataset reference (version
    included) and its owner's queue key; the code, content hash and config come from the
    base run."""

    dataset: str
    owner: str


@dataclass
class _Open:
    """A trial of the batch not finished yet: its job and the attempt it is on."""

    job: TrialJob
    attempt: int
    unleased_since: float | None = None


class RemoteTrialRunner:
    """A BatchRunner (app.research.sweep) whose trials execute on `strategylab worker`s."""

    def __init__(
        self,
        base: PreparedRun,
        *,
        study_name: str,
        source: TrialSource,
        connection: redis.Redis,
        job_timeout_s: float,
        is_pausing: Callable[[], bool] = lambda: False,
        poll_s: float = POLL_S,
        function: str = TRIAL_FUNCTION,
    ) -> None:
        base.limits.checked(base.maximums)  # LimitsRefused now, as the local TrialRunner
        self._base = base
        self._study_name = study_name
        self._source = source
        self._redis = connection
        self._job_timeout_s = job_timeout_s
        self._is_pausing = is_pausing
        self._poll_s = poll_s
        self._function = function  # the RQ job function: a trial, or a fold's test run
        self._unnumbered = count(1_000_000_000)  # ad hoc batches: never a study's number

    def run_batch(
        self,
        param_sets: Sequence[Mapping[str, ParamValue]],
        *,
        cancel: threading.Event | None = None,
        numbers: Sequence[int] | None = None,
    ) -> list[TrialOutcome | None]:
        """Run each param set as a trial on the workers; outcomes in the order given (None:
        not finished when `cancel` was set). Every set is checked first
        (InvalidRunRequestError("params") before any trial is queued)."""
        prepared = [with_params(self._base, params) for params in param_sets]
        if numbers is None:
            numbers = [next(self._unnumbered) for _ in prepared]
        jobs = [self.job_of(number, run) for number, run in zip(numbers, prepared, strict=True)]
        collected = self.collect(jobs, cancel=cancel)
        return [_outcome_of(job, collected.get(job.key)) for job in jobs]

    def collect(
        self, jobs: Sequence[TrialJob], *, cancel: threading.Event | None = None
    ) -> dict[str, bytes | str | TrialFailed]:
        """Queue each job (or find it stored, or still queued or running from before a
        restart) and wait for the workers: by trial key, the stored outcome as the worker
        encoded it, or TrialFailed "worker lost"; a trial not finished when `cancel` was set
        is missing."""
        stop = cancel if cancel is not None else threading.Event()
        outcomes: dict[str, bytes | str | TrialFailed] = {}
        waiting: dict[str, _Open] = {}
        for job in jobs:
            if job.key in waiting or job.key in outcomes:
                continue
            found = self._redis.get(trial_result_key(job.key))
            if found is not None:
                outcomes[job.key] = found
            else:
                waiting[job.key] = _Open(job, self._adopt_or_submit(job))
        while waiting:
            if stop.is_set():
                if not self._is_pausing():  # a stopping node leaves them to the workers
                    self._cancel(waiting, outcomes)
                break
            time.sleep(self._poll_s)
            try:
                self._look(waiting, outcomes)
            except redis.RedisError as error:  # Redis restarting: look again next round
                logger.warning("trial outcomes not read yet: %s", error)
        return outcomes

    def job_of(self, number: int, prepared: PreparedRun) -> TrialJob:
        """The job of trial `number` of the study: `prepared` (this runner's base with the
        trial's params) on the base's data and config."""
        inputs = prepared.inputs
        return TrialJob(
            key=trial_key(self._study_name, number),
            owner=self._source.owner,
            code=inputs.code,
            dataset=self._source.dataset,
            dataset_hash=inputs.data.content_hash,
            config=self._base.inputs.config.to_dict(),
            params=dict(inputs.config.param_dict),
        )

    def _adopt_or_submit(self, job: TrialJob) -> int:
        """The attempt the trial is on: a live job of it (queued or running, from before a
        restart) is waited for, else it is queued now."""
        losses = int(self._redis.get(lost_key(trial_lease_id(job.key))) or 0)
        for attempt in range(losses + 1, 0, -1):
            found = Job.fetch_many([trial_job_id(job.key, attempt)], connection=self._redis)[0]
            if found is not None and found.get_status(refresh=False) not in ENDED:
                return attempt
        attempt = losses + 1
        self._submit(job, attempt)
        return attempt

    def _submit(self, job: TrialJob, attempt: int) -> None:
        name = queue_name(job.owner)
        job_id = trial_job_id(job.key, attempt)
        stale = Job.fetch_many([job_id], connection=self._redis)[0]
        if stale is not None:
            stale.delete()
        self._redis.delete(cancel_key(trial_lease_id(job.key)))  # queued again: wanted
        self._redis.sadd(QUEUES_SET, name)
        Queue(name, connection=self._redis).enqueue(
            self._function,
            job.to_dict(),
            attempt,  # the lease's token and the fence on its outcome (app.jobs.trial_job)
            job_id=job_id,
            job_timeout=int(self._job_timeout_s),
            result_ttl=60,
            failure_ttl=TRIAL_RESULT_TTL_S,
            description=f"trial of {self._study_name}",
        )

    def _look(
        self, waiting: dict[str, _Open], outcomes: dict[str, bytes | str | TrialFailed]
    ) -> None:
        """Collect the outcomes stored since the last look; retry or fail the trials whose
        worker was lost."""
        keys = list(waiting)
        with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(trial_result_key(key))
                pipe.get(lease_key(trial_lease_id(key)))
            answers = pipe.execute()
        job_ids = [trial_job_id(key, waiting[key].attempt) for key in keys]
        found = Job.fetch_many(job_ids, connection=self._redis)
        now = time.monotonic()
        for index, key in enumerate(keys):
            raw, holder, job = answers[2 * index], answers[2 * index + 1], found[index]
            state = waiting[key]
            is_leased = holder_of(holder) == state.attempt
            if raw is not None:
                outcomes[key] = raw
                del waiting[key]
                continue
            status = job.get_status(refresh=False) if job is not None else None
            if status is JobStatus.QUEUED or (status is JobStatus.STARTED and is_leased):
                state.unleased_since = None
                continue
            if state.unleased_since is None:  # started, not leased yet; or ended, no outcome
                state.unleased_since = now
            elif now - state.unleased_since >= LOST_GRACE_S:
                self._lost(state, waiting, outcomes)

    def _lost(
        self,
        state: _Open,
        waiting: dict[str, _Open],
        outcomes: dict[str, bytes | str | TrialFailed],
    ) -> None:
        key = state.job.key
        raw = self._redis.get(trial_result_key(key))  # it may have finished meanwhile
        if raw is not None:
            outcomes[key] = raw
            del waiting[key]
            return
        losses = int(self._redis.incr(lost_key(trial_lease_id(key))))
        self._redis.expire(lost_key(trial_lease_id(key)), CANCEL_TTL_S)
        if losses <= LOST_TRIAL_RETRIES:
            logger.warning("trial's worker lost; trial queued again trial=%s", key[:12])
            state.attempt = losses + 1
            state.unleased_since = None
            self._submit(state.job, state.attempt)
            return
        logger.warning("trial failed: its worker was lost again trial=%s", key[:12])
        outcomes[key] = TrialFailed(dict(state.job.params), WORKER_LOST_REASON)
        del waiting[key]

    def _cancel(
        self, waiting: dict[str, _Open], outcomes: dict[str, bytes | str | TrialFailed]
    ) -> None:
        """Stop every open trial: cancel flags for the running ones, queued ones taken off;
        waits up to CANCEL_WAIT_S for the running ones to let go (outcomes stored meanwhile
        are kept)."""
        try:
            for key, state in waiting.items():
                self._redis.set(cancel_key(trial_lease_id(key)), b"1", ex=CANCEL_TTL_S)
                job = Job.fetch_many([trial_job_id(key, state.attempt)], connection=self._redis)
                if job[0] is not None and job[0].get_status(refresh=False) is JobStatus.QUEUED:
                    job[0].cancel()
            deadline = time.monotonic() + CANCEL_WAIT_S
            while waiting and time.monotonic() < deadline:
                for key in list(waiting):
                    raw = self._redis.get(trial_result_key(key))
                    if raw is not None:
                        outcomes[key] = raw
                    if raw is not None or not self._redis.exists(lease_key(trial_lease_id(key))):
                        del waiting[key]
                if waiting:
                    time.sleep(self._poll_s)
        except redis.RedisError as error:
            logger.warning("cancelling trials on redis failed: %s", error)

    def close(self) -> None:
        """Nothing to stop here: the trials belong to the workers."""

    def __enter__(self) -> RemoteTrialRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _outcome_of(job: TrialJob, found: bytes | str | TrialFailed | None) -> TrialOutcome | None:
    """A collected trial's outcome (None: not finished)."""
    if found is None or isinstance(found, TrialFailed):
        return found
    return _decoded(job, found)


def _decoded(job: TrialJob, raw: bytes | str) -> TrialOutcome:
    """A stored outcome; one that does not decode fails its trial with a sentence."""
    try:
        return decode_outcome(raw)
    except ValueError as error:
        logger.warning("trial outcome unreadable trial=%s: %s", job.key[:12], error)
        return TrialFailed(dict(job.params), f"the worker's outcome could not be read: {error}.")


class RedisSweepTrials:
    """Per sweep, the factory of its studies' RemoteTrialRunners (SweepRunner's `trials`)."""

    def __init__(self, connection: redis.Redis, *, job_timeout_s: float) -> None:
        self._redis = connection
        self._job_timeout_s = job_timeout_s

    def __call__(self, sweep: SweepRow, is_pausing: Callable[[], bool]) -> TrialRunnerFactory:
        source = TrialSource(
            dataset=sweep.dataset_version or sweep.dataset, owner=owner_key(sweep.owner_id)
        )

        def runner(
            base: PreparedRun, *, study_name: str, workers: int
        ) -> AbstractContextManager[BatchRunner]:
            del workers  # the workers' count and turns decide how many run at once
            return RemoteTrialRunner(
                base,
                study_name=study_name,
                source=source,
                connection=self._redis,
                job_timeout_s=self._job_timeout_s,
                is_pausing=is_pausing,
            )

        return runner


__all__ = ["RedisSweepTrials", "RemoteTrialRunner", "TrialSource"]
