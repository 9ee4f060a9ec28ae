"""`strategylab optimize FILE --data DATA --param ... --out DIR`: a parameter sweep of a
strategy file on a data file, resumable, written as trials.csv, best.json and the best runs'
folders.

Order of work: the strategy and data are prepared and every input is checked (one sentence,
before any trial); the study is opened in `--storage` (default `<out>/study.db`), refusing an
existing one unless `--resume`; the sweep runs (`app.research.sweep.run_sweep`) until done or
Ctrl-C; trials.csv and best.json are written for the trials finished; the best `--keep-best`
trials are re-run as standalone runs into `<out>/best/<rank>/` (the same bytes
`strategylab run --param ...` writes).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Annotated, Final

import typer

from app.research.commands.common import (
    describe_best,
    one_data_file,
    parse_objectives,
    parse_ranges,
    reported_research_errors,
    stop_on_interrupt,
    sweep_progress,
)
from app.research.errors import ResearchInputError
from app.research.samplers import METHODS, Method
from app.research.sweep import (
    DEFAULT_BATCH_SIZE,
    Constraints,
    SweepResult,
    SweepSpec,
    check_spec,
    run_sweep,
)
from app.run_options import (
    EXIT_BAD_INPUT,
    RunOptions,
    fail,
    reported_run_errors,
    with_run_options,
)
from app.runs import RunService
from app.runs.prepare import PreparedRun, prepare_file_run, with_params
from app.settings import load_settings
from app.terminal import terminal_text

STUDY_FILE: Final = "study.db"
BEST_DIR: Final = "best"
EXIT_INTERRUPTED: Final = 130
"""Exit code after Ctrl-C (128 + SIGINT), once the finished work is written."""


@with_run_options
def optimize_command(
    file: Annotated[Path, typer.Argument(help="Strategy file (.py).")],
    data_files: Annotated[
        list[Path], typer.Option("--data", help="OHLCV file, CSV or Parquet (one).")
    ],
    out: Annotated[Path, typer.Option(help="Folder for the sweep's files and its study.")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Range to search (repeatable): fast=5:50:5 (low:high:step), slow=20..200 "
            "(every whole number, or continuous for a float param), mode=a,b,c (choices), "
            "fast=12 (fixed).",
        ),
    ] = None,
    method: Annotated[str, typer.Option(help=f"Search method: {', '.join(METHODS)}.")] = "grid",
    objective: Annotated[
        list[str] | None,
        typer.Option(
            help="Metric of metrics.json to optimise (sharpe, total_return, ...); give it "
            "twice for nsga2; metric:max or metric:min sets its direction."
        ),
    ] = None,
    maximize: Annotated[
        bool, typer.Option("--maximize/--minimize", help="Direction of the objective.")
    ] = True,
    trials: Annotated[
        int | None, typer.Option(help="Trial budget (required but for grid: all points).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the search: same seed, same trials.")] = 0,
    workers: Annotated[
        int | None, typer.Option(help="Trials run at once (default: CPU count).")
    ] = None,
    min_trades: Annotated[
        int | None, typer.Option(help="A trial with fewer closed trades is infeasible.")
    ] = None,
    max_drawdown: Annotated[
        float | None,
        typer.Option(
            help="A trial with a deeper max drawdown (fraction, 0.3 = 30 %) is infeasible."
        ),
    ] = None,
    keep_best: Annotated[
        int, typer.Option(help="How many of the best trials get a full run folder.")
    ] = 1,
    batch_size: Annotated[
        int,
        typer.Option(
            help="Trials asked and told together (fixed: results do not depend on --workers)."
        ),
    ] = DEFAULT_BATCH_SIZE,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Study storage URL (default sqlite:///<out>/study.db; "
            "postgresql+psycopg://... works)."
        ),
    ] = None,
    study_name: Annotated[
        str | None, typer.Option(help="Study name in the storage (default: the --out path).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the stopped study of this --out.")
    ] = False,
    *,
    run_options: RunOptions,
) -> None:
    """Search a strategy's params (grid, random, tpe, cmaes, nsga2) in the sandbox; writes
    trials.csv, best.json and the best runs' folders; Ctrl-C stops and keeps the work."""
    data = one_data_file(data_files, "optimize")
    service = RunService.from_settings(load_settings())
    with reported_run_errors(file, out), reported_research_errors():
        base = prepare_file_run(
            file,
            data,
            run_options.order(),
            symbol=run_options.symbol,
            maximums=service.maximums,
            tiers=service.tiers,
        )
        spec = SweepSpec(
            space=parse_ranges(param or [], base.inputs.inspection.defaults),
            method=_method(method),
            objectives=parse_objectives(objective or ["sharpe"], maximize=maximize),
            constraints=Constraints(min_trades=min_trades, max_drawdown=max_drawdown),
            n_trials=trials,
            seed=seed,
            batch_size=batch_size,
            keep_best=keep_best,
        )
        check_spec(spec)
        worker_count = workers if workers is not None else (os.cpu_count() or 1)
        url = storage or f"sqlite:///{out.resolve() / STUDY_FILE}"
        name = study_name or str(out.resolve())
        _check_study_state(url, name, resume=resume)
        out.mkdir(parents=True, exist_ok=True)
        result = _sweep(spec, base, url=url, name=name, workers=worker_count)
        from app.research.sweep_outputs import write_sweep_outputs

        written = write_sweep_outputs(result, spec, out)
        folders = _write_best_runs(service, base, result, spec, out, file=file, data=data)
    _report(result, spec, out, written, folders)


def _method(text: str) -> Method:
    for known in METHODS:
        if text.strip().lower() == known:
            return known
    raise ResearchInputError("method", f"{text!r} is not a method; use one of {', '.join(METHODS)}")


def _check_study_state(url: str, name: str, *, resume: bool) -> None:
    """Refuse to start over an existing study without --resume, and --resume without one."""
    from app.research.study import storage_at, study_exists

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        exists = False  # not created just to look into it
    else:
        with storage_at(url) as storage:
            exists = study_exists(storage, name)
    if exists and not resume:
        raise ResearchInputError(
            "out", "this folder already holds a sweep's study: use --resume or another --out"
        )
    if resume and not exists:
        raise ResearchInputError("resume", "there is no stopped sweep to continue for this --out")


def _sweep(spec: SweepSpec, base: PreparedRun, *, url: str, name: str, workers: int) -> SweepResult:
    cancel = threading.Event()
    with (
        stop_on_interrupt(cancel, "finished trials are kept, the running ones are dropped"),
        sweep_progress("optimize", spec.objectives) as on_progress,
    ):
        return run_sweep(
            spec,
            base,
            storage_url=url,
            study_name=name,
            workers=workers,
            on_progress=on_progress,
            cancel=cancel,
        )


def _write_best_runs(
    service: RunService,
    base: PreparedRun,
    result: SweepResult,
    spec: SweepSpec,
    out: Path,
    *,
    file: Path,
    data: Path,
) -> list[Path]:
    """The best `keep_best` trials re-run as standalone runs into `<out>/best/<rank>/`."""
    folder = out / BEST_DIR
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)  # the previous session's best, replaced by this one's
    names = {"strategy_file": file.name, "data_file": data.name}
    written: list[Path] = []
    for rank, record in enumerate(result.best[: spec.keep_best], start=1):
        target = folder / str(rank)
        service.run(with_params(base, record.params), door="cli", names=names, out_dir=target)
        written.append(target)
    return written


def _report(
    result: SweepResult, spec: SweepSpec, out: Path, written: list[Path], folders: list[Path]
) -> None:
    done = len(result.trials)
    feasible = sum(1 for record in result.trials if record.feasible)
    failed = sum(1 for record in result.trials if record.error is not None)
    typer.echo(f"{done} trials ({feasible} feasible, {failed} failed)")
    best = result.best[0] if result.best else None
    if best is not None:
        params = ", ".join(f"{key}={value}" for key, value in best.params.items())
        typer.echo(terminal_text(f"best: {describe_best(best, spec.objectives)}: {params}"))
    else:
        typer.echo("no feasible trial: nothing to choose as best")
    files = ", ".join(path.name for path in written)
    typer.echo(terminal_text(f"wrote {files} and {len(folders)} best run folders to {out}"))
    if result.cancelled:
        message = (
            f"stopped after {done} finished trials; they are kept in the study. Continue "
            "with the same command and --resume."
        )
        raise fail(message, EXIT_INTERRUPTED)


__all__ = ["EXIT_BAD_INPUT", "optimize_command"]
