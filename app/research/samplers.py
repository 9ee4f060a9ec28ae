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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from optuna.samplers import BaseSampler
    from optuna.trial import FrozenTrial

Method = Literal["grid", "random", "tpe", "cmaes", "nsga2"]
METHODS: Final[tuple[Method, ...]] = ("grid", "random", "tpe", "cmaes", "nsga2")
TRIAL_ATTR: Final = "sweep_trial"
"""The one trial user attribute a sweep stores its result in (one write per trial)."""
CONSTRAINTS_KEY: Final = "constraint_values"
"""Key, in TRIAL_ATTR, of the constraint values (<= 0 is satisfied) that samplers with
constraint support (TPE, NSGA-II) use to steer away from infeasible trials."""


def trial_seed(seed: int, batch_index: int, position: int) -> int:
    """The seed of one trial's sampler: a 31-bit number from sha256 of the three integers."""
    digest = hashlib.sha256(f"{seed}:{batch_index}:{position}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


def stored_constraints(trial: FrozenTrial) -> Sequence[float]:
    """The constraint values a trial was told with (none: no constraint, always feasible)."""
    stored = trial.user_attrs.get(TRIAL_ATTR)
    values = stored.get(CONSTRAINTS_KEY) if isinstance(stored, dict) else None
    return [float(value) for value in values] if isinstance(values, list) else []


def build_sampler(
    method: Method, *, seed: int, grid: dict[str, list[Any]], has_constraints: bool
) -> BaseSampler:
    """The sampler of `method` seeded with `seed` (see the module docstring for which seed)."""
    from optuna import samplers

    constraints = stored_constraints if has_constraints else None
    if method == "grid":
        return _quiet_grid_sampler(grid, seed=seed)
    if method == "random":
        return samplers.RandomSampler(seed=seed)
    if method == "tpe":
        return samplers.TPESampler(seed=seed, constraints_func=constraints)
    if method == "cmaes":
        return samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return samplers.NSGAIISampler(seed=seed, constraints_func=constraints)


def _quiet_grid_sampler(grid: dict[str, list[Any]], *, seed: int) -> BaseSampler:
    from optuna.samplers import GridSampler

    class QuietGridSampler(GridSampler):
        """GridSampler without its stop request after the last point: `Study.stop` only
        works inside `Study.optimize`, and a sweep asks exactly the grid's size anyway."""

        def after_trial(self, *args: object, **kwargs: object) -> None:
            return None

    return QuietGridSampler(grid, seed=seed)


__all__ = ["CONSTRAINTS_KEY", "METHODS", "TRIAL_ATTR", "Method", "build_sampler", "trial_seed"]
