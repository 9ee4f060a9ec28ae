"""Walk-forward end to end on a tiny market with a gap: train runs never see test bars, test
runs trade only inside their window (earlier bars only warm indicators up), the stitched
account is continuous, and the files say what happened."""

from __future__ import annotations

import csv
import itertools
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.engine import RunConfig
from app.research.errors import ResearchInputError
from app.research.folds import DurationWindows, EqualFolds
from app.research.oos_account import stitch
from app.research.space import parse_space
from app.research.sweep import Constraints, Objective, SweepSpec
from app.research.walkforward import (
    Acceptance,
    FoldOutcome,
    WalkForwardResult,
    WalkForwardSpec,
    check_walkforward,
    in_sample_run,
    out_of_sample_run,
    run_walkforward,
)
from app.research.walkforward_outputs import write_walkforward_outputs
from app.runs import RunOrder, RunService
from app.runs.folder import metrics_document
from app.runs.prepare import PreparedRun, prepare_file_run, with_params
from sandbox import OperatorMaximums

HOUR = 3_600_000_000_000
DAY = 24 * HOUR

# Logs what it sees on every bar: the bar's index, how many closes it can read, and the slow
# average (NaN while it is still warming up).
PROBE = """
class Probe(Strategy):
    params = {"fast": 3, "slow": 8, "amount": 0.5}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])
        self.log("init", len(self.data.close))

    def on_data(self, bar):
        self.log("bar", bar.index, len(self.data.close), self.slow[-1])
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(self.params["amount"])
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(self.params["amount"])
"""


def write_market(path: Path) -> pd.DatetimeIndex:
    """16 days of hourly bars from 2024-01-01 without 2024-01-11 (a one-day gap): a sine wave
    of a 30-hour period on a slow trend, so crossovers trade in every window."""
    index = pd.date_range("2024-01-01", periods=16 * 24, freq="1h", tz="UTC", name="time")
    gap_start, gap_end = pd.Timestamp("2024-01-11", tz="UTC"), pd.Timestamp("2024-01-12", tz="UTC")
    index = index[(index < gap_start) | (index >= gap_end)]
    i = np.arange(len(index))
    close = 100 + 0.05 * i + 6 * np.sin(2 * math.pi * i / 30)
    frame = pd.DataFrame(
        {
            "time": index.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "open": close,
            "high": close + 0.5,
            "low": close - 0.5,
            "close": close,
            "volume": 1.0,
        }
    )
    frame.to_csv(path, index=False)
    return index


@dataclass(frozen=True)
class Setup:
    base: PreparedRun
    spec: WalkForwardSpec
    result: WalkForwardResult
    out: Path
    service: RunService
    times: pd.DatetimeIndex


def make_base(tmp: Path, code: str = PROBE) -> tuple[PreparedRun, pd.DatetimeIndex]:
    strategy = tmp / "probe.py"
    strategy.write_text(code, encoding="utf-8")
    times = write_market(tmp / "market.csv")
    base = prepare_file_run(
        strategy,
        tmp / "market.csv",
        RunOrder(options={"fee_taker": 0.0, "fee_maker": 0.0}),
        symbol="TESTUSDT",
        maximums=OperatorMaximums(),
    )
    return base, times


def make_spec(
    base: PreparedRun,
    scheme: DurationWindows | EqualFolds,
    warmup_bars: int | None = None,
    **acceptance: float,
) -> WalkForwardSpec:
    """The grid fast 2, 4 x slow 8, 12; `warmup_bars` None: measured when it runs."""
    defaults = base.inputs.inspection.defaults
    space = parse_space(["fast=2:4:2", "slow=8:12:4"], defaults)
    sweep = SweepSpec(
        space=space,
        method="grid",
        objectives=(Objective("total_return", "maximize"),),
        constraints=Constraints(),
        n_trials=None,
        seed=7,
    )
    return WalkForwardSpec(
        sweep=sweep,
        scheme=scheme,
        warmup_bars=warmup_bars,
        acceptance=Acceptance(
            min_trades=int(acceptance.get("min_trades", 1)),
            min_efficiency=acceptance.get("min_efficiency", -100.0),
        ),
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    tmp = tmp_path_factory.mktemp("walkforward")
    base, times = make_base(tmp)
    # train 6d, test 3d: tests Jan 7-10, Jan 10-13 (holding the gap day Jan 11), Jan 13-16.
    spec = make_spec(base, DurationWindows(6 * DAY, 3 * DAY))
    service = RunService()
    out = tmp / "out"
    result = run_walkforward(
        spec,
        base,
        service=service,
        storage_url=f"sqlite:///{tmp / 'study.db'}",
        workers=1,
        names={"strategy_file": "probe.py", "data_file": "market.csv"},
        folds_dir=out / "folds",
    )
    write_walkforward_outputs(result, spec, base.market, out)
    return Setup(base, spec, result, out, service, times)


@pytest.mark.slow
def test_every_fold_is_optimised_and_tested(setup: Setup) -> None:
    assert [o.status for o in setup.result.folds] == ["tested", "tested", "tested"]
    assert [o.trials for o in setup.result.folds] == [4, 4, 4]
    assert [o.fold.test_bars for o in setup.result.folds] == [72, 48, 72]  # the gap day
    assert not setup.result.cancelled


@pytest.mark.slow
def test_train_runs_never_see_test_bars(setup: Setup) -> None:
    for outcome in setup.result.folds:
        fold, chosen = outcome.fold, outcome.chosen
        assert chosen is not None
        train = with_params(in_sample_run(setup.base, fold), chosen.params)
        run = setup.service.run(train, door="test", names={}).result
        assert run.logs, "the probe logs every bar"
        assert max(line.time for line in run.logs) < fold.train_end
        assert int(run.equity.time[-1]) < fold.train_end
        assert all(t.exit_time < fold.train_end for t in run.trades)
        # The chosen trial's metrics are exactly this restricted run's: the sweep ran it.
        assert chosen.metrics == json.loads(json.dumps(metrics_document(run)))


@pytest.mark.slow
def test_test_runs_trade_only_inside_their_window_after_a_warm_up(setup: Setup) -> None:
    for outcome in setup.result.folds:
        fold, test = outcome.fold, outcome.test
        assert test is not None
        bar_lines = [line for line in test.logs if line.message.startswith("bar ")]
        assert min(line.time for line in bar_lines) == fold.test_start  # nothing before it
        assert max(line.time for line in test.logs) < fold.test_end
        assert all(
            fold.test_start <= t.entry_time and t.exit_time < fold.test_end for t in test.trades
        )
        assert test.trades, "the probe trades in every window"
        # Warm-up reads: at the first test bar the strategy reads the bars before it and the
        # slow average is already formed from them.
        _, index, visible, slow = bar_lines[0].message.split()
        assert int(visible) == int(index) + 1 > outcome.chosen.params["slow"]  # type: ignore[union-attr, operator]
        assert not math.isnan(float(slow))
        assert int(test.equity.time[0]) == fold.test_start


@pytest.mark.slow
def test_stitched_account_is_continuous(setup: Setup) -> None:
    folds = setup.result.folds
    assert folds[0].start_equity == setup.base.inputs.config.cash
    for before, after in itertools.pairwise(folds):
        assert after.start_equity == before.end_equity
        assert after.test is not None
        assert after.test.config.cash == before.end_equity
        assert float(after.test.equity.equity[0]) == before.end_equity
    with (setup.out / "equity.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for k in (1, 2):
        last = [r for r in rows if r["fold"] == str(k)][-1]
        first = next(r for r in rows if r["fold"] == str(k + 1))
        assert first["equity"] == last["equity"]
        assert float(last["position"]) == 0.0  # closed at the fold boundary
    account = setup.result.account
    assert account.metrics["final_equity"] == folds[-1].end_equity
    assert account.metrics["trades"] == sum(len(o.test.trades) for o in folds if o.test)


@pytest.mark.slow
def test_files_hold_folds_efficiency_stability_and_acceptance(setup: Setup) -> None:
    with (setup.out / "folds.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["fold"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["test_start"] == "2024-01-07T00:00:00Z"
    assert rows[1]["test_end"] == "2024-01-13T00:00:00Z"
    for name in (
        "param_fast",
        "param_slow",
        "train_total_return",
        "test_total_return",
        "train_trades",
        "efficiency",
    ):
        assert name in rows[0]
    summary = json.loads((setup.out / "walkforward.json").read_text())
    assert summary["scheme"]["train"] == "6d"
    # measured by probe trials: sma(12) has its first value at bar 11 (0-based)
    assert summary["scheme"]["warmup_bars"] == 11
    assert summary["scheme"]["warmup"] == "measured with fast=2, slow=12"
    # The data ends Jan 17 00:00; the last whole test window ends Jan 16: a day untested.
    assert summary["scheme"]["untested_tail"] == {
        "start": "2024-01-16T00:00:00Z",
        "end": "2024-01-17T00:00:00Z",
    }
    per_fold = summary["efficiency"]["per_fold"]
    for row, value in zip(rows, per_fold, strict=True):
        train_annual, test_annual = (
            float(row["train_annual_return"]),
            float(row["test_annual_return"]),
        )
        expected = test_annual / train_annual if train_annual > 0 else None
        assert value == (pytest.approx(expected) if expected is not None else None)
    assert set(summary["parameter_stability"]) >= {"fast", "slow"}
    t_test = summary["out_of_sample"]["mean_daily_return_test"]
    assert t_test["days"] >= 5
    assert summary["acceptance"]["min_trades"]["threshold"] == 1
    assert isinstance(summary["acceptance"]["passed"], bool)
    fold_1 = setup.out / "folds" / "fold-01"
    assert (fold_1 / "test" / "metrics.json").is_file()  # the test run's folder
    best = json.loads((fold_1 / "train" / "best.json").read_text())  # the train sweep's
    assert best["best"]["params"] == summary["folds"][0]["params"]
    assert summary["folds"][0]["overfitting"] == best["overfitting"]
    assert "train_dsr" in rows[0]
    assert "overfitting" not in rows[0]
    with (setup.out / "trades.csv").open() as handle:
        trades = list(csv.DictReader(handle))
    assert len(trades) == summary["out_of_sample"]["metrics"]["trades"]


@pytest.mark.slow
def test_a_rerun_resumes_the_stored_sweeps_and_repeats_the_result(
    setup: Setup, tmp_path: Path
) -> None:
    # Same storage, same spec: every fold's study is complete, so nothing is optimised again
    # and the chosen params and test runs are identical.
    storage = setup.out.parent / "study.db"
    again = run_walkforward(
        setup.spec,
        setup.base,
        service=setup.service,
        storage_url=f"sqlite:///{storage}",
        workers=1,
        names={},
    )
    assert [o.chosen.params for o in again.folds if o.chosen] == [
        o.chosen.params for o in setup.result.folds if o.chosen
    ]
    assert again.account.metrics == setup.result.account.metrics


def test_bad_inputs_are_refused_before_any_work(tmp_path: Path) -> None:
    base, _ = make_base(tmp_path)
    cases: list[tuple[DurationWindows | EqualFolds, str, str]] = [
        (DurationWindows(15 * DAY, 3 * DAY), "train", "longer than the data"),
        (DurationWindows(6 * DAY, 3 * DAY, DAY), "step", "overlap"),
        (DurationWindows(10 * HOUR, 3 * DAY), "train", "warm-up of 12 bars: lengthen"),
        (EqualFolds(3, 1.5), "train_ratio", "between 0 and 1"),
    ]
    for scheme, field, words in cases:
        with pytest.raises(ResearchInputError) as caught:
            check_walkforward(base, make_spec(base, scheme, warmup_bars=12))
        assert caught.value.field == field, scheme
        assert words in str(caught.value)
    bad = make_spec(base, DurationWindows(6 * DAY, 3 * DAY), min_trades=-1)
    with pytest.raises(ResearchInputError, match="min_trades"):
        check_walkforward(base, bad)


def test_test_run_trades_the_window_with_the_given_cash(tmp_path: Path) -> None:
    base, _ = make_base(tmp_path)
    plan = check_walkforward(base, make_spec(base, DurationWindows(6 * DAY, 3 * DAY)))
    fold = plan.folds[1]
    config: RunConfig = out_of_sample_run(base, fold, {"fast": 2}, 12_345.0).inputs.config
    assert (config.start, config.end, config.cash) == (fold.test_start, fold.test_end - 1, 12_345.0)
    assert config.param_dict["fast"] == 2
    train = in_sample_run(base, fold).inputs.config
    assert (train.start, train.end) == (fold.train_start, fold.train_end - 1)


def test_untraded_folds_are_reported_with_their_reason_and_fail_the_acceptance(
    tmp_path: Path,
) -> None:
    # No sandbox here: the outcomes of a walk-forward whose fold 1 a gap skipped and whose
    # fold 2 had no feasible trial, written as files.
    base, _ = make_base(tmp_path)
    spec = make_spec(base, DurationWindows(6 * DAY, 3 * DAY), min_trades=3, min_efficiency=0.5)
    plan = check_walkforward(base, spec)
    first, second, third = plan.folds
    skipped = replace(first, skip_reason="the test window has no bars (a gap in the data)")
    cash = base.inputs.config.cash
    outcomes = (
        FoldOutcome(skipped, "skipped", cash, reason=skipped.skip_reason),
        FoldOutcome(second, "no_feasible_trial", cash, trials=4, reason="none was feasible"),
        FoldOutcome(third, "cancelled", cash, reason="cancelled"),
    )
    account = stitch([], base.market, initial_cash=cash)
    result = WalkForwardResult(plan, outcomes, account, cash, cancelled=True)
    write_walkforward_outputs(result, spec, base.market, tmp_path / "out")
    with (tmp_path / "out" / "folds.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["status"], r["reason"]) for r in rows] == [
        ("skipped", "the test window has no bars (a gap in the data)"),
        ("no_feasible_trial", "none was feasible"),
        ("cancelled", "cancelled"),
    ]
    assert [r["min_trades_passed"] for r in rows] == ["", "false", ""]  # judged: fold 2 only
    assert rows[1]["end_equity"] == repr(cash)  # not traded: the equity is carried
    summary = json.loads((tmp_path / "out" / "walkforward.json").read_text())
    assert summary["acceptance"]["min_trades"]["failing_folds"] == [2]
    assert summary["acceptance"]["min_efficiency"] == {
        "threshold": 0.5,
        "efficiency": None,
        "passed": False,
    }
    assert summary["acceptance"]["passed"] is False
    assert summary["efficiency"]["overall"] is None
    assert summary["out_of_sample"]["metrics"]["final_equity"] == cash
    assert summary["cancelled"] is True
    assert (tmp_path / "out" / "equity.csv").read_text() == (
        "fold,time,cash,margin,unrealized_pnl,equity,position\n"
    )
