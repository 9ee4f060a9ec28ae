"""`strategylab montecarlo RUN_DIR`: Monte Carlo of a finished run's trades or daily returns,
written as montecarlo.json, with a short summary printed.

The simulation itself (numpy, arch) is imported inside the command, so registering the
command costs `strategylab run` nothing.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Console
from rich.table import Table

from app.run_options import EXIT_BAD_INPUT, fail

if TYPE_CHECKING:
    from app.research.montecarlo import MonteCarloSpec

FLAGS: Final = {
    "run_dir": "RUN_DIR",
    "method": "--method",
    "simulations": "--n",
    "seed": "--seed",
    "levels": "--levels",
    "ruin_threshold": "--ruin",
    "block_kind": "--block-kind",
    "block_length": "--block-length",
}
"""The flag each MonteCarloSpec / run-folder field is given with, for error sentences."""

FIGURE_LABELS: Final = (
    ("final_equity", "final equity", False),
    ("cagr", "CAGR", True),
    ("max_drawdown", "max drawdown", True),
    ("sharpe", "Sharpe", False),
    ("longest_drawdown_days", "longest drawdown, days", False),
)


class MethodChoice(StrEnum):
    """What to resample: trade order, trades with replacement, or blocks of daily returns."""

    SHUFFLE = "shuffle"
    BOOTSTRAP = "bootstrap"
    BLOCK = "block"


class BlockKindChoice(StrEnum):
    """arch's bootstrap for --method block."""

    STATIONARY = "stationary"
    CIRCULAR = "circular"


def montecarlo_command(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (strategylab run --out DIR).")],
    method: Annotated[
        MethodChoice,
        typer.Option(
            help="shuffle: reorder the per-trade returns; bootstrap: draw trades with "
            "replacement; block: block-bootstrap the daily returns (arch)."
        ),
    ],
    n: Annotated[int, typer.Option("--n", help="Number of simulated paths.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same file.")] = 1,
    levels: Annotated[
        str, typer.Option(help="Confidence levels of the intervals, comma-separated.")
    ] = "0.9,0.95,0.99",
    ruin: Annotated[
        float,
        typer.Option(help="Ruin: equity ever at or below this fraction of the starting equity."),
    ] = 0.5,
    block_kind: Annotated[
        BlockKindChoice, typer.Option(help="Block bootstrap (--method block).")
    ] = BlockKindChoice.STATIONARY,
    block_length: Annotated[
        float | None,
        typer.Option(help="Mean block length in days (--method block); default: automatic."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for montecarlo.json (default: RUN_DIR).")
    ] = None,
) -> None:
    """Simulate many alternative histories of a finished run and write montecarlo.json:
    distributions and intervals of final equity, CAGR, max drawdown, Sharpe and longest
    drawdown, the probability of ruin and a fan chart of equity paths."""
    from app.research.errors import ResearchInputError  # the simulation's imports: when run
    from app.research.montecarlo import MonteCarloSpec, parse_levels
    from app.research.montecarlo_document import run_montecarlo, write_montecarlo

    try:
        spec = MonteCarloSpec(
            method=method.value,
            simulations=n,
            seed=seed,
            levels=parse_levels(levels),
            ruin_threshold=ruin,
            block_kind=block_kind.value,
            block_length=block_length,
        )
        document = run_montecarlo(run_dir, spec)
    except ResearchInputError as error:
        flag = FLAGS.get(error.field, "--" + error.field.replace("_", "-"))
        raise fail(f"{flag}: {error.message}", EXIT_BAD_INPUT) from None
    target = out if out is not None else run_dir
    try:
        path = write_montecarlo(document, target)
    except OSError as error:
        raise fail(f"--out: cannot write to {target}: {error.strerror}", EXIT_BAD_INPUT) from None
    _print_summary(document, spec)
    typer.echo(f"wrote {path}")


def _format(value: float | None, percent: bool) -> str:
    if value is None:
        return "-"
    return f"{value * 100:,.2f} %" if percent else f"{value:,.2f}"


def _print_summary(document: dict[str, Any], spec: MonteCarloSpec) -> None:
    level = max(spec.levels)
    table = Table(
        title=f"{spec.method}: {spec.simulations:,} simulations, seed {spec.seed}",
        show_header=True,
    )
    for column in ("figure", "run", "median", f"{level:g} interval"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for key, label, percent in FIGURE_LABELS:
        figure = document["figures"][key]
        interval = next((i for i in figure["intervals"] if i["level"] == level), None)
        span = (
            f"{_format(interval['low'], percent)} .. {_format(interval['high'], percent)}"
            if interval is not None
            else "-"
        )
        observed = document["observed"][key]
        table.add_row(label, _format(observed, percent), _format(figure["median"], percent), span)
    Console().print(table)
    ruin = document["ruin"]
    Console().print(
        f"P(ruin: equity ever <= {ruin['threshold']:g} x start) = "
        f"{ruin['probability'] * 100:.2f} %",
        highlight=False,
    )
