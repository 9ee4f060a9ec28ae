"""The `strategylab` commands: one root typer app with a group per area.

Started through app.cli, which starts a run's sandbox worker before this module's imports;
`run` and `resume` receive that worker as the click context's `obj` (a StartedWorker).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from app.engine import LogLevel, RunResult, ns_to_iso
from app.engine import Progress as RunProgress
from app.engine import ProgressCallback as RunProgressCallback
from app.engine.config import FIELDS_BY_NAME
from app.lazy_commands import LazyGroup
from app.run_datasets import DatasetOptionError, parse_datasets
from app.run_options import (
    EXIT_BAD_INPUT,
    RunOptions,
    fail,
    reported_run_errors,
    with_run_options,
)
from app.run_options import EXIT_STRATEGY_FAILED as EXIT_STRATEGY_FAILED  # tests import it here
from app.runs import RunOrder, RunOutcome, RunService
from app.runs.errors import CheckpointUnusable
from app.settings import load_settings
from app.terminal import terminal_text
from sandbox import WarmWorker, has_errors, start_worker, validate_source
from sandbox.text import clean_text
from sandbox.worker_process import StartedWorker

MAX_LINE_CHARS: Final = 2_000
"""Longest diagnostic line `validate` prints (its JSON output is ASCII-escaped by json.dumps)."""


def validate_command(
    file: Annotated[Path, typer.Argument(help="The strategy .py file to check.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the diagnostics as a JSON list.")
    ] = False,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Class to check when the file has several.")
    ] = None,
) -> None:
    """Check a strategy file without running it: imports, names, attributes, the class layout."""
    try:
        code = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        typer.echo(clean_text(f"{file}: cannot read the file: {error}", MAX_LINE_CHARS), err=True)
        raise typer.Exit(2) from None
    diagnostics = validate_source(code, file.name, strategy_name=strategy)
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in diagnostics], indent=2))
    else:
        for diagnostic in diagnostics:  # quotes the file's text: escaped for the terminal
            typer.echo(clean_text(diagnostic.format(str(file)), MAX_LINE_CHARS))
        if not diagnostics:
            typer.echo(clean_text(f"{file}: ok", MAX_LINE_CHARS))
    if has_errors(diagnostics):
        raise typer.Exit(1)


def warm_indicators_command() -> None:
    """Compile and cache pandas-ta's numba kernels once, so sandboxed runs only read them."""
    from sandbox.kernel_cache import fill_kernel_cache  # imports pandas-ta: only when asked

    report = fill_kernel_cache()
    typer.echo(
        f"computed {report.indicators} indicators in {report.seconds:.1f} s "
        f"({len(report.compiled)} numba kernels compiled, the others were cached already); "
        "their numba kernels are cached for sandboxed runs"
    )
    for name, error in report.failed:
        typer.echo(f"  {name}: {error}", err=True)


cli_app = typer.Typer(
    name="strategylab",
    help="Strategy Lab: backtest Python strategies.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    cls=LazyGroup,  # data, quotas, users and the research commands: imported when asked for
)
cli_app.command("validate")(validate_command)
cli_app.command("warm-indicators")(warm_indicators_command)


def _parse_params(values: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise fail(f"--param {item!r} must look like name=value", EXIT_BAD_INPUT)
        params[name.strip()] = value.strip()
    return params


@cli_app.command("run")
@with_run_options
def run_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Strategy file (.py).")],
    data: Annotated[
        list[str],
        typer.Option(
            "--data",
            help="OHLCV file, CSV or Parquet; SYMBOL=FILE names its symbol. Repeat it to trade "
            "several symbols in one account (the first is the strategy's self.data).",
        ),
    ],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Strategy parameter override name=value (repeatable)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the run's files.")] = None,
    checkpoint_every: Annotated[
        int, typer.Option(help=FIELDS_BY_NAME["checkpoint_every"].describe() + " Needs --out.")
    ] = FIELDS_BY_NAME["checkpoint_every"].default,
    keep_checkpoints: Annotated[
        int, typer.Option(help=FIELDS_BY_NAME["keep_checkpoints"].describe())
    ] = FIELDS_BY_NAME["keep_checkpoints"].default,
    missing_bars: Annotated[
        str,
        typer.Option(
            help="With several --data: a bar time one symbol lacks is refused (refuse) or "
            "left out for all (common); bars are never filled in.",
        ),
    ] = "refuse",
    *,
    run_options: RunOptions,
) -> None:
    """Run a strategy file on a data file in the sandbox, print a summary and write the run's
    files. With --checkpoint-every N it saves a checkpoint every N bars in OUT/checkpoints/,
    and `strategylab resume OUT` continues it after a crash."""
    raw_params = _parse_params(param or [])
    if checkpoint_every and out is None:
        raise fail(
            "--checkpoint-every: checkpoints are kept in the run folder; add --out DIR",
            EXIT_BAD_INPUT,
        )
    service = RunService.from_settings(load_settings())
    with reported_run_errors(file, out):
        order = run_options.order(raw_params)
        checkpoints = {"checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints}
        order = dataclasses.replace(order, options={**order.options, **checkpoints})
        try:
            datasets = parse_datasets(data, run_options.symbol)
        except DatasetOptionError as error:
            raise fail(str(error), EXIT_BAD_INPUT) from None
        order = dataclasses.replace(order, more_data=datasets.more, missing_bars=missing_bars)
        outcome = _run_with_progress(
            service,
            file,
            datasets.path,
            order,
            symbol=datasets.symbol,
            out=out,
            worker=early_worker(ctx),
        )
    _print_summary(outcome.result)
    if out is not None:
        typer.echo(f"wrote {len(outcome.files)} files to {out}")


@cli_app.command("resume")
def resume_command(
    ctx: typer.Context,
    run_dir: Annotated[
        Path, typer.Argument(help="Folder of a run started with --checkpoint-every.")
    ],
) -> None:
    """Continue a run stopped by a crash, a kill or Ctrl-C from its last checkpoint; the files
    it writes are those the run writes uninterrupted."""
    service = RunService.from_settings(load_settings())
    worker = early_worker(ctx)
    with reported_run_errors(run_dir, run_dir):
        try:
            outcome = _with_progress(
                lambda update: service.resume_file(run_dir, on_progress=update, worker=worker)
            )
        except CheckpointUnusable as error:
            raise fail(str(error), EXIT_BAD_INPUT) from None
    _print_summary(outcome.result)
    typer.echo(f"wrote {len(outcome.files)} files to {run_dir}")


def early_worker(ctx: typer.Context) -> WarmWorker | None:
    """The worker app.cli started for this command before the imports (None when the command
    was invoked otherwise, as by tests: the run then starts its own)."""
    started = ctx.find_root().obj
    return start_worker(started=started) if isinstance(started, StartedWorker) else None


def _run_with_progress(
    service: RunService,
    file: Path,
    data: Path,
    order: RunOrder,
    *,
    symbol: str,
    out: Path | None,
    worker: WarmWorker | None,
) -> RunOutcome:
    return _with_progress(
        lambda update: service.run_file(
            file, data, order, symbol=symbol, on_progress=update, out_dir=out, worker=worker
        )
    )


def _with_progress(start: Callable[[RunProgressCallback | None], RunOutcome]) -> RunOutcome:
    """`start(on_progress)` with a progress bar on a terminal's stderr (none otherwise)."""
    if not sys.stderr.isatty():
        return start(None)
    from rich.progress import (  # only a terminal draws one
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("backtest"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} bars/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("run", total=None, rate="-")

        def update(progress: RunProgress) -> None:
            speed = bar.tasks[0].speed
            bar.update(
                task,
                total=progress.bars_total,
                completed=progress.bars_done,
                rate=f"{speed:,.0f}" if speed else "-",
            )

        return start(update)


SUMMARY = (
    ("period", "start"),
    ("", "end"),
    ("bars", "bars"),
    ("final equity", "final_equity"),
    ("total return", "total_return"),
    ("buy & hold", "buy_and_hold_return"),
    ("CAGR", "cagr"),
    ("max drawdown", "max_drawdown"),
    ("Sharpe", "sharpe"),
    ("Sortino", "sortino"),
    ("Calmar", "calmar"),
    ("trades", "trades"),
    ("win rate", "win_rate"),
    ("profit factor", "profit_factor"),
    ("exposure", "exposure"),
    ("fees paid", "fees_paid"),
    ("funding paid", "funding_paid"),
    ("liquidations", "liquidations"),
)
PERCENT = {"total_return", "buy_and_hold_return", "cagr", "max_drawdown", "win_rate", "exposure"}


def _format(name: str, value: object) -> str:
    if value is None:
        return "-"
    if name in ("start", "end") and isinstance(value, int):
        return ns_to_iso(value)
    if name in PERCENT and isinstance(value, float):
        return f"{value * 100:,.2f} %"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 else f"{value:,.3f}"
    return str(value)


def _print_summary(result: RunResult) -> None:
    params = ", ".join(f"{name}={value}" for name, value in result.params.items())
    title = Text(terminal_text(f"{result.strategy}({params})", 1_000))  # Text: never markup
    table = Table(title=title, show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, name in SUMMARY:
        table.add_row(label, _format(name, result.metrics.get(name)))
    Console().print(table)
    warnings = sum(1 for line in result.logs if line.level is LogLevel.WARNING)
    if warnings:
        Console().print(
            f"{warnings} warnings (refused orders, liquidations): see the run's "
            "log.txt (--out) for each reason."
        )


def main(started: StartedWorker | None = None) -> None:
    """Run the command line; `started` is the worker app.cli started for a `run` or `resume`
    (handed to the command as the context's obj). It is killed on the way out if the command
    did not use it (a bad option, say); a used one was killed at its run's end."""
    try:
        cli_app(obj=started)
    finally:
        if started is not None:
            started.discard()


@cli_app.command("worker")
def worker_command(
    name: Annotated[
        str | None, typer.Option(help="Worker name shown in RQ (default: host name and pid).")
    ] = None,
    burst: Annotated[
        bool, typer.Option(help="Stop once every queue is empty instead of waiting for more.")
    ] = False,
) -> None:
    """Execute queued runs from STRATEGYLAB_REDIS_URL on this machine, each in its sandbox
    (start one per core; docs/deploy.md)."""
    from app.jobs.worker_command import run_worker  # imported here: loads the job stack

    run_worker(name=name, burst=burst)


@cli_app.command("serve")
def serve_command(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Backtests running at once (default: CPU count).")
    ] = None,
) -> None:
    """Start the web app and API; anything but loopback requires signing in (docs/deploy.md)."""
    from app.main import serve  # imported here: other commands don't load the web stack

    serve(host=host, port=port, workers=workers)
