"""The research sections of a report (sweep, walk-forward, Monte Carlo, overfitting) as plain
data, built from the documents those commands write: trials.csv and best.json
(`strategylab optimize`), folds.csv and walkforward.json (`strategylab walkforward`),
montecarlo.json (`strategylab montecarlo`).

Each section shows the document's scalar figures as they are (flattened to dotted keys), its
tables, and the overfitting statistics (`dsr`, `pbo`, ... from `sweep_statistics`) wherever
the document holds them. Readers tolerate keys they do not know and the absence of keys they
do, so a section never breaks on a newer file; it only shows less.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from app.engine.feed import FloatArray
from app.research.equity_analysis import Histogram, histogram

OVERFITTING_KEYS = ("dsr", "psr", "n_trials", "sharpe_variance", "expected_max_sharpe", "pbo")
TOP_TRIALS = 20
MAX_TABLE_ROWS = 500
MAX_SUMMARY_ITEMS = 80


@dataclass(frozen=True, slots=True)
class SectionTable:
    """A table of a section: `rows` hold numbers as floats, other cells as text."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class FanData:
    """Percentile paths of simulated equity: x is the step (trade or day number), each band
    (label, low, high) spans two percentiles, widest first; `median` may be absent."""

    x: FloatArray
    bands: tuple[tuple[str, FloatArray, FloatArray], ...]
    median: FloatArray | None
    is_time: bool = False  # x in epoch ns


@dataclass(frozen=True, slots=True)
class ResearchSection:
    """One research section of a report; `kind` is sweep, walkforward or montecarlo."""

    kind: str
    title: str
    source: str
    summary: tuple[tuple[str, Any], ...]
    overfitting: tuple[tuple[str, Any], ...] = ()
    meaning: str = ""
    tables: tuple[SectionTable, ...] = ()
    histogram: tuple[str, Histogram] | None = None
    fan: FanData | None = None
    notes: tuple[str, ...] = field(default=())


def cell(text: str) -> Any:
    """A CSV field as a float when it reads as a finite number, else the text itself."""
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def flatten(document: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar entries of a nested document as (dotted key, value); short lists of scalars as
    one comma-separated text; lists of objects are left to `object_tables`."""
    items: list[tuple[str, Any]] = []
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.extend(flatten(value, f"{name}."))
        elif isinstance(value, list):
            if all(not isinstance(item, Mapping | list) for item in value) and len(value) <= 20:
                items.append((name, ", ".join(str(item) for item in value)))
        else:
            items.append((name, value))
    return items[:MAX_SUMMARY_ITEMS]


def object_tables(document: Mapping[str, Any], prefix: str = "") -> list[SectionTable]:
    """Every list of objects in `document` (nested too) as a table of their scalar fields."""
    tables: list[SectionTable] = []
    for key, value in document.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            tables.extend(object_tables(value, f"{name}."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            columns: list[str] = []
            for item in value:
                for column, _ in flatten(item):
                    if column not in columns:
                        columns.append(column)
            rows = [dict(flatten(item)) for item in value[:MAX_TABLE_ROWS]]
            tables.append(
                SectionTable(
                    title=name,
                    columns=tuple(columns),
                    rows=tuple(tuple(row.get(c) for c in columns) for row in rows),
                    note=_cut_note(len(value)),
                )
            )
    return tables


def _cut_note(count: int) -> str:
    return f"first {MAX_TABLE_ROWS} of {count} rows" if count > MAX_TABLE_ROWS else ""


def find_overfitting(document: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], str]:
    """The overfitting statistics and their plain meaning: the `overfitting` (or
    `statistics`) object of `document` (best.json's holds `sweep_statistics`), else the top
    level when it holds `dsr` or `pbo`. The main figures come first, then the rest."""
    nested = [document.get(key) for key in ("overfitting", "statistics")]
    places = [place for place in nested if isinstance(place, Mapping)]
    if any(key in document for key in ("dsr", "pbo")):
        places.append(document)
    for place in places:
        meaning = place.get("meaning")
        scalars = [(k, v) for k, v in place.items() if not isinstance(v, Mapping | list)]
        main = [(k, place[k]) for k in OVERFITTING_KEYS if k in place]
        rest = [(k, v) for k, v in scalars if k not in OVERFITTING_KEYS and k != "meaning"]
        return main + rest, meaning if isinstance(meaning, str) else ""
    return [], ""


def csv_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> SectionTable:
    """A CSV file's rows as a table (numbers parsed), cut at MAX_TABLE_ROWS."""
    return SectionTable(
        title=title,
        columns=tuple(columns),
        rows=tuple(tuple(cell(text) for text in row) for row in rows[:MAX_TABLE_ROWS]),
        note=_cut_note(len(rows)),
    )


def _objective(best: Mapping[str, Any]) -> tuple[str | None, str]:
    """The (first) objective metric of a sweep and its direction, from best.json."""
    objective = best.get("objective", best.get("objectives"))
    if isinstance(objective, list) and objective:
        objective = objective[0]
    direction = best.get("direction", "maximize")
    if isinstance(objective, Mapping):
        direction = objective.get("direction", direction)
        objective = objective.get("metric")
    return (objective if isinstance(objective, str) else None), str(direction)


def _objective_column(columns: Sequence[str], metric: str | None) -> int | None:
    candidates = [metric, f"metric_{metric}", f"metrics.{metric}"] if metric else []
    candidates += ["value", "value_0", "values_0", "objective"]
    for candidate in candidates:
        if candidate in columns:
            return list(columns).index(candidate)
    return None


def sweep_section(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    best: Mapping[str, Any] | None,
    source: str,
) -> ResearchSection:
    """The sweep: best.json's figures, the overfitting statistics, the best trials (by the
    objective) and the distribution of the objective over the trials."""
    best = best or {}
    metric, direction = _objective(best)
    column = _objective_column(columns, metric)
    parsed = [tuple(cell(text) for text in row) for row in rows]
    histogram_data = None
    table_title = f"trials ({len(parsed)})"
    if column is not None:
        scored = [row for row in parsed if isinstance(row[column], float)]
        scored.sort(key=lambda row: row[column], reverse=direction != "minimize")
        values = np.array([row[column] for row in scored], dtype=np.float64)
        bins = min(40, max(5, math.isqrt(len(values)) + 1))
        histogram_data = (
            f"{columns[column]} over {len(values)} trials",
            histogram(values, bins=bins),
        )
        shown = scored[:TOP_TRIALS]
        table_title = f"best {len(shown)} of {len(parsed)} trials by {columns[column]}"
    else:
        shown = parsed[:TOP_TRIALS]
    overfitting, meaning = find_overfitting(best)
    summary = [(key, value) for key, value in flatten(best) if not _is_statistic(key)]
    return ResearchSection(
        kind="sweep",
        title="Parameter sweep",
        source=source,
        summary=tuple(summary),
        overfitting=tuple(overfitting),
        meaning=meaning,
        tables=(SectionTable(table_title, tuple(columns), tuple(shown)), *object_tables(best)),
        histogram=histogram_data,
        notes=() if rows else ("trials.csv has no trials",),
    )


def _is_statistic(key: str) -> bool:
    """Whether a flattened key is one of the overfitting statistics (shown apart)."""
    return key in OVERFITTING_KEYS or key.startswith(("overfitting.", "statistics."))


def walkforward_section(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    summary: Mapping[str, Any] | None,
    source: str,
) -> ResearchSection:
    """The walk-forward: walkforward.json's figures (efficiency, stitched out-of-sample
    metrics, acceptance), the overfitting statistics and the folds."""
    summary = summary or {}
    overfitting, meaning = find_overfitting(summary)
    tables = [csv_table("folds", columns, rows)] if columns else []
    tables += [t for t in object_tables(summary) if t.title != "folds" or not columns]
    return ResearchSection(
        kind="walkforward",
        title="Walk-forward",
        source=source,
        summary=tuple((k, v) for k, v in flatten(summary) if not _is_statistic(k)),
        overfitting=tuple(overfitting),
        meaning=meaning,
        tables=tuple(tables),
    )


def montecarlo_section(document: Mapping[str, Any], source: str) -> ResearchSection:
    """Monte Carlo: the method and inputs, the probability of ruin, each figure's observed
    value, median and intervals, the final equity's distribution and the fan of paths."""
    figures = document.get("figures")
    figures = figures if isinstance(figures, Mapping) else {}
    skipped = {"fan", "figures", "observed"}
    shown = {key: value for key, value in document.items() if key not in skipped}
    tables = [interval_table(figures, document.get("observed"))] if figures else []
    final = figures.get("final_equity")
    counts = final.get("histogram") if isinstance(final, Mapping) else None
    histogram_data = None
    if isinstance(counts, Mapping):
        edges, numbers = _numbers(counts.get("edges")), _numbers(counts.get("counts"))
        if edges is not None and numbers is not None and len(edges) == len(numbers) + 1:
            histogram_data = (
                "Simulated final equity",
                Histogram(edges, numbers.astype(np.int64)),
            )
    return ResearchSection(
        kind="montecarlo",
        title="Monte Carlo",
        source=source,
        summary=tuple(flatten(shown)),
        tables=tuple(tables),
        histogram=histogram_data,
        fan=fan_data(document),
    )


def interval_table(figures: Mapping[str, Any], observed: Any) -> SectionTable:
    """One row per simulated figure: the run's own value, median, mean and each interval."""
    levels: list[float] = []
    for summary in figures.values():
        for interval in summary.get("intervals", []) if isinstance(summary, Mapping) else []:
            level = interval.get("level") if isinstance(interval, Mapping) else None
            if isinstance(level, int | float) and level not in levels:
                levels.append(float(level))
    rows = []
    for name, summary in figures.items():
        if not isinstance(summary, Mapping):
            continue
        bounds = {
            interval.get("level"): (interval.get("low"), interval.get("high"))
            for interval in summary.get("intervals", [])
            if isinstance(interval, Mapping)
        }
        own = observed.get(name) if isinstance(observed, Mapping) else None
        row: list[Any] = [name, own, summary.get("median"), summary.get("mean")]
        for level in levels:
            low, high = bounds.get(level, (None, None))
            row += [low, high]
        rows.append(tuple(row))
    columns = ["figure", "observed", "median", "mean"]
    for level in levels:
        columns += [f"{level:g} low", f"{level:g} high"]
    return SectionTable("intervals", tuple(columns), tuple(rows))


def fan_data(document: Mapping[str, Any]) -> FanData | None:
    """The percentile paths of montecarlo.json's `fan` (`percentiles`: a list of
    {"percentile", "equity"} objects, or an object {percentile: path}; `time` as ISO text
    or `marks` as the x axis), paired outside-in into bands around the median."""
    fan = document.get("fan")
    if not isinstance(fan, Mapping):
        return None
    paths = _percentile_paths(fan)
    if len(paths) < 2:
        return None
    length = len(next(iter(paths.values())))
    x, is_time = _fan_axis(fan, length)
    levels = sorted(paths)
    bands = []
    while len(levels) >= 2:
        low, high = levels.pop(0), levels.pop(-1)
        bands.append((f"{low:g}-{high:g} %", paths[low], paths[high]))
    return FanData(x=x, bands=tuple(bands), median=paths.get(50.0), is_time=is_time)


def _fan_axis(fan: Mapping[str, Any], length: int) -> tuple[FloatArray, bool]:
    times = fan.get("time")
    if isinstance(times, list) and len(times) == length:
        try:
            stamps = pd.to_datetime(times, utc=True)
        except (ValueError, TypeError):
            stamps = None
        if stamps is not None:
            return np.asarray(stamps.as_unit("ns").asi8, dtype=np.float64), True
    marks = _numbers(fan.get("marks", fan.get("x")))
    if marks is not None and len(marks) == length:
        return marks, False
    return np.arange(length, dtype=np.float64), False


def _numbers(values: Any) -> FloatArray | None:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return array if array.ndim == 1 else None


def _percentile_paths(fan: Mapping[str, Any]) -> dict[float, FloatArray]:
    """Paths by percentile (0-100) from the layouts `fan_data` reads; levels given as
    fractions (all <= 1) are scaled to percent; paths of unequal length give none."""
    raw: list[tuple[Any, Any]] = []
    percentiles = fan.get("percentiles")
    if isinstance(percentiles, list) and all(isinstance(p, Mapping) for p in percentiles):
        raw = [(p.get("percentile"), p.get("equity", p.get("values"))) for p in percentiles]
    elif isinstance(percentiles, Mapping):
        raw = [
            (cell(str(key).rstrip("%").lstrip("p")), values) for key, values in percentiles.items()
        ]
    elif isinstance(percentiles, list) and isinstance(fan.get("paths"), list):
        raw = list(zip(percentiles, fan["paths"], strict=False))
    found: dict[float, FloatArray] = {}
    for level, values in raw:
        path = _numbers(values)
        if path is not None and isinstance(level, int | float) and not isinstance(level, bool):
            found[float(level)] = path
    if found and max(found) <= 1:
        found = {level * 100: path for level, path in found.items()}
    lengths = {len(path) for path in found.values()}
    return found if len(lengths) == 1 else {}
