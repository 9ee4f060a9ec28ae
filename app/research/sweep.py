"""Parameter sweeps: ask Optuna for trials in fixed batches, run them sandboxed, tell results.

One sweep, in order:
1. The spec is checked (`check_spec`): every problem is a ResearchInputError before any work.
2. The study is opened in its storage, or created; an existing one must have been made by the
   same spec on the same code, data and config (`app.research.study`).
3. Batch after batch (`spec.batch_size` trials, whatever the number of workers): trials left
   RUNNING by a stopped or killed process are taken up again with their stored params; the
   batch is filled by asking new trials, each from a sampler seeded per trial
   (`app.research.samplers`); the batch runs on the trial runner's sandboxed workers (this
   machine's TrialRunner, or `strategylab worker` processes through Redis: `trials`); results
   are told in trial order. A finished trial is never run again.
4. The finished trials are read back from storage as TrialRecords; the best (or the Pareto
   front for NSGA-II) is chosen among the feasible ones only.

A trial is feasible when it ran, its objective metrics are numbers, and it meets the
constraints (`--min-trades`, `--max-drawdown`). An infeasible trial is stored with its real
metrics and values and a reason, and is never chosen as best; a trial whose strategy failed
is stored as failed with the error, and the sweep goes on.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import numpy as np

from app.engine import ParamValue
from app.engine.feed import FloatArray
from app.research import samplers
from app.research.errors import ResearchInputError
from app.research.samplers import CONSTRAINT_PREFIX, TRIAL_ATTR
from app.research.study import open_study, storage_at
from app.research.sweep_spec import (
    DEFAULT_BATCH_SIZE,
    OBJECTIVE_METRICS,
    Constraints,
    Direction,
    Objective,
    SweepSpec,
    TrialRecord,
    check_spec,
    trials_total,
)
from app.research.trial_ranking import (
    best_of,
    constraint_values,
    figures,
    infeasible_reason,
    objective_values,
    rank_best,
)
from app.runs.prepare import PreparedRun

if TYPE_CHECKING:
    from optuna import Study
    from optuna.trial import FrozenTrial

    from app.runs.trials import TrialOutcome

ATTR_PARAMS: Final = "params"
ATTR_METRICS: Final = "metrics"
ATTR_FEASIBLE: Final = "feasible"
ATTR_ERROR: Final = "error"
ATTR_REASON: Final = "infeasible_reason"
ATTR_RETURNS: Final = "daily_returns"
"""Keys of a trial's TRIAL_ATTR user attribute: every param, metrics.json, feasibility, the
error or infeasibility reason, the daily returns (for DSR/PBO) and the constraint values."""


@dataclass(frozen=True)
class SweepProgress:
    """Where a sweep is: finished trials (earlier sessions included) of `trials_total`,
    the best so far, the speed of this session in trials/s and the remaining time in s."""

    trials_done: int
    trials_total: int | None
    best: TrialRecord | None
    trials_per_s: float
    eta_s: float | None
    finished: tuple[TrialRecord, ...] = ()
    """The trials finished since the last report (the first report of a resumed sweep holds
    those of earlier sessions), in number order: the server streams and stores them."""


@dataclass(frozen=True)
class SweepResult:
    """A sweep's finished trials in number order, the best (ranked; the Pareto front for
    NSGA-II), and the daily returns of every feasible trial: one column per trial of
    `feasible_numbers`, one row per UTC day (for DSR and PBO). `cancelled`: stopped early."""

    trials: tuple[TrialRecord, ...]
    best: tuple[TrialRecord, ...]
    daily_returns: FloatArray
    cancelled: bool
    feasible_numbers: tuple[int, ...] = field(default=())


class BatchRunner(Protocol):
    """What a sweep needs from app.runs.trials.TrialRunner (or a remote trial runner).

    `numbers` are the trials' numbers in the study, in the order of `param_sets`: a runner
    that keeps trials outside this process (app.jobs.remote_trials) finds a trial again by
    its number after a restart, so it is never run twice."""

    def run_batch(
        self,
        param_sets: Sequence[Mapping[str, ParamValue]],
        *,
        cancel: threading.Event | None = None,
        numbers: Sequence[int] | None = None,
    ) -> list[TrialOutcome | None]: ...


class TrialRunnerFactory(Protocol):
    """Makes the runner of one study's trials: `base` is the run every trial varies,
    `study_name` the study's stored name, `workers` the trials run at once (where the runner
    decides that itself, a hint); the runner is closed when the study stops."""

    def __call__(
        self, base: PreparedRun, *, study_name: str, workers: int
    ) -> AbstractContextManager[BatchRunner]: ...


def local_trials(
    base: PreparedRun, *, study_name: str, workers: int
) -> AbstractContextManager[BatchRunner]:
    """This machine's TrialRunner: `workers` sandboxed trial processes from one fork server."""
    del study_name
    from app.runs.trials import TrialRunner  # imported here: it starts worker processes

    return TrialRunner(base, workers=workers)


ProgressCallback = Callable[[SweepProgress], None]


def sweep_identity(spec: SweepSpec, base: PreparedRun) -> dict[str, Any]:
    """What a stored study must match to be resumed (plain JSON data)."""
    inputs = base.inputs
    return {
        "version": 1,
        "space": spec.space.describe(),
        "method": spec.method,
        "objectives": [[o.metric, o.direction] for o in spec.objectives],
        "constraints": [spec.constraints.min_trades, spec.constraints.max_drawdown],
        "seed": spec.seed,
        "batch_size": spec.batch_size,
        "strategy_class": inputs.strategy_class,
        "code_sha256": inputs.code_hash,
        "data_sha256": inputs.data.content_hash,
        "config_sha256": inputs.config.fingerprint(),
    }


def run_sweep(
    spec: SweepSpec,
    base: PreparedRun,
    *,
    storage_url: str,
    study_name: str,
    workers: int,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    trials: TrialRunnerFactory = local_trials,
) -> SweepResult:
    """Run (or continue) the sweep `spec` over `base` with `workers` sandboxed workers.

    The study `study_name` in `storage_url` is created, or resumed when it exists with the
    same spec (else ResearchInputError("resume")). Setting `cancel` stops after the running
    trials: finished ones are kept in storage, the rest run on the next call. `trials` makes
    the runner the trials execute on (this machine's sandboxed workers by default).
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial otherwise
    check_spec(spec)
    if workers < 1:
        raise ResearchInputError("workers", f"must be at least 1; got {workers}")
    with storage_at(storage_url) as storage:
        study = open_study(
            storage,
            study_name,
            identity=sweep_identity(spec, base),
            directions=[o.direction for o in spec.objectives],
        )
        if not has_work(spec, study):  # a finished study: no workers to start
            if on_progress is not None:
                records = [record_of(spec, t) for t in study.get_trials(deepcopy=False)]
                done = len(records)
                speed = _Speed(time.monotonic(), done)
                best = best_of(spec, records)
                on_progress(speed.progress(done, trials_total(spec), best, records))
            return sweep_result(spec, study, cancelled=False)
        with trials(base, study_name=study_name, workers=workers) as runner:
            cancelled = run_study(spec, study, runner, on_progress=on_progress, cancel=cancel)
        return sweep_result(spec, study, cancelled=cancelled)


def has_work(spec: SweepSpec, study: Study) -> bool:
    """True when `study` has trials to run: left RUNNING, or within the trial budget."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    running = any(t.state is TrialState.RUNNING for t in trials)
    return running or len(trials) < trials_total(spec)


def run_study(
    spec: SweepSpec,
    study: Study,
    runner: BatchRunner,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> bool:
    """Ask, run and tell batches until the trial budget is spent; True when `cancel` stopped
    it first.

    With a runner that queues trials (StreamingRunner, this machine's TrialRunner) and a
    sampler whose points do not depend on results (grid, random), the next batch is asked and
    queued while the current one runs, so the workers never wait for the tells and asks
    between batches; the trials, their params and the order of the tells are the same."""
    from optuna.trial import TrialState

    total = trials_total(spec)
    trials = study.get_trials(deepcopy=False)
    asked = len(trials)
    chosen = TrialSamplers(spec)
    pending = [_completed(spec, study, t, chosen) for t in trials if t.state is TrialState.RUNNING]
    done = asked - len(pending)
    earlier = [record_of(spec, t) for t in trials if t.state.is_finished()]
    best = best_of(spec, earlier)
    clock = _Speed(time.monotonic(), done)
    if on_progress is not None:
        on_progress(clock.progress(done, total, best, earlier))
    stop = cancel if cancel is not None else threading.Event()
    ahead = 2 if isinstance(runner, StreamingRunner) and spec.method in ASK_AHEAD_METHODS else 1
    in_flight: deque[tuple[list[FrozenTrial], list[Future[TrialOutcome | None]]]] = deque()
    is_cut = False  # a batch came back with trials not run (cancelled)
    try:
        while True:
            while len(in_flight) < ahead:
                batch_end = _batch_end(spec, asked, bool(pending), total)
                if (not pending and asked >= batch_end) or stop.is_set():
                    break
                pending.extend(_ask(spec, study, n, chosen) for n in range(asked, batch_end))
                asked = max(asked, batch_end)
                in_flight.append(_submit(spec, runner, pending, stop))
                pending = []
            if not in_flight:  # nothing left to run, or stopped before the next batch
                return is_cut or bool(pending) or asked < _batch_end(spec, asked, False, total)
            batch, futures = in_flight.popleft()
            told = [
                _tell(spec, study, trial, outcome, chosen)
                for trial, future in zip(batch, futures, strict=True)
                if (outcome := future.result()) is not None
            ]
            done += len(told)
            best = best_of(spec, [*([best] if best else []), *told])
            if on_progress is not None:
                on_progress(clock.progress(done, total, best, told))
            if len(told) < len(batch):  # some trials were not run: only cancelling does that
                stop.set()  # a batch queued behind it stops too; what it finished is told
                is_cut = True
    except BaseException:  # Ctrl-C or a storage error: no trial outlives the sweep
        stop.set()
        raise


ASK_AHEAD_METHODS: Final = frozenset({"grid", "random"})
"""Methods whose trial n has the same params whatever the results before it (the grid's
seeded shuffle, a random sampler seeded per trial): their next batch is asked early."""


def _batch_end(spec: SweepSpec, asked: int, has_pending: bool, total: int) -> int:
    """The number after the last trial of the batch to run next: the open batch is finished
    (trials left RUNNING, or asked part-way) before the next one is asked."""
    batch = spec.batch_size
    if has_pending or asked % batch:
        return min(total, -(-asked // batch) * batch)
    return min(total, asked + batch)


@runtime_checkable
class StreamingRunner(BatchRunner, Protocol):
    """A BatchRunner that can also queue a batch and return at once (app.runs.trials)."""

    def submit_batch(
        self,
        param_sets: Sequence[Mapping[str, ParamValue]],
        *,
        cancel: threading.Event,
        numbers: Sequence[int] | None = None,
    ) -> list[Future[TrialOutcome | None]]: ...


def _submit(
    spec: SweepSpec, runner: BatchRunner, pending: list[FrozenTrial], stop: threading.Event
) -> tuple[list[FrozenTrial], list[Future[TrialOutcome | None]]]:
    """The `pending` trials in number order, queued on `runner` (or, for a runner that only
    runs whole batches, run now): one future per trial."""
    fixed = spec.space.fixed()
    trials = sorted(pending, key=lambda t: t.number)
    param_sets = [{**fixed, **t.params} for t in trials]
    numbers = [t.number for t in trials]
    if isinstance(runner, StreamingRunner):
        return trials, runner.submit_batch(param_sets, cancel=stop, numbers=numbers)
    futures: list[Future[TrialOutcome | None]] = []
    for outcome in runner.run_batch(param_sets, cancel=stop, numbers=numbers):
        future: Future[TrialOutcome | None] = Future()
        future.set_result(outcome)
        futures.append(future)
    return trials, futures


class TrialSamplers:
    """The sampler each trial of a sweep is asked and told with (`_sampler_for`): a fresh one
    per trial, seeded for it, except the grid's, which is the same for every trial (seeded
    with the sweep's seed) and is built once here (building it shuffles the whole grid:
    ~15 ms for 1,000 points, twice per trial otherwise)."""

    def __init__(self, spec: SweepSpec) -> None:
        self._spec = spec
        self._grid: Any = None

    def for_trial(self, number: int) -> Any:
        """The sampler of trial `number`."""
        if self._spec.method != "grid":
            return _sampler_for(self._spec, number)
        if self._grid is None:
            self._grid = _sampler_for(self._spec, number)
        return self._grid


def _ask(
    spec: SweepSpec, study: Study, number: int, chosen: TrialSamplers | None = None
) -> FrozenTrial:
    """Ask trial `number` from a sampler seeded for it; its params are stored at once."""
    chosen = chosen or TrialSamplers(spec)
    sampler = chosen.for_trial(number)
    if spec.method == "grid":
        stored = _ask_grid_point(spec, study, number, sampler)
        if stored is not None:
            return stored
    study.sampler = sampler
    trial = study.ask(fixed_distributions=spec.space.distributions())
    _check_number(trial.number, number)
    return study._storage.get_trial(trial._trial_id)


def _ask_grid_point(spec: SweepSpec, study: Study, number: int, sampler: Any) -> FrozenTrial | None:
    """Grid trial `number` stored in one transaction, exactly as `study.ask` with the grid
    sampler stores it (state RUNNING, the `search_space` and `grid_id` system attributes,
    the params of grid point `number` of the sampler's seeded shuffle) but without its other
    writes and its ~six reads of the trial back (~20 ms of the sweep's CPU per trial, spent
    while the workers wait). None when `number` is past the grid (Optuna then picks one)."""
    from optuna.trial import FrozenTrial, TrialState

    points: list[tuple[Any, ...]] = sampler._all_grids  # GridSampler's seeded shuffle
    if not 0 <= number < len(points):
        return None
    names: list[str] = sampler._param_names
    distributions = spec.space.distributions()
    params = {
        name: distribution.to_external_repr(
            distribution.to_internal_repr(points[number][names.index(name)])
        )
        for name, distribution in distributions.items()
    }
    template = FrozenTrial(
        number=number,
        state=TrialState.RUNNING,
        value=None,
        datetime_start=datetime.now(),
        datetime_complete=None,
        params=params,
        distributions=dict(distributions),
        user_attrs={},
        system_attrs={"search_space": sampler._search_space, "grid_id": number},
        intermediate_values={},
        trial_id=0,
    )
    storage = study._storage
    trial_id = storage.create_new_trial(study._study_id, template_trial=template)
    _check_number(storage.get_trial_number_from_id(trial_id), number)
    template._trial_id = trial_id
    return template


def _check_number(stored: int, number: int) -> None:
    """The trial just stored must be trial `number`: another process asking in between
    would mix two sequences."""
    if stored != number:
        raise ResearchInputError(
            "resume", f"another process is running this study (trial {stored} appeared)"
        )


def _completed(
    spec: SweepSpec, study: Study, trial: FrozenTrial, chosen: TrialSamplers | None = None
) -> FrozenTrial:
    """A trial left RUNNING by a stopped process, with every searched param: one whose ask was
    cut short (stored, params not all set) gets the missing ones from the sampler seeded for
    its number, as the uninterrupted ask would have (the grid: the point it was given)."""
    from optuna.trial import Trial

    distributions = spec.space.distributions()
    if all(name in trial.params for name in distributions):
        return trial
    study.sampler = (chosen or TrialSamplers(spec)).for_trial(trial.number)
    study.sampler.before_trial(study, trial)  # the grid point, unless it was already given
    resumed = Trial(study, trial._trial_id)
    for name, distribution in distributions.items():
        if name not in trial.params:
            resumed._suggest(name, distribution)
    return study._storage.get_trial(trial._trial_id)


def _sampler_for(spec: SweepSpec, number: int) -> Any:
    batch, position = divmod(number, spec.batch_size)
    seed = spec.seed if spec.method == "grid" else samplers.trial_seed(spec.seed, batch, position)
    return samplers.build_sampler(
        spec.method,
        seed=seed,
        grid=spec.space.grid(),
    )


def _tell(
    spec: SweepSpec,
    study: Study,
    trial: FrozenTrial,
    outcome: TrialOutcome,
    chosen: TrialSamplers,
) -> TrialRecord:
    """Store `outcome` as trial `trial`'s result (its attribute first, then the state)."""
    from optuna.trial import TrialState

    from app.runs.trials import TrialRun

    storage, trial_id = study._storage, trial._trial_id
    record = _record_from_outcome(spec, trial.number, outcome)
    attrs: dict[str, Any] = {
        ATTR_PARAMS: record.params,
        ATTR_METRICS: record.metrics,
        ATTR_FEASIBLE: record.feasible,
        ATTR_ERROR: record.error,
        ATTR_REASON: record.infeasible_reason,
    }
    if isinstance(outcome, TrialRun):
        attrs[ATTR_RETURNS] = [float(value) for value in outcome.daily_returns]
        for key, value in constraint_values(spec.constraints, record.metrics).items():
            storage.set_trial_system_attr(trial_id, CONSTRAINT_PREFIX + key, value)
    storage.set_trial_user_attr(trial_id, TRIAL_ATTR, attrs)
    study.sampler = chosen.for_trial(trial.number)
    if record.values is None:
        study.tell(trial.number, state=TrialState.FAIL)
    else:
        study.tell(trial.number, list(record.values))
    return record


def _record_from_outcome(spec: SweepSpec, number: int, outcome: TrialOutcome) -> TrialRecord:
    from app.runs.trials import TrialRun

    if not isinstance(outcome, TrialRun):
        return TrialRecord(number, dict(outcome.params), {}, False, outcome.reason, None)
    metrics = dict(outcome.metrics)
    values = objective_values(spec, metrics)
    reason = infeasible_reason(spec, metrics)
    return TrialRecord(number, dict(outcome.params), metrics, reason is None, None, values, reason)


def record_of(spec: SweepSpec, trial: FrozenTrial) -> TrialRecord:
    """A finished trial as read back from storage."""
    stored = trial.user_attrs.get(TRIAL_ATTR)
    attrs: dict[str, Any] = stored if isinstance(stored, dict) else {}
    params = attrs.get(ATTR_PARAMS)
    metrics = attrs.get(ATTR_METRICS)
    values = tuple(float(v) for v in trial.values) if trial.values is not None else None
    return TrialRecord(
        number=trial.number,
        params=dict(params) if isinstance(params, dict) else dict(trial.params),
        metrics=dict(metrics) if isinstance(metrics, dict) else {},
        feasible=bool(attrs.get(ATTR_FEASIBLE, False)),
        error=attrs.get(ATTR_ERROR),
        values=values,
        infeasible_reason=attrs.get(ATTR_REASON),
    )


def sweep_result(spec: SweepSpec, study: Study, *, cancelled: bool) -> SweepResult:
    """The finished trials of `study` as a SweepResult (see the class docstring)."""
    finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    records = tuple(record_of(spec, t) for t in sorted(finished, key=lambda t: t.number))
    columns: list[list[float]] = []
    numbers: list[int] = []
    by_number = {t.number: t for t in finished}
    for record in records:
        stored = by_number[record.number].user_attrs.get(TRIAL_ATTR)
        returns = stored.get(ATTR_RETURNS) if isinstance(stored, dict) else None
        if record.feasible and isinstance(returns, list):
            columns.append([float(value) for value in returns])
            numbers.append(record.number)
    days = min((len(column) for column in columns), default=0)
    matrix = (
        np.array([column[len(column) - days :] for column in columns], dtype=np.float64).T
        if columns
        else np.empty((0, 0))
    )
    return SweepResult(records, rank_best(spec, records), matrix, cancelled, tuple(numbers))


class _Speed:
    """Trials/s of this session and the time left."""

    def __init__(self, started: float, done_at_start: int) -> None:
        self.started = started
        self.done_at_start = done_at_start

    def progress(
        self,
        done: int,
        total: int,
        best: TrialRecord | None,
        finished: Sequence[TrialRecord] = (),
    ) -> SweepProgress:
        elapsed = time.monotonic() - self.started
        session = done - self.done_at_start
        rate = session / elapsed if elapsed > 0 and session > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else None
        ordered = tuple(sorted(finished, key=lambda record: record.number))
        return SweepProgress(done, total, best, rate, eta, ordered)


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "OBJECTIVE_METRICS",
    "BatchRunner",
    "Constraints",
    "Direction",
    "Objective",
    "StreamingRunner",
    "SweepProgress",
    "SweepResult",
    "SweepSpec",
    "TrialRecord",
    "TrialRunnerFactory",
    "check_spec",
    "figures",
    "local_trials",
    "rank_best",
    "run_study",
    "run_sweep",
    "sweep_identity",
    "sweep_result",
    "trials_total",
]
