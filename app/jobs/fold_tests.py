"""Walk-forward test windows on `strategylab worker` processes: the web node's side.

With STRATEGYLAB_REDIS_URL set, a walk-forward's web node keeps the folds' studies and sends
their trials to the workers (app.jobs.remote_trials); this sends each fold's test run too, so
the web node runs no sandbox at all for a walk-forward. A test run is one trial job of its own
study (`<fold study>-test-<digest of its config>`, number 0), queued, leased, fenced,
cancelled and retried after a lost worker exactly as a sweep trial (RemoteTrialRunner), with
the fold-test job function (app.jobs.fold_test_job). Its outcome is the sandbox's checked
result message, decoded here with the checks a local run's result goes through against this
node's own data and config (app.jobs.fold_test_codec), then recorded by the run service as a
local test run is (`RunService.record`: provenance, and the folder when the walk-forward
writes one). A web node restarted mid-test finds the outcome stored meanwhile (or the job
still queued or running) under the same key, so a test run is never run twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import redis

from app.db.models import SweepRow
from app.jobs.fold_test_codec import decode_result
from app.jobs.owners import owner_key
from app.jobs.redis_keys import FOLD_TEST_FUNCTION
from app.jobs.remote_trials import RemoteTrialRunner, TrialSource
from app.research.walkforward import DOOR, FoldTest, FoldTestError, FoldTestFactory
from app.runs import PreparedRun, RunService
from app.runs.service import RunOutcome
from app.runs.trials import TrialFailed
from sandbox import RunCancelled


@dataclass(frozen=True)
class RemoteFoldTest:
    """One fold's test run on the workers (a FoldTest, app.research.walkforward)."""

    service: RunService
    names: dict[str, str]
    key: str
    source: TrialSource
    connection: redis.Redis
    job_timeout_s: float
    is_pausing: Callable[[], bool]

    def run(
        self, prepared: PreparedRun, *, out_dir: Path | None, cancel: threading.Event | None
    ) -> RunOutcome:
        """Queue the test run, wait for its outcome and record it. RunCancelled when `cancel`
        was set first (a stopping node leaves it to the workers: the next start collects
        it); FoldTestError with the worker's sentence; ProtocolError when the forwarded
        result does not pass the checks."""
        runner = RemoteTrialRunner(
            prepared,
            study_name=f"{self.key}-test-{_digest(prepared)}",
            source=self.source,
            connection=self.connection,
            job_timeout_s=self.job_timeout_s,
            is_pausing=self.is_pausing,
            function=FOLD_TEST_FUNCTION,
        )
        job = runner.job_of(0, prepared)
        found = runner.collect([job], cancel=cancel).get(job.key)
        if found is None:
            raise RunCancelled("the test run was cancelled")
        if isinstance(found, TrialFailed):  # its workers were lost, twice
            raise FoldTestError(found.reason)
        result = decode_result(found, prepared)
        return self.service.record(prepared, result, door=DOOR, names=self.names, out_dir=out_dir)


def _digest(prepared: PreparedRun) -> str:
    """What the test run depends on beyond its fold: its config (window, cash, params)."""
    identity = json.dumps(prepared.inputs.config.to_dict(), sort_keys=True)
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


class RedisFoldTests:
    """Per walk-forward, the factory of its folds' RemoteFoldTests (SweepRunner's `tests`)."""

    def __init__(self, connection: redis.Redis, *, job_timeout_s: float) -> None:
        self._redis = connection
        self._job_timeout_s = job_timeout_s

    def __call__(self, sweep: SweepRow, is_pausing: Callable[[], bool]) -> FoldTestFactory:
        source = TrialSource(
            dataset=sweep.dataset_version or sweep.dataset, owner=owner_key(sweep.owner_id)
        )

        def tests(
            service: RunService, *, names: dict[str, str], key: str
        ) -> AbstractContextManager[FoldTest]:
            return nullcontext(
                RemoteFoldTest(
                    service=service,
                    names=names,
                    key=key,
                    source=source,
                    connection=self._redis,
                    job_timeout_s=self._job_timeout_s,
                    is_pausing=is_pausing,
                )
            )

        return tests


__all__ = ["RedisFoldTests", "RemoteFoldTest"]
