"""Everything a report reads from disk: the run folder (through `app.research.run_folder`),
its log, the prices for the buy-and-hold curve, and the sweep, walk-forward and Monte Carlo
files found beside the run or named by the caller.

Prices: equity.csv holds no prices, so the buy-and-hold curve needs the data the run used.
It is the file given (`data_file`, refused when its content hash differs from the one in
provenance.json), else the dataset of the catalog with the run's content hash (the name in
provenance first, then every dataset). Without it the report still shows buy-and-hold's
return from metrics.json and says why the curve is missing.

Research files: a folder or file the caller names must exist and parse (one sentence
otherwise); files found on their own (`trials.csv`/`best.json`, `folds.csv`/
`walkforward.json`, `montecarlo.json` in the run folder, or in the sweep folder a
`<sweep>/best/<rank>/` run sits in) are shown when they parse and noted when they do not.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.data import read_ohlcv
from app.data.catalog import DatasetCatalog, DatasetEntry
from app.data.errors import DataError
from app.data.store import content_hash
from app.engine.feed import FloatArray
from app.research.errors import ResearchInputError
from app.research.report import PriceSeries, Report, build_report
from app.research.report_sections import (
    ResearchSection,
    montecarlo_section,
    sweep_section,
    walkforward_section,
)
from app.research.run_folder import RunFolder, RunFolderError, load_run_folder

LOG_FILE = "log.txt"
MAX_LOG_LINES_READ = 10_000


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """What to report on: the run folder, optional research inputs and where prices are."""

    run_dir: Path
    sweep_dir: Path | None = None
    walkforward_dir: Path | None = None
    montecarlo_file: Path | None = None
    data_file: Path | None = None
    catalog: DatasetCatalog | None = None
    label: str | None = None  # how the report names the run (default: the folder's path)


def load_report(request: ReportRequest) -> Report:
    """Read everything `request` names and build the report; RunFolderError or
    ResearchInputError (one sentence) before any work when an input is unusable."""
    _check_given(request)
    _refuse_research_folder(request.run_dir)
    folder = load_run_folder(request.run_dir)
    prices, note = find_prices(folder, data_file=request.data_file, catalog=request.catalog)
    return build_report(
        folder,
        log_lines=read_log(request.run_dir / LOG_FILE),
        prices=prices,
        price_note=note,
        sections=research_sections(request),
        label=request.label,
    )


def _check_given(request: ReportRequest) -> None:
    checks = (
        ("sweep", request.sweep_dir, True, "the folder `strategylab optimize --out` wrote"),
        (
            "walkforward",
            request.walkforward_dir,
            True,
            "the folder `strategylab walkforward` wrote",
        ),
        (
            "montecarlo",
            request.montecarlo_file,
            False,
            "the montecarlo.json a run's Monte Carlo wrote",
        ),
        ("data", request.data_file, False, "the data file the run read"),
    )
    for name, path, is_folder, what in checks:
        if path is None:
            continue
        exists = path.is_dir() if is_folder else path.is_file()
        if not exists:
            kind = "folder" if is_folder else "file"
            raise ResearchInputError(name, f"{path} is not a {kind}; pass {what}")


def _refuse_research_folder(run_dir: Path) -> None:
    """A sweep's or walk-forward's folder given as the run: say which and what to do."""
    if (run_dir / "metrics.json").is_file():
        return
    if (run_dir / "walkforward.json").is_file() or (run_dir / "folds.csv").is_file():
        raise RunFolderError(
            f"{run_dir} is a walk-forward's folder, not a run's; report a run with "
            f"--walkforward {run_dir}"
        )
    if (run_dir / "trials.csv").is_file() or (run_dir / "best.json").is_file():
        best = run_dir / "best" / "1"
        raise RunFolderError(
            f"{run_dir} is a sweep's folder, not a run's; report its best run: {best}"
        )


def read_log(path: Path) -> tuple[str, ...]:
    """The run's log lines (at most MAX_LOG_LINES_READ); none when log.txt is absent."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            lines = []
            for line in handle:
                lines.append(line.rstrip("\n"))
                if len(lines) >= MAX_LOG_LINES_READ:
                    break
    except OSError:
        return ()
    return tuple(lines)


def find_prices(
    folder: RunFolder, *, data_file: Path | None, catalog: DatasetCatalog | None
) -> tuple[PriceSeries | None, str]:
    """Closes aligned with equity.csv for the buy-and-hold curve, or None and why not."""
    data = folder.provenance.get("data")
    wanted = data.get("content_hash") if isinstance(data, Mapping) else None
    if data_file is not None:
        closes = _closes(data_file, folder, wanted, strict=True)
        if closes is not None:  # strict: None never comes back, a refusal is raised
            return PriceSeries(closes, data_file.name), ""
    if catalog is None or not isinstance(wanted, str):
        return None, "no buy-and-hold curve: pass the run's data with --data FILE"
    for entry in _candidates(catalog, folder.provenance, wanted):
        closes = _closes(entry.path, folder, wanted, strict=False)
        if closes is not None:
            return PriceSeries(closes, f"dataset {entry.name}"), ""
    return None, (
        "no buy-and-hold curve: no dataset in the catalog has the run's data "
        f"({wanted}); pass it with --data FILE"
    )


def _candidates(
    catalog: DatasetCatalog, provenance: Mapping[str, Any], wanted: str
) -> list[DatasetEntry]:
    """Catalog entries with the run's content hash: the one the provenance names first."""
    source = provenance.get("source")
    names: list[str] = []
    if isinstance(source, Mapping):
        for key in ("dataset", "data_file"):
            value = source.get(key)
            if isinstance(value, str):
                names.append(value.removesuffix(".parquet").removesuffix(".csv"))
    found: list[DatasetEntry] = []
    for name in names:
        try:
            entry = catalog.resolve(name)
        except (DataError, OSError, ValueError):
            continue
        if entry.content_hash == wanted:
            return [entry]
    try:
        found = [entry for entry in catalog.entries() if entry.content_hash == wanted]
    except (DataError, OSError, ValueError):
        return []
    return found


def _closes(path: Path, folder: RunFolder, wanted: object, *, strict: bool) -> FloatArray | None:
    """Closes of `path` at equity.csv's times; None (or ResearchInputError when `strict`)
    when the file is unreadable, is other data than the run's, or lacks a bar."""

    def refuse(message: str) -> None:
        if strict:
            raise ResearchInputError("data", message)

    try:
        frame = read_ohlcv(path)
    except (DataError, OSError) as error:
        refuse(f"{path} cannot be read as OHLCV data ({error})")
        return None
    if isinstance(wanted, str) and content_hash(frame) != wanted:
        refuse(
            f"{path} holds other data than the run used (its content hash differs from {wanted})"
        )
        return None
    stamps = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
    times = folder.equity.time
    positions = np.searchsorted(stamps, times)
    inside = positions < len(stamps)
    if not inside.all() or not np.array_equal(stamps[positions], times):
        refuse(f"{path} lacks some bars of the run's equity.csv")
        return None
    closes: FloatArray = frame["close"].to_numpy(dtype=np.float64)[positions]
    return closes


def research_sections(request: ReportRequest) -> tuple[ResearchSection, ...]:
    """The sweep, walk-forward and Monte Carlo sections, given or found beside the run."""
    run_dir = request.run_dir
    sweep_home = run_dir.parent.parent if run_dir.parent.name == "best" else run_dir
    sections = [
        _sweep(request.sweep_dir or sweep_home, given=request.sweep_dir is not None),
        _walkforward(request.walkforward_dir or run_dir, given=request.walkforward_dir is not None),
        _montecarlo(
            request.montecarlo_file or run_dir / "montecarlo.json",
            given=request.montecarlo_file is not None,
        ),
    ]
    return tuple(section for section in sections if section is not None)


def _read_json(path: Path, field: str) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResearchInputError(field, f"{path} cannot be read as JSON ({error})") from None
    if not isinstance(document, dict):
        raise ResearchInputError(field, f"{path} holds a {type(document).__name__}, not an object")
    return document


def _read_csv(path: Path, field: str) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ResearchInputError(field, f"{path} cannot be read as CSV ({error})") from None
    return (rows[0], rows[1:]) if rows else ([], [])


def _unreadable(kind: str, title: str, source: Path, error: ResearchInputError) -> ResearchSection:
    return ResearchSection(
        kind=kind, title=title, source=str(source), summary=(), notes=(error.message,)
    )


def _sweep(folder: Path, *, given: bool) -> ResearchSection | None:
    trials, best = folder / "trials.csv", folder / "best.json"
    if not trials.is_file() and not best.is_file():
        if given:
            raise ResearchInputError(
                "sweep",
                f"{folder} holds no trials.csv or best.json; pass the optimize --out folder",
            )
        return None
    try:
        columns, rows = _read_csv(trials, "sweep") if trials.is_file() else ([], [])
        document = _read_json(best, "sweep") if best.is_file() else None
    except ResearchInputError as error:
        if given:
            raise
        return _unreadable("sweep", "Parameter sweep", folder, error)
    return sweep_section(columns, rows, document, str(folder))


def _walkforward(folder: Path, *, given: bool) -> ResearchSection | None:
    folds, summary = folder / "folds.csv", folder / "walkforward.json"
    if not folds.is_file() and not summary.is_file():
        if given:
            raise ResearchInputError(
                "walkforward",
                f"{folder} holds no folds.csv or walkforward.json; "
                "pass the walkforward --out folder",
            )
        return None
    try:
        columns, rows = _read_csv(folds, "walkforward") if folds.is_file() else ([], [])
        document = _read_json(summary, "walkforward") if summary.is_file() else None
    except ResearchInputError as error:
        if given:
            raise
        return _unreadable("walkforward", "Walk-forward", folder, error)
    return walkforward_section(columns, rows, document, str(folder))


def _montecarlo(path: Path, *, given: bool) -> ResearchSection | None:
    if not path.is_file():
        return None
    try:
        document = _read_json(path, "montecarlo")
    except ResearchInputError as error:
        if given:
            raise
        return _unreadable("montecarlo", "Monte Carlo", path, error)
    return montecarlo_section(document, str(path))
