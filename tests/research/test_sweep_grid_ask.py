"""A grid trial asked in one write (app.research.sweep._ask_grid_point) is stored exactly as
Optuna's own `study.ask` with the grid sampler stores it: the same number, state, params,
distributions and system attributes, so a study either path wrote resumes on the other."""

from __future__ import annotations

from pathlib import Path

from optuna.trial import TrialState

from app.research.space import parse_space
from app.research.sweep import TrialSamplers
from app.research.sweep import _ask as ask_trial
from app.research.sweep import _sampler_for as sampler_for
from tests.research.test_sweep import DEFAULTS, new_study, spec_of

SPACE = ["fast=2:6", "slow=20:30:5", "mode=a,b"]  # 5 x 3 x 2 = 30 points


def test_a_grid_trial_asked_in_one_write_is_stored_as_optuna_stores_it(tmp_path: Path) -> None:
    spec = spec_of("grid", None, space=parse_space(SPACE, DEFAULTS))
    fast = new_study(spec, tmp_path / "fast.db")
    optuna_way = new_study(spec, tmp_path / "optuna.db")
    chosen = TrialSamplers(spec)
    for number in range(12):
        asked = ask_trial(spec, fast, number, chosen)
        optuna_way.sampler = sampler_for(spec, number)
        optuna_way.ask(fixed_distributions=spec.space.distributions())
        assert asked.number == number and asked.params == fast.trials[number].params
    for ours, theirs in zip(fast.get_trials(), optuna_way.get_trials(), strict=True):
        assert ours.number == theirs.number
        assert ours.state is theirs.state is TrialState.RUNNING
        assert ours.params == theirs.params
        assert {k: type(v) for k, v in ours.params.items()} == {
            k: type(v) for k, v in theirs.params.items()
        }
        assert ours.distributions == theirs.distributions
        assert ours.system_attrs == theirs.system_attrs


def test_the_grid_sampler_is_built_once_per_sweep_and_the_others_per_trial() -> None:
    grid = TrialSamplers(spec_of("grid", None))
    assert grid.for_trial(0) is grid.for_trial(5)
    tpe = TrialSamplers(spec_of("tpe", 8))
    assert tpe.for_trial(0) is not tpe.for_trial(1)
