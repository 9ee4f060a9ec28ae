"""The `strategylab` command line: one root typer app with a group per area."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from app.artifacts import write_run_folder
from app.data.commands import data_app
from app.data.errors import DataError
from app.engine import (
    ConfigError,
    EngineError,
    LogLevel,
    Mode,
    RunConfig,
    RunResult,
    StrategyRuntimeError,
    ns_to_iso,
)
from app.engine import Progress as RunProgress
from app.runner import RunRequest, StrategyLoadError, execute, parse_time
from app.settings import load_settings
from sandbox import (
    LimitExceeded,
    LimitsRefused,
    OperatorMaximums,
    RunLimits,
    SandboxError,
    StrategyRejected,
)
from sandbox.commands import validate_command, warm_indicators_command

cli_app = typer.Typer(
    name="strategylab",
    help="Strategy Lab: backtest Python strategies.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
)
cli_app.add_typer(data_app, name="data")
cli_app.command("validate")(validate_command)
cli_app.command("warm-indicators")(warm_indicators_command)

EXIT_BAD_INPUT = 2
EXIT_STRATEGY_FAILED = 1


def _fail(message: str, code: int) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _parse_params(values: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise _fail(f"--param {item!r} must look like name=value", EXIT_BAD_INPUT)
        params[name.strip()] = value.strip()
    return params


@cli_app.command("run")
def run_command(
    file: Annotated[Path, typer.Argument(help="Strategy file (.py).")],
    data: Annotated[Path, typer.Option("--data", help="OHLCV file, CSV or Parquet.")],
    start: Annotated[str | None, typer.Option(help="First traded bar, e.g. 2023-03-01.")] = None,
    end: Annotated[str | None, typer.Option(help="Last bar used, e.g. 2023-06-30T23:59.")] = None,
    mode: Annotated[Mode, typer.Option(help="spot or futures.")] = Mode.FUTURES,
    cash: Annotated[float, typer.Option(help="Starting cash, quote units.")] = 10_000.0,
    leverage_max: Annotated[float, typer.Option(help="Highest leverage allowed, 1-125.")] = 125.0,
    fee_maker: Annotated[
        float, typer.Option(help="Maker fee, fraction (0.0002 = 0.02%).")
    ] = 0.0002,
    fee_taker: Annotated[
        float, typer.Option(help="Taker fee, fraction (0.0005 = 0.05%).")
    ] = 0.0005,
    slippage_bps: Annotated[float, typer.Option(help="Slippage, basis points.")] = 0.0,
    funding_rate: Annotated[
        float,
        typer.Option(help="Funding rate per interval when the data has none (0.0001 = 0.01%)."),
    ] = 0.0001,
    funding_interval_h: Annotated[int, typer.Option(help="Funding interval: 1, 4 or 8 h.")] = 8,
    symbol: Annotated[str, typer.Option(help="Symbol name for the data.")] = "BTCUSDT",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Strategy parameter override name=value (repeatable)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the run's files.")] = None,
    wall_seconds: Annotated[float, typer.Option(help="Wall-clock limit of the run.")] = 600.0,
    cpu_seconds: Annotated[float, typer.Option(help="CPU-time limit of the run.")] = 300.0,
    memory_mb: Annotated[int, typer.Option(help="Memory the run may use, MB.")] = 2048,
) -> None:
    """Run a strategy file on a data file in the sandbox, print a summary and write the run's
    files."""
    raw_params = _parse_params(param or [])
    settings = load_settings()
    maximums = OperatorMaximums(
        wall_seconds=settings.max_wall_seconds,
        cpu_seconds=settings.max_cpu_seconds,
        memory_mb=settings.max_memory_mb,
    )
    limits = RunLimits(wall_seconds=wall_seconds, cpu_seconds=cpu_seconds, memory_mb=memory_mb)
    try:
        config = RunConfig(
            mode=mode,
            cash=cash,
            leverage_max=leverage_max,
            fee_maker=fee_maker,
            fee_taker=fee_taker,
            slippage_bps=slippage_bps,
            funding_rate=funding_rate,
            funding_interval_h=funding_interval_h,
            symbol=symbol,
            start=parse_time(start, "start"),
            end=parse_time(end, "end"),
        )
        request = RunRequest(
            strategy_path=file,
            data_path=data,
            config=config,
            raw_params=raw_params,
            limits=limits,
        )
        result, provenance = _execute_with_progress(request, maximums)
    except StrategyRuntimeError as error:
        raise _fail(f"the strategy failed: {error}", EXIT_STRATEGY_FAILED) from None
    except LimitExceeded as error:
        raise _fail(f"the run was stopped: {error}", EXIT_STRATEGY_FAILED) from None
    except StrategyRejected as error:
        lines = "\n".join(d.format(str(file)) for d in error.diagnostics)
        raise _fail(lines or str(error), EXIT_BAD_INPUT) from None
    except LimitsRefused as error:
        raise _fail(str(error), EXIT_BAD_INPUT) from None
    except SandboxError as error:
        raise _fail(f"the sandbox worker failed: {error}", EXIT_STRATEGY_FAILED) from None
    except ConfigError as error:
        raise _fail(f"--{error.field.replace('_', '-')}: {error.message}", EXIT_BAD_INPUT) from None
    except (StrategyLoadError, DataError, EngineError) as error:
        raise _fail(str(error), EXIT_BAD_INPUT) from None
    _print_summary(result)
    if out is not None:
        try:
            paths = write_run_folder(result, out, provenance)
        except OSError as error:
            raise _fail(f"cannot write to {out}: {error.strerror}", EXIT_BAD_INPUT) from None
        typer.echo(f"wrote {len(paths)} files to {out}")


def _execute_with_progress(
    request: RunRequest, maximums: OperatorMaximums
) -> tuple[RunResult, dict[str, object]]:
    if not sys.stderr.isatty():
        return execute(request, maximums=maximums)
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

        return execute(request, maximums=maximums, on_progress=update)


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
    table = Table(title=f"{result.strategy}({params})", show_header=False)
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


def main() -> None:
    """Console-script entry point."""
    cli_app()


@cli_app.command("serve")
def serve_command(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Backtests running at once (default: CPU count).")
    ] = None,
) -> None:
    """Start the web app and API; anything but loopback needs the printed access token."""
    from app.main import serve  # imported here: other commands don't load the web stack

    serve(host=host, port=port, workers=workers)
