"""Monte Carlo of a finished run: trade-order shuffle and trade bootstrap of per-trade returns
compounded from the starting equity, and block bootstraps (arch) of the daily returns; the
distributions, intervals, probability of ruin and fan chart that go into montecarlo.json.

What is resampled, and why (docs/research.md, "Monte Carlo"):
- Trade methods resample per-trade *returns*, r_i = pnl_i / E_(i-1), where E_0 is the starting
  cash and E_i = E_(i-1) + pnl_i the closed-trade equity after the i-th trade to close (trades
  in order of exit). A path compounds them, E_0 x prod(1 + r), so a loss takes a share of what
  is left and no path falls below 0 (reordering dollar PnL instead gives drawdowns past
  -100 %). Trades in a row all close at the times the run closed its trades (the order of
  the returns changes, not when trades end), which times the drawdowns and gives the day-end
  equities of the Sharpe. Funding is not in a trade's pnl, so it is not in these paths.
  `shuffle` permutes all the returns (final equity is the same on every path; the order, so
  drawdowns, ruin and Sharpe, changes); `bootstrap` draws as many returns with replacement.
- `block` resamples the run's daily returns (day-end equity changes, the engine's) in blocks,
  keeping their serial dependence: arch's StationaryBootstrap (Politis & Romano 1994, blocks
  of random, geometric length) or CircularBlockBootstrap, with the block length from
  arch.bootstrap.optimal_block_length (Politis & White 2004, Patton et al. 2009) unless set.
  A path starts from the starting cash and takes one mark per day.
Every path's figures follow `app.research.montecarlo_paths`; the run's own path ("observed")
is measured the same way, so it compares with the simulations (it differs from metrics.json,
which marks the equity bar by bar). Seeded: the same run, spec and seed give the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np

from app.engine.feed import FloatArray, IntArray
from app.engine.metrics import NS_PER_DAY, daily_returns, day_end_indices
from app.research.equity_analysis import bar_ns_of
from app.research.errors import ResearchInputError
from app.research.montecarlo_paths import (
    PathClock,
    PathFigures,
    compound,
    concatenate,
    fan_marks,
    growth_factors,
    path_buffer,
    path_figures,
)
from app.research.run_folder import RunFolder

Method = Literal["shuffle", "bootstrap", "block"]
BlockKind = Literal["stationary", "circular"]
METHODS: Final = ("shuffle", "bootstrap", "block")
BLOCK_KINDS: Final = ("stationary", "circular")
DEFAULT_LEVELS: Final = (0.9, 0.95, 0.99)
DEFAULT_SIMULATIONS: Final = 10_000
MAX_SIMULATIONS: Final = 100_000
"""Most paths one simulation draws: the fan chart keeps 101 marks of every path (80 MB here)."""
DEFAULT_RUIN_THRESHOLD: Final = 0.5
MIN_BLOCK_DAYS: Final = 30
"""Fewest daily returns a block bootstrap accepts (the automatic block length needs a sample)."""
FAN_POINTS: Final = 101
HISTOGRAM_BINS: Final = 40
FIGURES: Final = ("final_equity", "cagr", "max_drawdown", "sharpe", "longest_drawdown_days")
_CELLS_PER_BATCH: Final = 500_000  # simulated marks held at once (a batch stays in cache)


@dataclass(frozen=True, slots=True)
class MonteCarloSpec:
    """What to simulate. `levels` are two-sided confidence levels in (0, 1); a path is ruined
    when its equity ever falls to or below `ruin_threshold` x the starting equity;
    `block_length` (days, block method only) overrides the automatic length. Field names are
    the ones ResearchInputError reports (the CLI maps them to its flags)."""

    method: Method
    simulations: int = DEFAULT_SIMULATIONS
    seed: int = 1
    levels: tuple[float, ...] = DEFAULT_LEVELS
    ruin_threshold: float = DEFAULT_RUIN_THRESHOLD
    block_kind: BlockKind = "stationary"
    block_length: float | None = None
    fan_points: int = field(default=FAN_POINTS)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ResearchInputError(
                "method", f"{self.method!r} is not one of {', '.join(METHODS)}"
            )
        if not _is_int(self.simulations) or not 1 <= self.simulations <= MAX_SIMULATIONS:
            raise ResearchInputError(
                "simulations",
                f"must be a whole number from 1 to {MAX_SIMULATIONS:,}, got {self.simulations!r}",
            )
        if not _is_int(self.seed) or self.seed < 0:
            raise ResearchInputError("seed", f"must be a whole number >= 0, got {self.seed!r}")
        _check_levels(self.levels)
        if not (isinstance(self.ruin_threshold, float | int) and 0 < self.ruin_threshold < 1):
            raise ResearchInputError(
                "ruin_threshold",
                f"must be a fraction of the starting equity between 0 and 1 (0.5 = half), "
                f"got {self.ruin_threshold!r}",
            )
        if self.block_kind not in BLOCK_KINDS:
            raise ResearchInputError(
                "block_kind", f"{self.block_kind!r} is not one of {', '.join(BLOCK_KINDS)}"
            )
        if self.block_length is not None and not (
            isinstance(self.block_length, float | int)
            and math.isfinite(self.block_length)
            and self.block_length >= 1
        ):
            raise ResearchInputError(
                "block_length", f"must be a number of days >= 1, got {self.block_length!r}"
            )
        if not _is_int(self.fan_points) or self.fan_points < 2:
            raise ResearchInputError("fan_points", f"must be >= 2, got {self.fan_points!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_levels(levels: tuple[float, ...]) -> None:
    if not levels:
        raise ResearchInputError("levels", "give at least one confidence level, e.g. 0.95")
    for level in levels:
        if not (isinstance(level, float | int) and not isinstance(level, bool) and 0 < level < 1):
            raise ResearchInputError(
                "levels", f"each level must be between 0 and 1 (0.95 = 95 %), got {level!r}"
            )
    if len(set(levels)) != len(levels):
        raise ResearchInputError("levels", "a level is given twice")


def parse_levels(text: str) -> tuple[float, ...]:
    """'0.9,0.95,0.99' as sorted levels; ResearchInputError("levels") for anything else."""
    try:
        levels = tuple(sorted(float(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise ResearchInputError(
            "levels", f"{text!r} is not a comma-separated list of numbers like 0.9,0.95,0.99"
        ) from None
    _check_levels(levels)
    return levels


@dataclass(frozen=True, slots=True)
class RunSample:
    """What the simulations need from a run. Times epoch ns (UTC); returns are fractions.

    `trade_returns` and `trade_exit_times` are in order of exit; `trades_ignored` counts trades
    that closed after the closed-trade equity had reached 0 (no return on nothing).
    `day_end_times` are the run's UTC day ends and `daily_returns` the changes between them."""

    initial_equity: float
    start_time: int
    end_time: int
    trade_returns: FloatArray
    trade_exit_times: IntArray
    trades_ignored: int
    day_end_times: IntArray
    daily_returns: FloatArray
    days_per_year: int
    risk_free_rate: float

    @property
    def calendar_days(self) -> float:
        """The run's span, first bar open to last bar close, in days (the CAGR's)."""
        return (self.end_time - self.start_time) / NS_PER_DAY


def trade_returns(initial_equity: float, pnl: FloatArray) -> tuple[FloatArray, int]:
    """Per-trade returns pnl_i / E_(i-1) on closed-trade equity (E_0 = `initial_equity`,
    E_i = E_(i-1) + pnl_i), capped below at -100 %, in the order given; and how many trades
    came after E had reached 0 (they are left out)."""
    before = initial_equity + np.concatenate(([0.0], np.cumsum(pnl)[:-1]))
    emptied = np.flatnonzero(before <= 0)
    kept = int(emptied[0]) if len(emptied) else len(pnl)
    returns = np.maximum(pnl[:kept] / before[:kept], -1.0)
    return returns.astype(np.float64), len(pnl) - kept


def sample_from_folder(folder: RunFolder) -> RunSample:
    """The RunSample of a loaded run folder (see RunSample for each field)."""
    equity = folder.equity
    if len(equity) == 0:
        raise ResearchInputError("run_dir", "equity.csv has no rows: the run recorded no bar")
    trades = folder.trades
    order = np.argsort(trades.exit_time, kind="stable")
    initial = folder.metrics.initial_equity
    returns, ignored = trade_returns(initial, trades.pnl[order])
    ends = day_end_indices(equity.time)
    return RunSample(
        initial_equity=initial,
        start_time=int(equity.time[0]),
        end_time=int(equity.time[-1]) + bar_ns_of(equity.time),
        trade_returns=returns,
        trade_exit_times=trades.exit_time[order][: len(returns)],
        trades_ignored=ignored,
        day_end_times=equity.time[ends],
        daily_returns=daily_returns(equity.time, equity.equity),
        days_per_year=folder.metrics.annualisation_days,
        risk_free_rate=folder.metrics.risk_free_rate,
    )


def _trade_clock(sample: RunSample) -> PathClock:
    """Marks: the start, one per trade at its exit, and the run's end (equity unchanged)."""
    times = np.concatenate(([sample.start_time], sample.trade_exit_times, [sample.end_time]))
    exit_days = times // NS_PER_DAY
    days = sample.day_end_times // NS_PER_DAY
    marks = np.searchsorted(exit_days[1:-1], days, side="right")  # trades closed by each day end
    return PathClock(times=times, day_end_marks=marks, calendar_days=sample.calendar_days)


def _day_clock(sample: RunSample) -> PathClock:
    days = len(sample.daily_returns) + 1
    return PathClock(
        times=np.arange(days, dtype=np.int64) * NS_PER_DAY,
        day_end_marks=np.arange(days, dtype=np.int64),
        calendar_days=sample.calendar_days,
    )


def _draw(
    observed: FloatArray, out: FloatArray, method: Method, rng: np.random.Generator, arch: Any
) -> None:
    """Fill each row of `out` with a resampling of `observed` (the run's growth factors per
    step; `arch`: the block bootstrap over them, or None)."""
    if method == "shuffle":
        out[:] = observed
        rng.permuted(out, axis=1, out=out)
    elif method == "bootstrap":
        picks = rng.integers(0, len(observed), size=out.shape, dtype=np.int32)
        np.take(observed, picks, out=out)
    else:
        np.take(observed, np.stack([arch.update_indices() for _ in range(len(out))]), out=out)


def _block_bootstrap(sample: RunSample, spec: MonteCarloSpec, rng: np.random.Generator) -> Any:
    from arch.bootstrap import (  # imported here: arch is heavy and only blocks need it
        CircularBlockBootstrap,
        StationaryBootstrap,
        optimal_block_length,
    )

    returns = sample.daily_returns
    automatic = spec.block_length is None
    if spec.block_length is None:
        estimate = float(optimal_block_length(returns.reshape(-1))[spec.block_kind].iloc[0])
        length = estimate if math.isfinite(estimate) else 1.0
    else:
        length = float(spec.block_length)
    length = min(max(length, 1.0), float(len(returns)))
    if spec.block_kind == "circular":
        length = float(max(1, round(length)))
        bootstrap: Any = CircularBlockBootstrap(int(length), returns, seed=rng)
    else:
        # arch's stub says int; the stationary bootstrap only uses 1 / block_size (the chance
        # a block ends each day), so a fractional mean length is what it is given
        bootstrap = StationaryBootstrap(length, returns, seed=rng)  # type: ignore[arg-type]
    return bootstrap, {"kind": spec.block_kind, "length_days": length, "automatic": automatic}


def _check_sample(sample: RunSample, spec: MonteCarloSpec) -> None:
    if spec.method in ("shuffle", "bootstrap") and len(sample.trade_returns) == 0:
        raise ResearchInputError(
            "method",
            f"the run has no closed trades to {spec.method}; use --method block, which "
            "resamples its daily returns",
        )
    if spec.method == "block" and len(sample.daily_returns) < MIN_BLOCK_DAYS:
        raise ResearchInputError(
            "method",
            f"a block bootstrap needs at least {MIN_BLOCK_DAYS} daily returns, the run has "
            f"{len(sample.daily_returns)}; use a longer run or --method shuffle",
        )


@dataclass(frozen=True, slots=True)
class Simulation:
    """Every simulated path's figures, the run's own path's, and fan-chart marks."""

    figures: PathFigures
    observed: PathFigures
    fan_marks: IntArray
    fan_equity: FloatArray  # simulations x len(fan_marks)
    clock: PathClock
    block: dict[str, Any] | None


def _figures(paths: FloatArray, clock: PathClock, sample: RunSample) -> PathFigures:
    return path_figures(
        paths, clock, days_per_year=sample.days_per_year, risk_free_rate=sample.risk_free_rate
    )


def simulate(sample: RunSample, spec: MonteCarloSpec) -> Simulation:
    """Run `spec.simulations` paths in batches (vectorised within each), seeded by `spec.seed`."""
    _check_sample(sample, spec)
    rng = np.random.default_rng(spec.seed)
    if spec.method == "block":
        arch, block = _block_bootstrap(sample, spec, rng)
        observed_returns, clock = sample.daily_returns, _day_clock(sample)
    else:
        arch, block = None, None
        observed_returns, clock = sample.trade_returns, _trade_clock(sample)
    hold_last = spec.method != "block"  # trade paths hold their last mark to the run's end
    steps = len(observed_returns)
    factors = growth_factors(observed_returns)
    marks = fan_marks(len(clock.times), spec.fan_points)
    batch_rows = max(1, _CELLS_PER_BATCH // max(1, len(observed_returns)))
    batches: list[PathFigures] = []
    fans: list[FloatArray] = []
    for start in range(0, spec.simulations, batch_rows):
        rows = min(batch_rows, spec.simulations - start)
        paths = path_buffer(rows, steps, hold_last=hold_last)
        _draw(factors, paths[:, 1 : steps + 1], spec.method, rng, arch)
        compound(paths, sample.initial_equity, steps)
        batches.append(_figures(paths, clock, sample))
        fans.append(paths[:, marks])
    own = path_buffer(1, steps, hold_last=hold_last)
    own[0, 1 : steps + 1] = factors
    observed = _figures(compound(own, sample.initial_equity, steps), clock, sample)
    return Simulation(
        figures=concatenate(batches),
        observed=observed,
        fan_marks=marks,
        fan_equity=np.concatenate(fans),
        clock=clock,
        block=block,
    )
