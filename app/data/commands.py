"""The `strategylab data ...` command group: thin typer commands over the dataset services."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from app.data.datasets import (
    FileFormat,
    ImportOutcome,
    import_files,
    read_files,
    resample_dataset,
    validate_rows,
)
from app.data.errors import DataError, ValidationFailedError
from app.data.fetch import FetchRequest, fetch_to_store, make_exchange
from app.data.parquet import write_ohlcv_parquet
from app.data.problems import ValidationReport
from app.data.samples import ensure_samples, generate_ohlcv
from app.data.store import (
    DatasetKind,
    DatasetMeta,
    DatasetRef,
    DatasetSpec,
    DatasetStore,
)
from app.data.tier_commands import tiers_app
from app.engine.types import Mode, Severity
from app.settings import load_settings

logger = logging.getLogger(__name__)


data_app = typer.Typer(
    name="data",
    help="Datasets: sample data, import, validate, store, resample.",
    no_args_is_help=True,
)
data_app.add_typer(tiers_app)


def default_data_dir() -> Path:
    """The data folder from the app settings ($STRATEGYLAB_DATA_DIR, else `<repo>/data`)."""
    return load_settings().data_dir


def default_store() -> DatasetStore:
    """The dataset store under the data folder: `<data dir>/store`."""
    return DatasetStore(default_data_dir() / "store")


def fail(error: DataError) -> typer.Exit:
    """Print a dataset error as its one sentence on stderr and return the exit to raise."""
    typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


@data_app.command("samples")
def samples_command(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Make the bundled BTCUSDT 1m (2023) and 1h sample datasets if they are missing."""
    try:
        paths = ensure_samples(default_data_dir())
    except DataError as error:
        raise fail(error) from error
    if not quiet:
        for path in paths:
            typer.echo(f"sample ready: {path}")


@data_app.command("generate")
def generate_command(
    out: Annotated[Path, typer.Option("--out", help="Output file, .csv or .parquet.")],
    bars: Annotated[int, typer.Option("--bars", min=1, help="Number of bars.")] = 10_000,
    timeframe: Annotated[str, typer.Option("--timeframe", help="Bar length: 1m, 1h...")] = "1m",
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    start: Annotated[str, typer.Option("--start", help="First bar time (UTC).")] = "2023-01-01",
    start_price: Annotated[float, typer.Option("--start-price", min=0.01)] = 30000.0,
) -> None:
    """Write deterministic synthetic BTCUSDT-like OHLCV bars to a CSV or Parquet file."""
    suffix = out.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        typer.secho(f"error: {out} must end in .csv or .parquet.", err=True, fg="red")
        raise typer.Exit(code=1)
    try:
        frame = generate_ohlcv(
            bars=bars, timeframe=timeframe, start=start, seed=seed, start_price=start_price
        )
    except (DataError, ValueError) as error:
        typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=1) from error
    if suffix == ".csv":
        write_ohlcv_csv(frame, out)
    else:
        write_ohlcv_parquet(frame, out)
    typer.echo(f"wrote {len(frame):,} {timeframe} bars to {out}")


def write_ohlcv_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a standard OHLCV frame as CSV with ISO 8601 UTC times (`2023-01-01T00:00:00Z`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index_label="time", date_format="%Y-%m-%dT%H:%M:%SZ")


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _short_time(moment: object) -> str:
    return "-" if moment is None else pd.Timestamp(str(moment)).strftime("%Y-%m-%d")


def _progress(*, is_quiet: bool = False) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=is_quiet,
    )


def render_report(console: Console, report: ValidationReport, *, limit: int = 20) -> None:
    """Print a validation report as a table, fatal problems first, at most `limit` rows."""
    if not report.problems:
        console.print("validation: no problems found")
        return
    table = Table(title=f"validation: {report.summary()}", title_justify="left")
    for column in ("severity", "code", "bars", "problem"):
        table.add_column(column, overflow="fold")
    for problem in report.problems[:limit]:
        style = "red" if problem.severity is Severity.ERROR else "yellow"
        table.add_row(
            f"[{style}]{problem.severity}[/]", problem.code, f"{problem.count:,}", problem.message
        )
    console.print(table)
    if len(report.problems) > limit:
        console.print(f"... and {len(report.problems) - limit} more (use --limit)")


@data_app.command("list")
def list_command(
    all_versions: Annotated[
        bool, typer.Option("--all", help="Every version, not the latest.")
    ] = False,
) -> None:
    """List stored datasets (latest version of each unless --all)."""
    records = default_store().datasets()
    if not all_versions:
        latest: dict[tuple[str, str], DatasetMeta] = {}
        for meta in records:
            latest[(meta.symbol, meta.timeframe)] = meta
        records = list(latest.values())
    if not records:
        typer.echo("no datasets yet; import some with `strategylab data import FILE...`")
        return
    table = Table()
    for column in ("dataset", "source", "from", "to", "rows", "warnings"):
        table.add_column(column, no_wrap=True)
    for meta in records:
        table.add_row(
            str(meta.ref),
            f"{meta.exchange} {meta.market}",
            _short_time(meta.first_bar),
            _short_time(meta.last_bar),
            f"{meta.rows:,}",
            str(len(meta.validation.warnings)),
        )
    _console().print(table)


@data_app.command("show")
def show_command(
    reference: Annotated[str, typer.Argument(help="SYMBOL/TIMEFRAME or SYMBOL/TIMEFRAME@VERSION.")],
    limit: Annotated[int, typer.Option("--limit", help="Problems to list.")] = 20,
) -> None:
    """Show a dataset version's metadata and its stored validation report."""
    try:
        meta = default_store().resolve(reference)
    except DataError as error:
        raise fail(error) from error
    console = _console()
    record = meta.to_dict()
    record.pop("validation")
    versions = [str(m.version) for m in default_store().versions(meta.symbol, meta.timeframe)]
    record["versions"] = ", ".join(versions)
    record["file"] = str(default_store().data_path(meta))
    for key, value in record.items():
        console.print(f"[bold]{key:>15}[/]  {value}")
    render_report(console, meta.validation, limit=limit)


def _parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        source, equals, target = pair.partition("=")
        if not equals or not source or not target:
            typer.secho(f"error: --map takes SOURCE=TARGET, not '{pair}'.", err=True, fg="red")
            raise typer.Exit(code=1)
        mapping[source.strip()] = target.strip()
    return mapping


@data_app.command("import")
def import_command(
    files: Annotated[
        list[Path], typer.Argument(help="Files or folders (CSV, Parquet, Binance zip).")
    ],
    symbol: Annotated[
        str, typer.Option("--symbol", help="Symbol; from Binance names if omitted.")
    ] = "",
    timeframe: Annotated[
        str, typer.Option("--timeframe", help="Bar length; inferred if omitted.")
    ] = "",
    exchange: Annotated[
        str, typer.Option("--exchange", help="Where the data came from.")
    ] = "unknown",
    market: Annotated[Mode, typer.Option("--market", help="spot or futures.")] = Mode.SPOT,
    file_format: Annotated[
        FileFormat, typer.Option("--format", help="How to read the files.")
    ] = FileFormat.AUTO,
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="Rename a column: SOURCE=TARGET.")
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="New version holds only these files.")
    ] = False,
    is_mark: Annotated[
        bool,
        typer.Option(
            "--mark",
            help="The files are mark-price klines (Binance's markPriceKlines): stored as "
            "SYMBOL/mark-TIMEFRAME, used by runs on SYMBOL/TIMEFRAME for liquidation.",
        ),
    ] = False,
) -> None:
    """Import files as the next version of a dataset (extending the latest unless --replace)."""
    spec = DatasetSpec(symbol=symbol, timeframe=timeframe, exchange=exchange, market=market)
    console = _console()
    try:
        with _progress() as progress:
            task = progress.add_task("reading files", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            outcome = import_files(
                default_store(),
                files,
                spec,
                file_format=file_format,
                column_map=_parse_mapping(mapping or []),
                replace=replace,
                progress=advance,
                kind=DatasetKind.MARK if is_mark else None,
            )
    except ValidationFailedError as error:
        render_report(console, error.report)
        raise fail(error) from error
    except DataError as error:
        raise fail(error) from error
    _report_import(console, outcome)


def _report_import(console: Console, outcome: ImportOutcome) -> None:
    render_report(console, outcome.report)
    meta = outcome.meta
    if outcome.is_new_version:
        console.print(f"stored {meta.ref}: {meta.rows:,} rows, {meta.content_hash}")
    else:
        console.print(f"unchanged: {meta.ref} already holds exactly this data")


@data_app.command("validate")
def validate_command(
    targets: Annotated[
        list[str], typer.Argument(help="A stored dataset (SYMBOL/TF[@V]) or files.")
    ],
    timeframe: Annotated[str, typer.Option("--timeframe", help="Expected bar length.")] = "",
    file_format: Annotated[FileFormat, typer.Option("--format")] = FileFormat.AUTO,
    limit: Annotated[int, typer.Option("--limit", help="Problems to list.")] = 20,
) -> None:
    """Check a stored dataset or files not yet imported; exit 1 when a problem is fatal."""
    try:
        report = _validate_targets(targets, timeframe or None, file_format)
    except DataError as error:
        raise fail(error) from error
    render_report(_console(), report, limit=limit)
    if report.is_fatal:
        raise typer.Exit(code=1)


def _validate_targets(
    targets: list[str], timeframe: str | None, file_format: FileFormat
) -> ValidationReport:
    paths = [Path(target) for target in targets]
    if len(targets) == 1 and not paths[0].exists() and "/" in targets[0]:
        store = default_store()
        meta = store.resolve(DatasetRef.parse(targets[0]))
        rows = store.load(meta).reset_index()
        gap_timeframe = None if meta.kind is DatasetKind.FUNDING else timeframe or meta.timeframe
        return validate_rows(rows, kind=meta.kind, timeframe=gap_timeframe)
    loaded = read_files(paths, file_format=file_format)
    return validate_rows(loaded.frame, kind=loaded.kind, timeframe=timeframe or loaded.timeframe)


@data_app.command("resample")
def resample_command(
    reference: Annotated[str, typer.Argument(help="Source dataset, SYMBOL/TIMEFRAME[@VERSION].")],
    targets: Annotated[list[str], typer.Option("--to", help="Target timeframe; repeatable.")],
) -> None:
    """Resample a stored dataset to other timeframes, each stored as its own dataset."""
    console = _console()
    try:
        with _progress() as progress:
            task = progress.add_task("resampling", total=len(targets))
            outcomes = []
            for target in targets:
                outcomes.append(resample_dataset(default_store(), reference, target))
                progress.advance(task)
    except DataError as error:
        raise fail(error) from error
    for outcome in outcomes:
        _report_import(console, outcome)


@data_app.command("delete")
def delete_command(
    reference: Annotated[str, typer.Argument(help="SYMBOL/TIMEFRAME (all versions) or @VERSION.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete one version of a dataset, or all its versions."""
    store = default_store()
    try:
        ref = DatasetRef.parse(reference)
        store.resolve(ref)
    except DataError as error:
        raise fail(error) from error
    what = f"version {ref.version} of" if ref.version is not None else "every version of"
    if not yes and not typer.confirm(f"Delete {what} {ref.symbol}/{ref.timeframe}?"):
        raise typer.Exit(code=1)
    for meta in store.delete(ref):
        typer.echo(f"deleted {meta.ref}")


@data_app.command("fetch")
def fetch_command(
    symbol: Annotated[str, typer.Argument(help="Exchange symbol, e.g. BTC/USDT.")],
    start: Annotated[str, typer.Option("--start", help="First bar time (UTC).")],
    end: Annotated[str, typer.Option("--end", help="End time, exclusive (UTC).")],
    exchange_id: Annotated[str, typer.Option("--exchange", help="ccxt exchange id.")] = "binance",
    timeframe: Annotated[str, typer.Option("--timeframe")] = "1m",
    market: Annotated[Mode, typer.Option("--market")] = Mode.SPOT,
) -> None:
    """Download missing bars through ccxt into the store (resumable; fills only the gaps)."""
    request = FetchRequest(
        symbol=symbol,
        timeframe=timeframe,
        start=pd.Timestamp(start, tz="UTC"),
        end=pd.Timestamp(end, tz="UTC"),
        market=market,
    )
    try:
        exchange = make_exchange(exchange_id, market=market)
        with _progress() as progress:
            task = progress.add_task(f"fetching {symbol}", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            outcome = fetch_to_store(default_store(), exchange, request, progress=advance)
    except DataError as error:
        raise fail(error) from error
    if outcome.meta is None:
        typer.echo("nothing fetched: the exchange had no bars in that range")
        return
    typer.echo(
        f"{outcome.bars_received:,} bars in {outcome.requests} request(s); "
        f"current version {outcome.meta.ref} ({outcome.meta.rows:,} rows)"
    )
