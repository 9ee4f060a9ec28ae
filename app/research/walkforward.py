"""Walk-forward analysis: optimise on each fold's train window, trade the chosen params on its
test window, and keep the test runs as one out-of-sample account.

One walk-forward, in order (docs/research.md, "Walk-forward"):
1. Everything is checked before any work: the sweep spec (`check_spec`), the fold layout over
   the run's bars (`plan_folds`, with the strategy's warm-up), the acceptance thresholds. The
   warm-up, unless given, is measured first (`with_measured_warmup`: probe trials of the first
   train window at the search space's corners, app.research.warmup_probe), so a train window
   too short for it is refused with the real figure before any fold runs.
2. Per fold, in fold order:
   a. The sweep runs on the train window: the base run restricted to `[train start, train
      end)` (`config.start` = train start, `config.end` = the last instant before the test
      window). The engine cuts every bar after `end` before the strategy exists, so no
      train trial sees a test bar, and what is open at the last train bar is closed there.
   b. The best feasible trial's params (the first of the ranking; for NSGA-II the front's
      best on the first objective) run on the test window as a standalone run through the
      run service: `start` = test start (the bars before it warm indicators up, nothing
      trades before it), `end` = the last instant of the test window, and the cash the
      previous fold's test run ended with; it executes where `tests` says (this machine's
      sandbox by default, `local_tests`; a `strategylab worker`: app.jobs.fold_tests) and is
      recorded here by the run service. Its folder is written to `folds/fold-NN/test/`,
      the sweep's trials.csv and best.json (with its overfitting statistics) to
      `folds/fold-NN/train/`.
3. A fold a gap leaves without bars is skipped with its reason; a fold without a feasible
   trial, whose test run fails, or left after the account is emptied, is not traded, the
   account carrying its equity to the next fold.

Each fold's study is stored (`storage_url`) under a name derived from what it depends on, so
the same walk-forward run again resumes its sweeps; test runs are deterministic and rerun.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal, Protocol

import numpy as np

from app.engine import EngineError, RunResult
from app.engine.loop import cut_after_end
from app.research.errors import ResearchInputError
from app.research.folds import Fold, FoldPlan, FoldScheme, plan_folds
from app.research.oos_account import FoldRun, StitchedAccount, stitch
from app.research.sweep import (
    SweepProgress,
    SweepResult,
    SweepSpec,
    TrialRecord,
    TrialRunnerFactory,
    check_spec,
    figures,
    local_trials,
    run_sweep,
    sweep_identity,
)
from app.research.sweep_outputs import best_document, write_sweep_outputs
from app.research.warmup_probe import measure_warmup
from app.runs.prepare import PreparedRun, with_params
from app.runs.service import RunOutcome, RunService
from sandbox import RunCancelled, SandboxError, WarmWorker, start_worker

DOOR: Final = "walkforward"
DEFAULT_STUDY_PREFIX: Final = "walkforward"
FoldStatus = Literal["tested", "skipped", "no_feasible_trial", "failed", "cancelled", "idle"]


@dataclass(frozen=True)
class Acceptance:
    """The user's thresholds: at least `min_trades` in-sample trades per fold (the chosen
    trial's train run), and an overall walk-forward efficiency of at least `min_efficiency`."""

    min_trades: int | None = None
    min_efficiency: float | None = None


@dataclass(frozen=True)
class WalkForwardSpec:
    """A walk-forward: the sweep run on each train window, the fold layout, the strategy's
    warm-up in bars from the first bar (the first train window must hold more; None: measured
    before the folds run, `with_measured_warmup`, which sets `warmup_note` to how), and the
    acceptance thresholds."""

    sweep: SweepSpec
    scheme: FoldScheme
    warmup_bars: int | None
    acceptance: Acceptance = Acceptance()
    warmup_note: str | None = None


@dataclass(frozen=True)
class WalkForwardProgress:
    """Where a walk-forward is: fold `fold` of `folds_total`, optimising (with the sweep's
    own progress: trial j of m) or testing."""

    fold: int
    folds_total: int
    phase: Literal["optimize", "test"]
    sweep: SweepProgress | None = None


@dataclass(frozen=True)
class FoldOutcome:
    """What happened in one fold. `chosen` is the train trial whose params were tested;
    `test` the test run (None when the fold was not traded, `reason` says why);
    `start_equity` the account's equity when the fold began; `overfitting` the train sweep's
    DSR/PBO statistics (`app.research.overfitting.sweep_statistics`, as in best.json)."""

    fold: Fold
    status: FoldStatus
    start_equity: float
    chosen: TrialRecord | None = None
    test: RunResult | None = None
    trials: int = 0
    feasible_trials: int = 0
    reason: str | None = None
    overfitting: dict[str, Any] | None = None  # the train sweep's best.json statistics

    @property
    def end_equity(self) -> float:
        if self.test is None:
            return self.start_equity
        return (
            float(self.test.equity.equity[-1])
            if len(self.test.equity.equity)
            else self.start_equity
        )

    @property
    def train_figures(self) -> Mapping[str, Any]:
        return figures(self.chosen.metrics) if self.chosen is not None else {}


@dataclass(frozen=True)
class WalkForwardResult:
    """Every fold's outcome in fold order, the stitched out-of-sample account, and whether
    `cancel` stopped the walk-forward before its last fold."""

    plan: FoldPlan
    folds: tuple[FoldOutcome, ...]
    account: StitchedAccount
    initial_cash: float
    cancelled: bool


ProgressCallback = Callable[[WalkForwardProgress], None]


class FoldTestError(Exception):
    """A fold's test run failed where it executed (a `strategylab worker`): `reason` is the
    sentence the local run's exception would have said."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FoldTest(Protocol):
    """Runs one fold's test window and records it (its folder in `out_dir` when given)."""

    def run(
        self, prepared: PreparedRun, *, out_dir: Path | None, cancel: threading.Event | None
    ) -> RunOutcome:
        """The recorded run; raises RunCancelled, FoldTestError, or a local run's errors
        (SandboxError, EngineError, ValueError)."""
        ...


class FoldTestFactory(Protocol):
    """Opens the test of one fold before its sweep (so a local worker starts while the sweep
    runs); `key` names the fold (its study's name), so a test kept outside this process is
    found again after a restart and never run twice."""

    def __call__(
        self, service: RunService, *, names: dict[str, str], key: str
    ) -> AbstractContextManager[FoldTest]: ...


@dataclass(frozen=True)
class _LocalTest:
    """A fold's test run on this machine, in a sandbox worker started before the sweep."""

    service: RunService
    names: dict[str, str]
    worker: WarmWorker

    def run(
        self, prepared: PreparedRun, *, out_dir: Path | None, cancel: threading.Event | None
    ) -> RunOutcome:
        return self.service.run(
            prepared,
            door=DOOR,
            names=self.names,
            cancel=cancel,
            worker=self.worker,
            out_dir=out_dir,
        )


@contextmanager
def local_tests(service: RunService, *, names: dict[str, str], key: str) -> Iterator[FoldTest]:
    """The embedded default: the fold's test run in a sandbox worker of this machine, started
    now so its start-up overlaps the fold's sweep; killed on the way out, used or not."""
    del key
    with start_worker() as worker:
        yield _LocalTest(service, names, worker)


def plan_for(base: PreparedRun, spec: WalkForwardSpec) -> FoldPlan:
    """The folds of `spec` over the bars `base` trades (its config's start and end applied)."""
    config = base.inputs.config
    market = cut_after_end(base.market, config.end)
    first = 0 if config.start is None else int(np.searchsorted(market.time, config.start))
    if first >= len(market):
        raise ResearchInputError("start", "the period starts after the last bar of the data")
    return plan_folds(
        market.time[first:],
        market.bar_ns,
        spec.scheme,
        warmup_bars=spec.warmup_bars or 0,
        warmup_note=spec.warmup_note,
    )


def with_measured_warmup(
    spec: WalkForwardSpec,
    base: PreparedRun,
    *,
    workers: int = 1,
    trials: TrialRunnerFactory = local_trials,
    study_prefix: str = DEFAULT_STUDY_PREFIX,
    cancel: threading.Event | None = None,
) -> WalkForwardSpec:
    """`spec` with its warm-up measured when it has none (app.research.warmup_probe): the
    largest over probe trials of the first fold's train window (run with `trials`, as the
    folds' trials are), `warmup_note` saying which params need it. The fold layout is checked
    first, so a scheme that cannot fit the data is refused before any probe runs. Cancelled
    while probing, `spec` comes back unmeasured (the folds then end cancelled)."""
    if spec.warmup_bars is not None:
        return spec
    first = check_walkforward(base, spec).folds[0]
    training = in_sample_run(base, first)
    name = fold_study_name(spec.sweep, training, first, f"{study_prefix}-warmup")
    try:
        measured = measure_warmup(
            training,
            base,
            spec.sweep.space,
            trials=trials,
            study_name=name,
            workers=workers,
            cancel=cancel,
        )
    except ResearchInputError:
        if cancel is not None and cancel.is_set():
            return spec  # cancelled while probing: the folds end cancelled, nothing refused
        raise
    if cancel is not None and cancel.is_set():
        return spec  # some probes were cut short: no figure to judge the folds by
    note = measured.describe()
    if measured.never_ready:
        note += f"; on_data would never be called on the data's {measured.bars} bars"
    return replace(spec, warmup_bars=measured.bars, warmup_note=note)


def check_walkforward(base: PreparedRun, spec: WalkForwardSpec) -> FoldPlan:
    """Every check before any work (ResearchInputError, one sentence); the fold plan."""
    check_spec(spec.sweep)
    acceptance = spec.acceptance
    if acceptance.min_trades is not None and acceptance.min_trades < 0:
        raise ResearchInputError("min_trades", f"must be 0 or more; got {acceptance.min_trades}")
    if acceptance.min_efficiency is not None and not np.isfinite(acceptance.min_efficiency):
        raise ResearchInputError(
            "min_efficiency",
            f"must be a finite number such as 0.5; got {acceptance.min_efficiency}",
        )
    return plan_for(base, spec)


def in_sample_run(base: PreparedRun, fold: Fold) -> PreparedRun:
    """`base` restricted to the fold's train window `[train start, train end)`."""
    return _period(base, fold.train_start, fold.train_end)


def out_of_sample_run(
    base: PreparedRun, fold: Fold, params: Mapping[str, object], cash: float
) -> PreparedRun:
    """The fold's test run: `params`, `cash`, trading `[test start, test end)` only."""
    prepared = _period(with_params(base, params), fold.test_start, fold.test_end)
    config = replace(prepared.inputs.config, cash=cash)
    return replace(prepared, inputs=replace(prepared.inputs, config=config))


def _period(base: PreparedRun, start: int, end_exclusive: int) -> PreparedRun:
    # RunConfig.end is the last instant used (bars opening after it are cut): one ns before.
    config = replace(base.inputs.config, start=start, end=end_exclusive - 1)
    return replace(base, inputs=replace(base.inputs, config=config))


def fold_study_name(
    spec: SweepSpec, prepared_train: PreparedRun, fold: Fold, prefix: str = DEFAULT_STUDY_PREFIX
) -> str:
    """The stored study of a fold's sweep: `prefix`, then the fold and a digest of everything it
    depends on, so rerunning the same walk-forward resumes it and a changed one starts afresh.
    The server gives each walk-forward its own prefix, so deleting one deletes its studies."""
    identity = json.dumps(sweep_identity(spec, prepared_train), sort_keys=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return f"{prefix}-fold{fold.number:02d}-{digest}"


def run_walkforward(
    spec: WalkForwardSpec,
    base: PreparedRun,
    *,
    service: RunService,
    storage_url: str,
    workers: int,
    names: dict[str, str],
    folds_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    study_prefix: str = DEFAULT_STUDY_PREFIX,
    trials: TrialRunnerFactory = local_trials,
    tests: FoldTestFactory = local_tests,
) -> WalkForwardResult:
    """Run the walk-forward `spec` over `base` (module docstring). `names` are the door's
    names for provenance (strategy and data file); each test run's folder goes to
    `folds_dir/fold-NN/` when given. Setting `cancel` stops after the running trials; the
    folds done so far are kept and the result says `cancelled`. The folds' studies are named
    `study_prefix-foldNN-<digest>` (`fold_study_name`). `trials` makes each fold's trial
    runner and `tests` its test run (this machine's sandboxed workers by default; on
    `strategylab worker`s: app.jobs.remote_trials, app.jobs.fold_tests)."""
    spec = with_measured_warmup(
        spec, base, workers=workers, trials=trials, study_prefix=study_prefix, cancel=cancel
    )
    plan = check_walkforward(base, spec)
    walk = _Walk(
        spec,
        base,
        service,
        storage_url,
        workers,
        names,
        folds_dir,
        on_progress,
        cancel,
        len(plan.folds),
        study_prefix,
        trials,
        tests,
    )
    initial = base.inputs.config.cash
    equity = initial
    outcomes: list[FoldOutcome] = []
    for fold in plan.folds:
        stopped = bool(outcomes and outcomes[-1].status == "cancelled")
        if stopped or (cancel is not None and cancel.is_set()):
            outcomes.append(FoldOutcome(fold, "cancelled", equity, reason="cancelled"))
            continue
        outcome = walk.run_fold(fold, equity)
        outcomes.append(outcome)
        equity = outcome.end_equity
    runs = [FoldRun(o.fold.number, o.test) for o in outcomes if o.test is not None]
    account = stitch(runs, base.market, initial_cash=initial)
    cancelled = any(o.status == "cancelled" for o in outcomes)
    return WalkForwardResult(plan, tuple(outcomes), account, initial, cancelled)


@dataclass(frozen=True)
class _Walk:
    """What every fold of one walk-forward runs with."""

    spec: WalkForwardSpec
    base: PreparedRun
    service: RunService
    storage_url: str
    workers: int
    names: dict[str, str]
    folds_dir: Path | None
    on_progress: ProgressCallback | None
    cancel: threading.Event | None
    total: int
    study_prefix: str
    trials: TrialRunnerFactory
    tests: FoldTestFactory

    def report(
        self, fold: Fold, phase: Literal["optimize", "test"], sweep: SweepProgress | None
    ) -> None:
        if self.on_progress is not None:
            self.on_progress(WalkForwardProgress(fold.number, self.total, phase, sweep))

    def run_fold(self, fold: Fold, equity: float) -> FoldOutcome:
        """Optimise on the fold's train window, then test the best params on its test window.
        The test is opened before the sweep, so a local worker's start-up overlaps it."""
        if not fold.is_runnable:
            return FoldOutcome(fold, "skipped", equity, reason=fold.skip_reason)
        if equity <= 0:
            return FoldOutcome(
                fold, "idle", equity, reason="the account is empty: nothing to trade"
            )
        training = in_sample_run(self.base, fold)
        study_name = fold_study_name(self.spec.sweep, training, fold, self.study_prefix)
        with self.tests(self.service, names=self.names, key=study_name) as test:
            sweep = run_sweep(
                self.spec.sweep,
                training,
                storage_url=self.storage_url,
                study_name=study_name,
                workers=self.workers,
                on_progress=lambda progress: self.report(fold, "optimize", progress),
                cancel=self.cancel,
                trials=self.trials,
            )
            if sweep.cancelled:
                reason = "cancelled while optimising"
                return _after_sweep(fold, "cancelled", equity, sweep, reason=reason)
            if self.folds_dir is not None:
                write_sweep_outputs(
                    sweep, self.spec.sweep, fold_dir(self.folds_dir, fold) / "train"
                )
            statistics = best_document(sweep, self.spec.sweep)["overfitting"]
            if not sweep.best:
                untraded = _after_sweep(
                    fold, "no_feasible_trial", equity, sweep, reason=_no_feasible(sweep)
                )
                return replace(untraded, overfitting=statistics)
            tested = self._test(fold, equity, sweep, sweep.best[0], test)
            return replace(tested, overfitting=statistics)

    def _test(
        self, fold: Fold, equity: float, sweep: SweepResult, chosen: TrialRecord, test: FoldTest
    ) -> FoldOutcome:
        self.report(fold, "test", None)
        out_dir = fold_dir(self.folds_dir, fold) / "test" if self.folds_dir is not None else None
        try:
            prepared = out_of_sample_run(self.base, fold, chosen.params, equity)
            outcome = test.run(prepared, out_dir=out_dir, cancel=self.cancel)
        except RunCancelled:
            reason = "cancelled while testing"
            return _after_sweep(fold, "cancelled", equity, sweep, chosen=chosen, reason=reason)
        except (SandboxError, EngineError, ValueError, FoldTestError) as error:
            reason = f"the test run failed: {' '.join(str(error).split())}"
            return _after_sweep(fold, "failed", equity, sweep, chosen=chosen, reason=reason)
        return _after_sweep(fold, "tested", equity, sweep, chosen=chosen, test=outcome.result)


def fold_dir(folds_dir: Path, fold: Fold) -> Path:
    """A fold's folder: `train/` holds its sweep's trials.csv and best.json, `test/` the
    test run's folder."""
    return folds_dir / f"fold-{fold.number:02d}"


def _after_sweep(
    fold: Fold,
    status: FoldStatus,
    equity: float,
    sweep: SweepResult,
    *,
    chosen: TrialRecord | None = None,
    test: RunResult | None = None,
    reason: str | None = None,
) -> FoldOutcome:
    feasible = sum(1 for trial in sweep.trials if trial.feasible)
    return FoldOutcome(fold, status, equity, chosen, test, len(sweep.trials), feasible, reason)


def _no_feasible(sweep: SweepResult) -> str:
    example = next((t for t in sweep.trials if t.error or t.infeasible_reason), None)
    detail = ""
    if example is not None:
        detail = f" (e.g. trial {example.number}: {example.error or example.infeasible_reason})"
    return f"none of the {len(sweep.trials)} trials on the train window was feasible{detail}"


__all__ = [
    "Acceptance",
    "FoldOutcome",
    "FoldTest",
    "FoldTestError",
    "FoldTestFactory",
    "WalkForwardProgress",
    "WalkForwardResult",
    "WalkForwardSpec",
    "check_walkforward",
    "fold_dir",
    "fold_study_name",
    "in_sample_run",
    "local_tests",
    "out_of_sample_run",
    "plan_for",
    "run_walkforward",
    "with_measured_warmup",
]
