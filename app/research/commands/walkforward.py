"""`strategylab walkforward FILE --data DATA --param ... --train 180d --test 60d --out DIR`:
optimise on each fold's train window, trade the chosen params on its test window, and write
the folds, the stitched out-of-sample account, efficiency, stability and the acceptance.

Order of work: the strategy and data are prepared and every input is checked, the folds laid
out over the bars (one sentence, before any trial); the folds run in order
(`app.research.walkforward.run_walkforward`), each fold's study stored in `--storage`
(default `<out>/study.db`) so the same command run again resumes; Ctrl-C stops after the
running trials; folds.csv, equity.csv, trades.csv and walkforward.json are written for the
folds done, each test run's folder in `<out>/folds/fold-NN/`.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from app.research.commands.common import (
    describe_best,
    one_data_file,
    parse_objectives,
    parse_ranges,
    reported_research_errors,
    stop_on_interrupt,
)
from app.research.errors import ResearchInputError
from app.research.folds import DurationWindows, EqualFolds, FoldScheme, parse_duration
from app.research.samplers import METHODS, Method
from app.research.sweep import DEFAULT_BATCH_SIZE, Constraints, SweepSpec
from app.research.walkforward import (
    Acceptance,
    WalkForwardProgress,
    WalkForwardResult,
    WalkForwardSpec,
    check_walkforward,
    run_walkforward,
    with_measured_warmup,
)
from app.research.walkforward_outputs import summary_document, write_walkforward_outputs
from app.run_options import RunOptions, fail, reported_run_errors, with_run_options
from app.runs import RunService
from app.runs.prepare import PreparedRun, prepare_file_run
from app.settings import load_settings
from app.terminal import markup_text, terminal_text

STUDY_FILE: Final = "study.db"
FOLDS_DIR: Final = "folds"
EXIT_INTERRUPTED: Final = 130
PLAIN_PROGRESS_EVERY_S: Final = 5.0
DEFAULT_TRAIN_RATIO: Final = 0.75


@with_run_options
def walkforward_command(
    file: Annotated[Path, typer.Argument(help="Strategy file (.py).")],
    data_files: Annotated[
        list[Path], typer.Option("--data", help="OHLCV file, CSV or Parquet (one).")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the walk-forward's files and studies.")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Range to search in each train window (repeatable): fast=5:50:5, "
            "slow=20..200, mode=a,b,c, fast=12 (fixed).",
        ),
    ] = None,
    train: Annotated[
        str | None, typer.Option(help="Train window length: a number and m, h, d or w (180d).")
    ] = None,
    test: Annotated[str | None, typer.Option(help="Test window length, e.g. 60d.")] = None,
    step: Annotated[
        str | None, typer.Option(help="Step between folds (default: the test length).")
    ] = None,
    anchored: Annotated[
        bool, typer.Option("--anchored", help="Every train window starts at the first bar.")
    ] = False,
    folds: Annotated[
        int | None,
        typer.Option(help="Equal folds instead of --train/--test: N test windows tiling the data."),
    ] = None,
    train_ratio: Annotated[
        float | None,
        typer.Option(help=f"With --folds: train share of a fold (default {DEFAULT_TRAIN_RATIO})."),
    ] = None,
    warmup: Annotated[
        int | None,
        typer.Option(
            help="Bars the strategy needs before it trades (default: measured by probe runs "
            "of the first train window); the first train window must hold more."
        ),
    ] = None,
    method: Annotated[str, typer.Option(help=f"Search method: {', '.join(METHODS)}.")] = "grid",
    objective: Annotated[
        list[str] | None,
        typer.Option(
            help="Metric to optimise in each train window (sharpe, total_return, ...); twice "
            "for nsga2; metric:max or metric:min sets its direction."
        ),
    ] = None,
    maximize: Annotated[
        bool, typer.Option("--maximize/--minimize", help="Direction of the objective.")
    ] = True,
    trials: Annotated[
        int | None, typer.Option(help="Trial budget per fold (grid: all points by default).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of each fold's search.")] = 0,
    workers: Annotated[
        int | None, typer.Option(help="Trials run at once (default: CPU count).")
    ] = None,
    min_trades: Annotated[
        int | None,
        typer.Option(
            help="In-sample trades each fold needs: a trial with fewer is infeasible, and the "
            "acceptance reports each fold's pass/fail."
        ),
    ] = None,
    max_drawdown: Annotated[
        float | None,
        typer.Option(help="A trial with a deeper max drawdown (fraction) is infeasible."),
    ] = None,
    min_efficiency: Annotated[
        float | None,
        typer.Option(help="Acceptance: overall walk-forward efficiency at least this (0.5)."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(help="Trials asked and told together (fixed, whatever --workers).")
    ] = DEFAULT_BATCH_SIZE,
    storage: Annotated[
        str | None,
        typer.Option(help="Study storage URL (default sqlite:///<out>/study.db)."),
    ] = None,
    *,
    run_options: RunOptions,
) -> None:
    """Walk-forward analysis in the sandbox: optimise on each train window, trade the best
    params on the next test window, stitch the test runs into one out-of-sample account."""
    data = one_data_file(data_files, "walkforward")
    service = RunService.from_settings(load_settings())
    with reported_run_errors(file, out), reported_research_errors():
        scheme = _scheme(train, test, step, anchored, folds, train_ratio)
        base = prepare_file_run(
            file,
            data,
            run_options.order(),
            symbol=run_options.symbol,
            maximums=service.maximums,
            tiers=service.tiers,
        )
        defaults = base.inputs.inspection.defaults
        space = parse_ranges(param or [], defaults)
        sweep = SweepSpec(
            space=space,
            method=_method(method),
            objectives=parse_objectives(objective or ["sharpe"], maximize=maximize),
            constraints=Constraints(min_trades=min_trades, max_drawdown=max_drawdown),
            n_trials=trials,
            seed=seed,
            batch_size=batch_size,
            keep_best=1,
        )
        spec = WalkForwardSpec(
            sweep=sweep,
            scheme=scheme,
            warmup_bars=warmup,
            acceptance=Acceptance(min_trades=min_trades, min_efficiency=min_efficiency),
        )
        worker_count = workers if workers is not None else (os.cpu_count() or 1)
        spec = with_measured_warmup(spec, base, workers=worker_count)  # layout checked first
        plan = check_walkforward(base, spec)
        if spec.warmup_note is not None:
            typer.echo(f"warm-up: {spec.warmup_bars} bars ({spec.warmup_note})", err=True)
        url = storage or f"sqlite:///{out.resolve() / STUDY_FILE}"
        out.mkdir(parents=True, exist_ok=True)
        folds_dir = out / FOLDS_DIR
        if folds_dir.is_dir() and not folds_dir.is_symlink():
            shutil.rmtree(folds_dir)  # the previous session's test runs, rerun now
        typer.echo(f"{len(plan.folds)} folds ({len(plan.runnable)} with bars to run)", err=True)
        names = {"strategy_file": file.name, "data_file": data.name}
        result = _walk(spec, base, service, url=url, workers=worker_count, names=names, out=out)
        document = summary_document(result, spec, base.market)
        written = write_walkforward_outputs(result, spec, base.market, out, document=document)
    _report(document, spec, out, written, cancelled=result.cancelled)


def _scheme(
    train: str | None,
    test: str | None,
    step: str | None,
    anchored: bool,
    folds: int | None,
    train_ratio: float | None,
) -> FoldScheme:
    """The fold layout the flags describe: durations or equal folds, never both."""
    if folds is not None:
        given = [
            flag
            for flag, value in (("--train", train), ("--test", test), ("--step", step))
            if value
        ]
        if given:
            raise ResearchInputError(
                "folds", f"give either --folds (with --train-ratio) or {', '.join(given)}, not both"
            )
        ratio = DEFAULT_TRAIN_RATIO if train_ratio is None else train_ratio
        return EqualFolds(folds, ratio, is_anchored=anchored)
    if train_ratio is not None:
        raise ResearchInputError(
            "train_ratio", "goes with --folds; with --train/--test leave it out"
        )
    if train is None or test is None:
        missing = "--train" if train is None else "--test"
        raise ResearchInputError(
            missing.removeprefix("--"),
            "is missing: give --train 180d --test 60d, or --folds 6 --train-ratio 0.75",
        )
    return DurationWindows(
        train_ns=parse_duration(train, "train"),
        test_ns=parse_duration(test, "test"),
        step_ns=parse_duration(step, "step") if step is not None else None,
        is_anchored=anchored,
    )


def _method(text: str) -> Method:
    for known in METHODS:
        if text.strip().lower() == known:
            return known
    raise ResearchInputError("method", f"{text!r} is not a method; use one of {', '.join(METHODS)}")


def _walk(
    spec: WalkForwardSpec,
    base: PreparedRun,
    service: RunService,
    *,
    url: str,
    workers: int,
    names: dict[str, str],
    out: Path,
) -> WalkForwardResult:
    cancel = threading.Event()
    with (
        stop_on_interrupt(cancel, "finished folds and trials are kept"),
        walkforward_progress(spec) as on_progress,
    ):
        return run_walkforward(
            spec,
            base,
            service=service,
            storage_url=url,
            workers=workers,
            names=names,
            folds_dir=out / FOLDS_DIR,
            on_progress=on_progress,
            cancel=cancel,
        )


def _progress_text(progress: WalkForwardProgress, spec: WalkForwardSpec) -> str:
    head = f"fold {progress.fold} of {progress.folds_total}"
    sweep = progress.sweep
    if progress.phase == "test" or sweep is None:
        return f"{head}: testing the chosen params"
    total = sweep.trials_total if sweep.trials_total is not None else "?"
    best = describe_best(sweep.best, spec.sweep.objectives)
    return f"{head}: trial {sweep.trials_done} of {total}, best {best}"


@contextmanager
def walkforward_progress(
    spec: WalkForwardSpec,
) -> Iterator[Callable[[WalkForwardProgress], None]]:
    """A progress callback for the duration: fold k of n, trial j of m and the best so far,
    as a Rich bar when stderr is a terminal, else a plain line on each new fold or phase and
    every few seconds."""
    console = Console(stderr=True)
    if not sys.stderr.isatty():
        last: list[Any] = [0.0, None]

        def print_line(progress: WalkForwardProgress) -> None:
            now, stage = time.monotonic(), (progress.fold, progress.phase)
            if stage == last[1] and now - last[0] < PLAIN_PROGRESS_EVERY_S:
                return
            last[0], last[1] = now, stage
            console.print(
                terminal_text(_progress_text(progress, spec)), highlight=False, markup=False
            )

        yield print_line
        return
    columns = (
        TextColumn("{task.fields[stage]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[best]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("walkforward", total=None, stage="-", best="")

        def update(progress: WalkForwardProgress) -> None:
            stage = f"fold {progress.fold}/{progress.folds_total} {progress.phase}"
            sweep = progress.sweep
            if sweep is None:
                bar.update(task, stage=stage)
                return
            best = describe_best(sweep.best, spec.sweep.objectives)
            bar.update(
                task,
                stage=stage,
                total=sweep.trials_total,
                completed=sweep.trials_done,
                best=markup_text(f"best {best}"),
            )

        yield update


def _report(
    document: dict[str, Any],
    spec: WalkForwardSpec,
    out: Path,
    written: list[Path],
    *,
    cancelled: bool,
) -> None:
    """One line per fold, the out-of-sample figures and the acceptance verdict."""
    metric = spec.sweep.objectives[0].metric
    for row in document["folds"]:
        params = ", ".join(f"{k}={v}" for k, v in (row["params"] or {}).items())
        line = (
            f"fold {row['fold']} {row['test_start'][:10]}..{row['test_end'][:10]} {row['status']}"
            f"{': ' + params if params else ''}; train {metric} {_shown(row[f'train_{metric}'])}, "
            f"test {metric} {_shown(row[f'test_{metric}'])}, efficiency {_shown(row['efficiency'])}"
        )
        if row["reason"] and row["status"] != "tested":
            line += f" ({row['reason']})"
        typer.echo(terminal_text(line))
    efficiency = document["efficiency"]
    oos = document["out_of_sample"]
    typer.echo(
        f"out of sample: total return {_shown(oos['metrics'].get('total_return'))}, "
        f"sharpe {_shown(oos['metrics'].get('sharpe'))}, "
        f"t-stat {_shown(oos['mean_daily_return_test']['t_stat'])}; "
        f"efficiency {_shown(efficiency['overall'])}"
    )
    verdict = document["acceptance"]["passed"]
    if verdict is not None:
        typer.echo(f"acceptance: {'PASS' if verdict else 'FAIL'} (walkforward.json, acceptance)")
    typer.echo(terminal_text(f"wrote {', '.join(p.name for p in written)} to {out}"))
    if cancelled:
        raise fail(
            "stopped: the folds finished are written; run the same command again to continue "
            "(finished trials are resumed from the study)",
            EXIT_INTERRUPTED,
        )


def _shown(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


__all__ = ["walkforward_command"]
