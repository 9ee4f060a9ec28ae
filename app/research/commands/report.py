"""`strategylab report RUN_DIR`: write a run's report as one file (html, md, json or xlsx)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer

from app.research.report_formats import ReportFormat
from app.terminal import terminal_text

EXIT_BAD_INPUT = 2


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {terminal_text(message)}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def report_format_for(chosen: ReportFormat | None, out: Path | None) -> ReportFormat:
    """`--format` when given, else the format `--out`'s suffix names, else html."""
    if chosen is not None:
        return chosen
    if out is not None:
        return ReportFormat.from_suffix(out.suffix) or ReportFormat.HTML
    return ReportFormat.HTML


def write_atomically(path: Path, content: bytes) -> None:
    """Write `content` to `path` through a new temporary file in the same folder (created
    with the umask's permissions, like any file), so a reader never sees half a report and
    a failure leaves no partial file."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        with temporary.open("xb") as stream:
            stream.write(content)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def report_command(
    run_dir: Annotated[Path, typer.Argument(help="The run's folder (strategylab run --out DIR).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write (default RUN_DIR/report.<format>)."),
    ] = None,
    report_format: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format",
            help="html (self-contained, opens offline), md, json or xlsx; default from --out's "
            "suffix, else html.",
        ),
    ] = None,
    sweep: Annotated[
        Path | None,
        typer.Option("--sweep", help="A sweep's folder (trials.csv, best.json) to include."),
    ] = None,
    walkforward: Annotated[
        Path | None,
        typer.Option(
            "--walkforward", help="A walk-forward's folder (folds.csv, walkforward.json)."
        ),
    ] = None,
    montecarlo: Annotated[
        Path | None, typer.Option("--montecarlo", help="A montecarlo.json to include.")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="The run's data file, for the buy-and-hold curve (default: the catalog's "
            "dataset with the run's content hash).",
        ),
    ] = None,
) -> None:
    """Write a run's report: settings, metrics with conventions, equity vs buy-and-hold,
    drawdowns, monthly returns, rolling Sharpe, distributions, trades, costs, and the sweep,
    walk-forward and Monte Carlo results found beside it or given."""
    from app.data.catalog import DatasetCatalog  # the report's stack: only when asked
    from app.research.errors import ResearchInputError
    from app.research.report_formats import render_report
    from app.research.report_sources import ReportRequest, load_report
    from app.research.run_folder import RunFolderError
    from app.settings import load_settings

    if not run_dir.is_dir():
        raise _fail(f"RUN_DIR: {run_dir} is not a folder; pass a folder a run wrote (--out DIR)")
    chosen = report_format_for(report_format, out)
    target = out if out is not None else run_dir / f"report{chosen.suffix}"
    if target.is_dir():
        raise _fail(
            f"--out: {target} is a folder; name the report file, e.g. {target / 'report.html'}"
        )
    if not target.parent.is_dir():
        raise _fail(
            f"--out: the folder {target.parent} does not exist; create it or choose another"
        )
    request = ReportRequest(
        run_dir=run_dir,
        sweep_dir=sweep,
        walkforward_dir=walkforward,
        montecarlo_file=montecarlo,
        data_file=data,
        catalog=DatasetCatalog(load_settings().data_dir),
    )
    try:
        report = load_report(request)
    except RunFolderError as error:
        raise _fail(f"RUN_DIR: {error.message}") from None
    except ResearchInputError as error:
        raise _fail(f"--{error.field}: {error.message}") from None
    try:
        write_atomically(target, render_report(report, chosen))
    except OSError as error:
        raise _fail(f"--out: cannot write {target} ({error.strerror or error})") from None
    typer.echo(f"wrote {chosen.value} report to {target}")
