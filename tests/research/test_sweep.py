"""Sweeps: seeded trial sequences, resume after a crash or a cancel loses and repeats no trial,
infeasible and failed trials kept as such, and (with the real sandboxed TrialRunner) every
trial equal to a standalone run to the byte and the same trials whatever the workers."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from app import strict_json
from app.data import generate_ohlcv
from app.engine import ParamValue
from app.research.errors import ResearchInputError
from app.research.space import parse_space
from app.research.study import open_storage, open_study, storage_at
from app.research.sweep import (
    Constraints,
    Objective,
    SweepSpec,
    TrialRecord,
    run_study,
    sweep_identity,
    sweep_result,
)
from app.research.sweep import _ask as ask_trial
from app.runs import RunOrder, RunService
from app.runs.prepare import PreparedRun, prepare_file_run, with_params
from app.runs.trials import TrialFailed, TrialOutcome, TrialRun, TrialRunner
from sandbox import ForkServer, OperatorMaximums, codec, start_fork_server, start_worker

EXAMPLES = Path(__file__).resolve().parents[2] / "strategies_examples"
DEFAULTS: dict[str, ParamValue] = {"fast": 10, "slow": 30, "amount": 0.1, "mode": "a"}
DAYS = 40


class SimulatedCrashError(Exception):
    """Stands for the sweep process dying mid-batch."""


class FakeRunner:
    """Trials as a pure function of their params (no sandbox): sharpe peaks at fast=12,
    slow=40; trades = fast; mode "boom" fails like a strategy error. Records every param set
    it runs; `crash_on_call` raises instead of running that call (1-based); `cancel_after`
    sets `cancel` (as Ctrl-C would) once that many trials of the first batch finished, and
    the rest of the batch is not run."""

    def __init__(self, *, crash_on_call: int | None = None, cancel_after: int | None = None):
        self.executed: list[dict[str, ParamValue]] = []
        self.calls = 0
        self.crash_on_call = crash_on_call
        self.cancel_after = cancel_after

    def run_batch(
        self,
        param_sets: Sequence[Mapping[str, ParamValue]],
        *,
        cancel: threading.Event | None = None,
        numbers: Sequence[int] | None = None,
    ) -> list[TrialOutcome | None]:
        self.calls += 1
        if self.calls == self.crash_on_call:
            raise SimulatedCrashError
        outcomes: list[TrialOutcome | None] = []
        for index, params in enumerate(param_sets):
            if cancel is not None and index == self.cancel_after:
                cancel.set()
            if cancel is not None and cancel.is_set():
                outcomes.append(None)
                continue
            full = {**DEFAULTS, **params}
            self.executed.append(full)
            outcomes.append(fake_outcome(full))
        return outcomes


def fake_outcome(params: dict[str, ParamValue]) -> TrialOutcome:
    if params["mode"] == "boom":
        return TrialFailed(params, "the strategy failed: ZeroDivisionError at line 3.")
    fast, slow = float(params["fast"]), float(params["slow"])
    sharpe = 3.0 - ((fast - 12) / 4) ** 2 - ((slow - 40) / 10) ** 2
    figures: dict[str, Any] = {
        "sharpe": sharpe if params["mode"] != "flat" else None,
        "total_return": sharpe / 10,
        "max_drawdown": -abs(slow) / 200,
        "trades": int(fast),
    }
    returns = np.full(DAYS, sharpe / 1000) + np.sin(np.arange(DAYS) * (fast + slow)) / 100
    return TrialRun(
        params=params,
        metrics={"metrics": figures, "conventions": {"annualisation_days": 365}},
        daily_returns=returns,
        day_ends=np.arange(DAYS, dtype=np.int64),
        trades=int(fast),
    )


def spec_of(method: str = "tpe", n_trials: int | None = 20, **changes: Any) -> SweepSpec:
    values: dict[str, Any] = {
        "space": parse_space(["fast=2:30", "slow=20:60:5"], DEFAULTS),
        "method": method,
        "objectives": (Objective("sharpe", "maximize"),),
        "constraints": Constraints(),
        "n_trials": n_trials,
        "seed": 7,
        "batch_size": 4,
    }
    values.update(changes)
    return SweepSpec(**values)


def new_study(spec: SweepSpec, path: Path | None = None, name: str = "s") -> optuna.Study:
    """A study in memory, or in the SQLite file `path`."""
    storage = open_storage(f"sqlite:///{path}") if path else optuna.storages.InMemoryStorage()
    identity = {"version": 1, "seed": spec.seed, "method": spec.method}
    return open_study(
        storage, name, identity=identity, directions=[o.direction for o in spec.objectives]
    )


def trial_rows(study: optuna.Study) -> list[tuple[int, dict[str, Any], tuple[float, ...] | None]]:
    return [
        (t.number, dict(t.params), tuple(t.values) if t.values else None)
        for t in study.get_trials()
    ]


@pytest.fixture(autouse=True)
def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("method", ["tpe", "random", "cmaes"])
def test_the_same_seed_asks_the_same_trials(method: str) -> None:
    spec = spec_of(method, 12)
    first, second = new_study(spec), new_study(spec)
    run_study(spec, first, FakeRunner())
    run_study(spec, second, FakeRunner())
    assert trial_rows(first) == trial_rows(second)
    assert len(trial_rows(first)) == 12
    other = spec_of(method, 12, seed=8)
    third = new_study(other)
    run_study(other, third, FakeRunner())
    assert trial_rows(third) != trial_rows(first)


def test_a_grid_runs_every_point_once(tmp_path: Path) -> None:
    spec = spec_of("grid", None, space=parse_space(["fast=5:7", "slow=30:40:5"], DEFAULTS))
    study = new_study(spec)
    runner = FakeRunner()
    run_study(spec, study, runner)
    points = sorted((p["fast"], p["slow"]) for p in runner.executed)
    assert points == [(f, s) for f in (5, 6, 7) for s in (30, 35, 40)]
    result = sweep_result(spec, study, cancelled=False)
    assert result.best[0].params["fast"] == 7 and result.best[0].params["slow"] == 40


def test_a_study_resumed_after_a_crash_mid_batch_ends_like_an_uninterrupted_one(
    tmp_path: Path,
) -> None:
    spec = spec_of("tpe", 24)
    whole = new_study(spec)
    run_study(spec, whole, FakeRunner())
    broken = new_study(spec, tmp_path / "broken.db")
    crashing = FakeRunner(crash_on_call=4)  # dies in batch 4: trials 12-15 asked, not run
    with pytest.raises(SimulatedCrashError):
        run_study(spec, broken, crashing)
    states = [t.state for t in broken.get_trials()]
    assert states == [TrialState.COMPLETE] * 12 + [TrialState.RUNNING] * 4
    finished_before = {t.number: t.datetime_complete for t in broken.get_trials()[:12]}
    resumed = FakeRunner()
    run_study(spec, broken, resumed)
    assert trial_rows(broken) == trial_rows(whole)
    # Completed trials were never run again: the resumed process ran only trials 12..23,
    # and the first 12 keep their completion times.
    assert len(crashing.executed) + len(resumed.executed) == 24
    assert resumed.executed[0] == {**DEFAULTS, **broken.get_trials()[12].params}
    assert {t.number: t.datetime_complete for t in broken.get_trials()[:12]} == finished_before


def test_a_study_killed_while_asking_a_batch_continues_that_batch(tmp_path: Path) -> None:
    spec = spec_of("tpe", 16)
    whole = new_study(spec)
    run_study(spec, whole, FakeRunner())
    partial = new_study(spec)
    run_study(spec_of("tpe", 8), partial, FakeRunner())  # batches 0-3 and 4-7 told
    ask_trial(spec, partial, 8)
    ask_trial(spec, partial, 9)  # killed here: 8 and 9 asked, 10 and 11 not yet
    run_study(spec, partial, FakeRunner())
    assert trial_rows(partial) == trial_rows(whole)


def test_cancel_keeps_the_finished_trials_and_the_rest_run_on_resume(tmp_path: Path) -> None:
    spec = spec_of("tpe", 12)
    whole = new_study(spec)
    run_study(spec, whole, FakeRunner())
    study = new_study(spec)
    cancel = threading.Event()
    first = FakeRunner(cancel_after=3)  # 3 of the first batch finish, the 4th is cut off
    assert run_study(spec, study, first, cancel=cancel) is True
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE] * 3 + [TrialState.RUNNING]
    result = sweep_result(spec, study, cancelled=True)
    assert [r.number for r in result.trials] == [0, 1, 2] and result.cancelled
    second = FakeRunner()
    assert run_study(spec, study, second) is False
    assert trial_rows(study) == trial_rows(whole)
    assert len(first.executed) + len(second.executed) == 12


def test_infeasible_trials_keep_their_real_values_and_are_never_best(tmp_path: Path) -> None:
    spec = spec_of(
        "grid",
        None,
        space=parse_space(["fast=8:16:4", "slow=40"], DEFAULTS),
        constraints=Constraints(min_trades=10),
    )
    study = new_study(spec)
    run_study(spec, study, FakeRunner())
    result = sweep_result(spec, study, cancelled=False)
    by_fast = {r.params["fast"]: r for r in result.trials}
    low = by_fast[8]  # 8 trades < 10: infeasible, though its sharpe (2.0) is stored as is
    assert low.feasible is False and low.error is None
    assert low.values == (2.0,)
    assert low.infeasible_reason == "8 trades, fewer than --min-trades 10"
    assert by_fast[12].feasible and by_fast[16].feasible
    assert [r.params["fast"] for r in result.best] == [12]
    assert result.feasible_numbers == tuple(
        r.number for r in result.trials if r.params["fast"] != 8
    )
    assert result.daily_returns.shape == (DAYS, 2)


def test_a_drawdown_limit_makes_deeper_trials_infeasible(tmp_path: Path) -> None:
    spec = spec_of(
        "grid",
        None,
        space=parse_space(["fast=12", "slow=30,50"], DEFAULTS),
        constraints=Constraints(max_drawdown=0.2),
    )
    study = new_study(spec)
    run_study(spec, study, FakeRunner())
    records = {r.params["slow"]: r for r in sweep_result(spec, study, cancelled=False).trials}
    assert records[30].feasible  # drawdown 0.15
    assert not records[50].feasible  # drawdown 0.25 > 0.2
    assert "deeper than --max-drawdown 0.2" in (records[50].infeasible_reason or "")


def test_a_failing_trial_is_recorded_with_its_error_and_the_sweep_goes_on(
    tmp_path: Path,
) -> None:
    spec = spec_of("grid", None, space=parse_space(["fast=12", "mode=a,boom,flat"], DEFAULTS))
    study = new_study(spec)
    run_study(spec, study, FakeRunner())
    records: dict[Any, TrialRecord] = {
        r.params["mode"]: r for r in sweep_result(spec, study, cancelled=False).trials
    }
    assert records["boom"].error == "the strategy failed: ZeroDivisionError at line 3."
    assert records["boom"].feasible is False and records["boom"].metrics == {}
    assert records["flat"].feasible is False and records["flat"].values is None
    assert records["flat"].infeasible_reason == "sharpe is undefined for this trial"
    assert records["a"].feasible
    states = {t.user_attrs["sweep_trial"]["params"]["mode"]: t.state for t in study.get_trials()}
    assert states == {"a": TrialState.COMPLETE, "boom": TrialState.FAIL, "flat": TrialState.FAIL}


def test_nsga2_keeps_the_pareto_front_of_two_objectives(tmp_path: Path) -> None:
    spec = spec_of(
        "nsga2",
        16,
        objectives=(Objective("sharpe", "maximize"), Objective("max_drawdown", "maximize")),
    )
    study = new_study(spec)
    run_study(spec, study, FakeRunner())
    result = sweep_result(spec, study, cancelled=False)
    front = result.best
    assert front
    values = [r.values for r in result.trials if r.values is not None]
    for member in front:
        assert member.values is not None
        assert not any(
            all(o >= m for o, m in zip(other, member.values, strict=True))
            and other != member.values
            for other in values
        )
    assert [r.values[0] for r in front if r.values] == sorted(
        (r.values[0] for r in front if r.values), reverse=True
    )


def test_a_study_with_another_spec_is_not_resumed(tmp_path: Path) -> None:
    spec = spec_of("tpe", 4)
    storage = open_storage(f"sqlite:///{tmp_path / 'r.db'}")
    open_study(storage, "s", identity={"seed": 7, "method": "tpe"}, directions=["maximize"])
    with pytest.raises(ResearchInputError) as caught:
        open_study(storage, "s", identity={"seed": 8, "method": "tpe"}, directions=["maximize"])
    assert caught.value.field == "resume"
    assert "--seed" in caught.value.message and "another --out" in caught.value.message
    assert spec.seed == 7


# --- the real sandboxed TrialRunner -----------------------------------------------------------


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> PreparedRun:
    path = tmp_path_factory.mktemp("sweep-data") / "m.csv"
    generate_ohlcv(bars=1_200, timeframe="1h", seed=11).to_csv(path)
    return prepare_file_run(
        EXAMPLES / "sma_crossover.py",
        path,
        RunOrder(),
        symbol="BTCUSDT",
        maximums=OperatorMaximums(),
    )


@pytest.fixture(scope="module")
def runner(base: PreparedRun) -> Any:
    with TrialRunner(base, workers=2) as shared:
        yield shared


@pytest.fixture(scope="module")
def standalone_server() -> Iterator[ForkServer]:
    """The fork server of the standalone runs, apart from the trials' (as the server's job
    pool has its own): a worker started from scratch cost each run ~2 s of CPU in imports."""
    server = start_fork_server()
    yield server
    server.close()


def test_every_grid_trial_equals_a_standalone_run_to_the_byte(
    base: PreparedRun, runner: TrialRunner, standalone_server: ForkServer, tmp_path: Path
) -> None:
    defaults = base.inputs.inspection.defaults
    spec = spec_of("grid", None, space=parse_space(["fast=5:15:5", "slow=30,40"], defaults))
    study = open_study(
        open_storage(f"sqlite:///{tmp_path / 'grid.db'}"),
        "grid",
        identity=sweep_identity(spec, base),
        directions=["maximize"],
    )
    run_study(spec, study, runner)
    result = sweep_result(spec, study, cancelled=False)
    assert len(result.trials) == 6 and all(r.feasible for r in result.trials)
    service = RunService()
    for record in result.trials:
        folder = tmp_path / f"run-{record.number}"
        service.run(
            with_params(base, record.params),
            door="cli",
            names={},
            worker=start_worker(standalone_server),
            out_dir=folder,
        )
        standalone = (folder / "metrics.json").read_bytes()
        assert strict_json.dumps(record.metrics, indent=2).encode() + b"\n" == standalone
    assert result.daily_returns.shape[1] == 6


def test_a_sweeps_market_goes_to_its_fork_server_once_and_in_no_trials_job(
    runner: TrialRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[object] = []
    real = codec.market_arrays

    def counting(market: Any) -> Any:
        encoded.append(market)
        return real(market)

    monkeypatch.setattr(codec, "market_arrays", counting)
    outcomes = runner.run_batch([{"fast": 5}, {"fast": 6}, {"fast": 7}, {"fast": 8}])
    assert all(isinstance(outcome, TrialRun) for outcome in outcomes)
    assert len(encoded) <= 1  # loaded into the fork server (if this runner had not yet): once


def test_a_seeded_tpe_sweep_gives_the_same_trials_with_1_and_2_workers(
    base: PreparedRun, runner: TrialRunner, tmp_path: Path
) -> None:
    defaults = base.inputs.inspection.defaults
    spec = spec_of("tpe", 12, space=parse_space(["fast=3:20", "slow=25:60:5"], defaults))
    two = new_study(spec)
    run_study(spec, two, runner)  # the shared runner has 2 workers
    one = new_study(spec)
    with TrialRunner(base, workers=1) as single:
        run_study(spec, one, single)
    rows = [trial_rows(two), trial_rows(one)]
    assert rows[0] == rows[1]
    assert len(rows[0]) == 12


@pytest.mark.slow
def test_a_study_on_postgresql_resumes_like_one_in_sqlite(tmp_path: Path) -> None:
    from tests.db.pg_cluster import started_cluster

    with started_cluster() as cluster:
        _, url = cluster.create_database()
        spec = spec_of("tpe", 12)
        whole = new_study(spec)
        run_study(spec, whole, FakeRunner())
        identity = {"version": 1, "seed": spec.seed, "method": spec.method}
        with storage_at(url) as storage:
            study = open_study(storage, "pg", identity=identity, directions=["maximize"])
            with pytest.raises(SimulatedCrashError):
                run_study(spec, study, FakeRunner(crash_on_call=2))
        with storage_at(url) as storage:  # a new process: a new connection
            study = open_study(storage, "pg", identity=identity, directions=["maximize"])
            run_study(spec, study, FakeRunner())
            assert trial_rows(study) == trial_rows(whole)


@pytest.mark.parametrize("method", ["tpe", "nsga2"])
def test_constrained_samplers_see_infeasible_trials(method: str) -> None:
    objectives = (
        (Objective("sharpe"),)
        if method == "tpe"
        else (
            Objective("sharpe"),
            Objective("total_return"),
        )
    )
    spec = spec_of(method, 12, constraints=Constraints(min_trades=12), objectives=objectives)
    study = new_study(spec)
    run_study(spec, study, FakeRunner())
    result = sweep_result(spec, study, cancelled=False)
    assert result.best and all(r.feasible for r in result.best)
    infeasible = [t for t in study.get_trials() if t.params["fast"] < 12]
    assert infeasible
    assert all(t.constraints["min_trades"] > 0 for t in infeasible)
    assert all(
        t.constraints["min_trades"] <= 0 for t in study.get_trials() if t.params["fast"] >= 12
    )
