"""A sweep killed while asking a trial (the trial stored, its params not all yet) resumes it
with its params completed by the same seeded sampler: no grid point is run twice or lost, and
no trial runs with the defaults in place of its params."""

from __future__ import annotations

import pytest

from app.research.space import parse_space
from app.research.sweep import _sampler_for as sampler_for
from app.research.sweep import run_study, sweep_result
from tests.research.test_sweep import DEFAULTS, FakeRunner, new_study, spec_of

SPACE = ["fast=2:5", "slow=20:25:5"]  # a grid of 4 x 2 = 8 points


@pytest.mark.parametrize("method", ["grid", "tpe", "random"])
def test_a_trial_asked_half_way_is_completed_not_run_with_defaults(method: str) -> None:
    space = parse_space(SPACE, DEFAULTS)
    spec = spec_of(method, n_trials=8, space=space)
    study = new_study(spec)
    run_study(spec_of(method, n_trials=4, space=space), study, FakeRunner())  # trials 0-3
    study.sampler = sampler_for(spec, 4)
    interrupted = study.ask()  # the process died here: trial 4 stored, no param set yet
    assert interrupted.params == {}
    resumed = FakeRunner()
    run_study(spec, study, resumed)
    result = sweep_result(spec, study, cancelled=False)
    assert [t.number for t in result.trials] == list(range(8))
    assert all({"fast", "slow"} <= set(t.params) for t in result.trials)
    assert all(p["fast"] in (2, 3, 4, 5) and p["slow"] in (20, 25) for p in resumed.executed)
    if method == "grid":
        points = sorted((t.params["fast"], t.params["slow"]) for t in result.trials)
        assert points == sorted((f, s) for f in (2, 3, 4, 5) for s in (20, 25))
