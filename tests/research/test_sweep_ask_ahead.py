"""Asking ahead: with a runner that queues trials, a grid or random sweep asks and queues its
next batch while the current one runs (the workers never wait for the tells), and still stores
the same trials with the same values, tells in trial order, and on cancel keeps what finished
and runs the rest on resume, none twice; TPE keeps its batch barrier."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from app.engine import ParamValue
from app.research.space import parse_space
from app.research.sweep import StreamingRunner, SweepSpec, run_study
from app.runs.trials import TrialOutcome

from .test_sweep import DEFAULTS, FakeRunner, fake_outcome, new_study, spec_of, trial_rows


class FakeStreamingRunner(FakeRunner):
    """FakeRunner's trials, queued on `workers` threads (StreamingRunner). `queued` records,
    per submit, how many trials earlier submits had that were not finished yet; a trial waits
    for `gate` (when given) before it runs; `cancel_at` sets the cancel event when that many
    trials have finished."""

    def __init__(
        self, *, workers: int = 2, cancel_at: int | None = None, gate: threading.Event | None = None
    ) -> None:
        super().__init__()
        self.queued: list[int] = []
        self.cancel_at = cancel_at
        self.gate = gate
        self._finished = 0
        self._open = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers)

    def submit_batch(
        self,
        param_sets: Sequence[Mapping[str, ParamValue]],
        *,
        cancel: threading.Event,
        numbers: Sequence[int] | None = None,
    ) -> list[Future[TrialOutcome | None]]:
        with self._lock:
            self.queued.append(self._open)
            self._open += len(param_sets)
        return [self._pool.submit(self._one, dict(params), cancel) for params in param_sets]

    def _one(self, params: dict[str, ParamValue], cancel: threading.Event) -> TrialOutcome | None:
        if self.gate is not None:
            self.gate.wait(10)
        with self._lock:
            self._open -= 1
            if cancel.is_set():
                return None
            full = {**DEFAULTS, **params}
            self.executed.append(full)
            self._finished += 1
            if self._finished == self.cancel_at:
                cancel.set()
            return fake_outcome(full)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@pytest.fixture(autouse=True)
def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def grid_spec() -> SweepSpec:
    return spec_of("grid", None, space=parse_space(["fast=5:9", "slow=30:50:5"], DEFAULTS))


@pytest.mark.parametrize(("method", "n_trials"), [("grid", None), ("random", 14)])
def test_asking_ahead_stores_the_same_trials_as_batch_by_batch(
    method: str, n_trials: int | None
) -> None:
    spec = spec_of(method, n_trials, space=parse_space(["fast=5:9", "slow=30:50:5"], DEFAULTS))
    plain, ahead = new_study(spec), new_study(spec)
    run_study(spec, plain, FakeRunner())
    streaming = FakeStreamingRunner()
    assert isinstance(streaming, StreamingRunner)
    told: list[int] = []
    run_study(
        spec, ahead, streaming, on_progress=lambda p: told.extend(r.number for r in p.finished)
    )
    streaming.close()
    assert trial_rows(ahead) == trial_rows(plain)
    assert told == sorted(told) == list(range(len(trial_rows(plain))))  # told in trial order
    assert len(streaming.executed) == len(told)  # none run twice


def test_the_next_grid_batch_is_queued_before_the_current_one_is_told() -> None:
    spec = grid_spec()
    gate = threading.Event()  # no trial finishes until both batches are queued
    streaming = FakeStreamingRunner(gate=gate)
    timer = threading.Timer(0.5, gate.set)
    timer.start()
    run_study(spec, new_study(spec), streaming)
    streaming.close()
    assert streaming.queued[:2] == [0, spec.batch_size]  # batch 2 queued behind all of batch 1


def test_tpe_keeps_its_batch_barrier() -> None:
    spec = spec_of("tpe", 12)
    plain, streamed = new_study(spec), new_study(spec)
    run_study(spec, plain, FakeRunner())
    streaming = FakeStreamingRunner()
    run_study(spec, streamed, streaming)
    streaming.close()
    assert streaming.queued == [0, 0, 0]  # each batch queued after the one before was told
    assert trial_rows(streamed) == trial_rows(plain)


def test_cancel_while_asking_ahead_keeps_what_finished_and_resume_runs_the_rest_once(
    tmp_path: Path,
) -> None:
    spec = grid_spec()
    whole = new_study(spec)
    run_study(spec, whole, FakeRunner())
    study = new_study(spec, tmp_path / "cut.db")
    cancel = threading.Event()
    first = FakeStreamingRunner(cancel_at=6)
    assert run_study(spec, study, first, cancel=cancel) is True
    first.close()
    states = [t.state for t in study.get_trials()]
    assert states.count(TrialState.COMPLETE) == len(first.executed) == 6
    assert states.count(TrialState.RUNNING) == len(states) - 6  # asked ahead, not run
    second = FakeStreamingRunner()
    assert run_study(spec, study, second) is False
    second.close()
    assert trial_rows(study) == trial_rows(whole)
    assert len(first.executed) + len(second.executed) == len(trial_rows(whole))
