"""A trial's job and outcome survive the trip between web node and worker value for value."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.jobs.trial_codec import TrialJob, decode_outcome, encode_outcome, trial_key
from app.runs.trials import TrialFailed, TrialRun


def test_a_trial_run_comes_back_value_for_value_nan_included() -> None:
    run = TrialRun(
        params={"fast": 5, "mode": "a", "ratio": 0.1},
        metrics={"metrics": {"sharpe": math.nan, "total_return": 0.1 + 0.2}, "conventions": {}},
        daily_returns=np.array([0.1 + 0.2, -1e-300, math.inf]),
        day_ends=np.array([1_700_000_000_000_000_000, 1_700_086_400_000_000_000]),
        trades=3,
    )
    back = decode_outcome(encode_outcome(run))
    assert isinstance(back, TrialRun)
    assert back.params == run.params and back.trades == 3
    assert math.isnan(back.figures["sharpe"]) and back.figures["total_return"] == 0.1 + 0.2
    assert back.daily_returns.tobytes() == run.daily_returns.tobytes()
    assert back.day_ends.dtype == np.int64 and (back.day_ends == run.day_ends).all()


def test_a_failed_trial_keeps_its_sentence() -> None:
    failed = TrialFailed({"fast": 5}, "line 3: division by zero.")
    assert decode_outcome(encode_outcome(failed)) == failed


@pytest.mark.parametrize("raw", [b"", b"[]", b'{"version": 99}', b'{"version": 1}', b"\xff"])
def test_anything_else_is_refused_as_not_an_outcome(raw: bytes) -> None:
    with pytest.raises(ValueError, match=r"outcome|Expecting|version|codec"):
        decode_outcome(raw)


def test_a_trial_is_known_by_its_study_and_number() -> None:
    assert trial_key("study-a", 3) == trial_key("study-a", 3)
    assert len({trial_key("study-a", 3), trial_key("study-a", 4), trial_key("study-b", 3)}) == 3
    job = TrialJob(trial_key("s", 0), "u1", "code", "D@1", "sha", {"cash": 1.0}, {"fast": 2})
    assert TrialJob.from_dict(job.to_dict()) == job
    assert job.base_key == TrialJob(trial_key("s", 9), "u1", "code", "D@1", "sha",
                                    {"cash": 1.0}, {"fast": 7}).base_key  # fmt: skip
    with pytest.raises(ValueError, match="not a trial job"):
        TrialJob.from_dict({"key": "k"})
