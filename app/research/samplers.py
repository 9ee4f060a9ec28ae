"""The Optuna sampler of each sweep method, seeded per trial so that a sweep is reproducible.

Determinism (issue 11): trials are asked in fixed-size batches whatever the number of
workers, and every trial is asked from a fresh sampler seeded from (the sweep's seed, the
batch index, the trial's place in the batch). What a sampler proposes then depends only on the
seed, the trial's number and the trials already told, never on timing, on how many workers ran
the batch, or on whether the process was restarted in between: a resumed study asks the very
trials an uninterrupted one would have. CMA-ES and NSGA-II keep their state (the optimizer,
the generations) in the study's storage, so they continue across batches and restarts.

The grid is the exception: GridSampler shuffles the grid once from its seed and gives trial n
the n-th point, so it is always built with the sweep's own seed.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler

Method = Literal["grid", "random", "tpe", "cmaes", "nsga2"]
METHODS: Final[tuple[Method, ...]] = ("grid", "random", "tpe", "cmaes", "nsga2")
TRIAL_ATTR: Final = "sweep_trial"
"""The one trial user attribute a sweep stores its result in (one write per trial)."""
CONSTRAINT_PREFIX: Final = "constraints:"
"""Prefix of the trial system attributes holding constraint values (<= 0 is satisfied), the
keys Optuna's `Trial.set_constraint` writes and TPE and NSGA-II read to steer away from
infeasible trials."""


def trial_seed(seed: int, batch_index: int, position: int) -> int:
    """The seed of one trial's sampler: a 31-bit number from sha256 of the three integers."""
    digest = hashlib.sha256(f"{seed}:{batch_index}:{position}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def build_sampler(method: Method, *, seed: int, grid: dict[str, list[Any]]) -> BaseSampler:
    """The sampler of `method` seeded with `seed` (see the module docstring for which seed)."""
    from optuna import samplers

    if method == "grid":
        return _quiet_grid_sampler(grid, seed=seed)
    if method == "random":
        return samplers.RandomSampler(seed=seed)
    if method == "tpe":
        return samplers.TPESampler(seed=seed)
    if method == "cmaes":
        return samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return samplers.NSGAIISampler(seed=seed)


def _quiet_grid_sampler(grid: dict[str, list[Any]], *, seed: int) -> BaseSampler:
    from optuna.samplers import GridSampler

    class QuietGridSampler(GridSampler):
        """GridSampler without its stop request after the last point: `Study.stop` only
        works inside `Study.optimize`, and a sweep asks exactly the grid's size anyway."""

        def after_trial(self, *args: object, **kwargs: object) -> None:
            return None

    return QuietGridSampler(grid, seed=seed)


__all__ = ["CONSTRAINT_PREFIX", "METHODS", "TRIAL_ATTR", "Method", "build_sampler", "trial_seed"]
