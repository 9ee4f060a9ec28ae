"""The names runs use on Redis: RQ queues per owner, the event channel, cancel flags, leases.

Every web node and every `strategylab worker` agrees on these; one Redis may serve several
installations only through separate databases (redis://host:6379/<db>).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from app.settings import Settings

QUEUE_PREFIX: Final = "strategylab-runs-"
"""RQ queue of one owner's runs: QUEUE_PREFIX + owner key (workers take turns between them)."""
QUEUES_SET: Final = "strategylab:queues"
"""Set of every owner queue's name; workers re-read it to find new owners."""
EVENTS_CHANNEL: Final = "strategylab:run-events"
"""Pub/sub channel of live run events (opened, progress, logs, finished) for every web node."""
CANCEL_PREFIX: Final = "strategylab:cancel:"
"""A run's cancel flag (a key); the worker running it polls it."""
ATTEMPTS_PREFIX: Final = "strategylab:lost:"
"""How many times a run's worker was lost (a counter); the first loss re-queues the run."""
LEASE_PREFIX: Final = "strategylab:lease:"
"""A running run's lease: a key with a short TTL the worker keeps renewing, its value the
number of the attempt holding it (app.jobs.lease_keeper); gone or another attempt's = lost."""
JOB_PREFIX: Final = "run-"
"""RQ job id of a run: JOB_PREFIX + run id, so a run is never queued twice."""

LEASE_TTL_S: Final = 10
"""Seconds a lease lives unless renewed, by default (Settings.lease_ttl_s)."""
LEASE_RENEW_S: Final = 2.0
"""Seconds between a lease's renewals, by default (Settings.lease_renew_s)."""
CANCEL_TTL_S: Final = 24 * 3600
"""Seconds a cancel flag is kept (long enough for any run to notice it)."""


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """How long a lease lives unless renewed (`ttl_s`, whole seconds: Redis's EX) and how
    often its holder renews it (`renew_s`): the operator's STRATEGYLAB_LEASE_TTL_S and
    STRATEGYLAB_LEASE_RENEW_S (Settings checks renew_s < ttl_s / 2). Every web node (its
    reaper, its sweep leases) and every worker (its jobs, its lease keeper) must use the same,
    so give them the same environment."""

    ttl_s: int = LEASE_TTL_S
    renew_s: float = LEASE_RENEW_S

    @classmethod
    def from_settings(cls, settings: Settings) -> LeaseTiming:
        """The timing `settings` name."""
        return cls(ttl_s=settings.lease_ttl_s, renew_s=settings.lease_renew_s)


DEFAULT_LEASE_TIMING: Final = LeaseTiming()


def queue_name(owner: str) -> str:
    """The RQ queue of `owner`'s runs."""
    return f"{QUEUE_PREFIX}{owner}"


def job_id(run_id: str) -> str:
    """The RQ job id of a run."""
    return f"{JOB_PREFIX}{run_id}"


def cancel_key(run_id: str) -> str:
    """The key whose presence asks the run's worker to stop it."""
    return f"{CANCEL_PREFIX}{run_id}"


def lost_key(run_id: str) -> str:
    """The counter of a run's lost workers."""
    return f"{ATTEMPTS_PREFIX}{run_id}"


def lease_key(run_id: str) -> str:
    """The key that says a worker is running the run right now."""
    return f"{LEASE_PREFIX}{run_id}"


TRIAL_FUNCTION: Final = "app.jobs.trial_job.run_trial"
"""The RQ job function of a sweep trial, by name (web nodes enqueue it without importing it)."""
FOLD_TEST_FUNCTION: Final = "app.jobs.fold_test_job.run_fold_test"
"""The RQ job function of a walk-forward fold's test run (a trial job run in full)."""
TRIAL_JOB_PREFIX: Final = "trial-"
"""RQ job id of a sweep trial's attempt: TRIAL_JOB_PREFIX + trial key + "-" + attempt."""
TRIAL_RESULT_PREFIX: Final = "strategylab:trial-result:"
"""A finished trial's outcome (JSON, app.jobs.trial_codec), kept TRIAL_RESULT_TTL_S."""
TRIAL_RESULT_TTL_S: Final = 7 * 24 * 3600
"""Seconds a trial's outcome is kept: a web node restarted within that time finds it."""


def trial_job_id(key: str, attempt: int) -> str:
    """The RQ job id of attempt `attempt` (1, then 2 after a lost worker) of trial `key`."""
    return f"{TRIAL_JOB_PREFIX}{key}-{attempt}"


def trial_result_key(key: str) -> str:
    """The key holding trial `key`'s outcome once a worker finished it."""
    return f"{TRIAL_RESULT_PREFIX}{key}"


def trial_lease_id(key: str) -> str:
    """The id trial `key` uses for its lease, cancel flag and lost-worker counter (the
    run keys' functions: lease_key, cancel_key, lost_key)."""
    return f"{TRIAL_JOB_PREFIX}{key}"
