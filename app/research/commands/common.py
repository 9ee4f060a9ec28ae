"""Command-line pieces the research commands share: `--param` ranges and `--objective`
parsing, the one sentence a ResearchInputError prints as, Ctrl-C as a clean stop, and the
sweep progress display (a Rich bar on a terminal, a plain line every few seconds otherwise).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Final

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from app.engine import ParamValue
from app.research.errors import ResearchInputError
from app.research.space import SearchSpace, parse_space
from app.research.sweep import Direction, Objective, SweepProgress, TrialRecord
from app.run_options import EXIT_BAD_INPUT, fail, option_flag
from app.terminal import markup_text, terminal_text

PLAIN_PROGRESS_EVERY_S: Final = 5.0
"""How often progress is printed as a plain line when stderr is not a terminal, s."""
DIRECTION_WORDS: Final[dict[str, Direction]] = {
    "max": "maximize",
    "maximize": "maximize",
    "min": "minimize",
    "minimize": "minimize",
}


def parse_ranges(texts: Sequence[str], defaults: Mapping[str, ParamValue]) -> SearchSpace:
    """The `--param` values as a SearchSpace (ResearchInputError("param") when one is
    unusable, or none is given)."""
    if not texts:
        raise ResearchInputError(
            "param", "give the ranges to search, e.g. --param fast=5:50:5 --param slow=20..200"
        )
    return parse_space(texts, defaults)


def parse_objectives(texts: Sequence[str], *, maximize: bool) -> tuple[Objective, ...]:
    """`--objective METRIC[:max|:min]` values; without a suffix the direction is
    --maximize/--minimize's."""
    objectives: list[Objective] = []
    for text in texts:
        metric, sep, word = text.strip().partition(":")
        if sep and word.strip().lower() not in DIRECTION_WORDS:
            raise ResearchInputError(
                "objective", f"{text!r} must look like metric, metric:max or metric:min"
            )
        direction = (
            DIRECTION_WORDS[word.strip().lower()]
            if sep
            else ("maximize" if maximize else "minimize")
        )
        objectives.append(Objective(metric.strip(), direction))
    return tuple(objectives)


def one_data_file(files: Sequence[Path], command: str) -> Path:
    """The one `--data` file a sweep or walk-forward runs on. Given twice it is refused, not
    silently narrowed to the last: several symbols in one account are `strategylab run` only."""
    if len(files) != 1:
        raise fail(
            f"--data: {command} runs on one data file, but --data was given {len(files)} times; "
            "several symbols in one account are supported by `strategylab run` only",
            EXIT_BAD_INPUT,
        )
    return files[0]


@contextmanager
def reported_research_errors() -> Iterator[None]:
    """A ResearchInputError as its flag and sentence, with EXIT_BAD_INPUT."""
    try:
        yield
    except ResearchInputError as error:
        raise fail(f"{option_flag(error.field)}: {error.message}", EXIT_BAD_INPUT) from None


@contextmanager
def stop_on_interrupt(cancel: threading.Event, what: str) -> Iterator[None]:
    """While inside: the first Ctrl-C (SIGINT) sets `cancel` (the command stops cleanly after
    the running work and keeps it), a second one interrupts at once. Outside the main thread,
    where signals cannot be handled, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        cancel.set()
        Console(stderr=True).print(
            f"stopping: {what} (Ctrl-C again to abort at once)", highlight=False
        )

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def describe_best(record: TrialRecord | None, objectives: Sequence[Objective]) -> str:
    """The best trial so far in a few words, e.g. `sharpe 1.234 (trial 17)`."""
    if record is None or record.values is None:
        return "-"
    shown = ", ".join(
        f"{objective.metric} {value:.4g}"
        for objective, value in zip(objectives, record.values, strict=True)
    )
    return f"{shown} (trial {record.number})"


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@contextmanager
def sweep_progress(
    label: str, objectives: Sequence[Objective]
) -> Iterator[Callable[[SweepProgress], None]]:
    """A progress callback for the duration: trials done of total, trials/s, ETA and the
    best so far, as a Rich bar when stderr is a terminal, else a plain line every few s."""
    console = Console(stderr=True)
    if not sys.stderr.isatty():
        last = [0.0]

        def print_line(progress: SweepProgress) -> None:
            now = time.monotonic()
            if now - last[0] < PLAIN_PROGRESS_EVERY_S and progress.trials_done != (
                progress.trials_total
            ):
                return
            last[0] = now
            total = progress.trials_total if progress.trials_total is not None else "?"
            line = (
                f"{label}: {progress.trials_done}/{total} trials, "
                f"{progress.trials_per_s:.2f} trials/s, ETA {_eta(progress.eta_s)}, "
                f"best {describe_best(progress.best, objectives)}"
            )
            console.print(terminal_text(line), highlight=False, markup=False)

        yield print_line
        return
    columns = (
        TextColumn(markup_text(label)),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} trials/s"),
        TextColumn("ETA {task.fields[eta]}"),
        TextColumn("best {task.fields[best]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(label, total=None, rate="-", eta="-", best="-")

        def update(progress: SweepProgress) -> None:
            bar.update(
                task,
                total=progress.trials_total,
                completed=progress.trials_done,
                rate=f"{progress.trials_per_s:.2f}" if progress.trials_per_s else "-",
                eta=_eta(progress.eta_s),
                best=markup_text(describe_best(progress.best, objectives)),
            )

        yield update


__all__ = [
    "describe_best",
    "parse_objectives",
    "parse_ranges",
    "reported_research_errors",
    "stop_on_interrupt",
    "sweep_progress",
]
