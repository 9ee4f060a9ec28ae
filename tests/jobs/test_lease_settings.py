"""The lease TTL and renewal interval are operator settings, checked at start: a renewal
interval of half the TTL or more is refused in one sentence by the web node and the worker."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from app.cli import cli_app
from app.jobs.redis_keys import LEASE_RENEW_S, LEASE_TTL_S, LeaseTiming
from app.settings import Settings, settings_problems

REFUSED = "STRATEGYLAB_LEASE_RENEW_S (5 s) must be under half of STRATEGYLAB_LEASE_TTL_S (10 s)"


def test_the_defaults_are_the_settings_and_a_shorter_lease_is_allowed() -> None:
    assert LeaseTiming.from_settings(Settings()) == LeaseTiming(LEASE_TTL_S, LEASE_RENEW_S)
    short = Settings(lease_ttl_s=3, lease_renew_s=1.4)
    assert LeaseTiming.from_settings(short) == LeaseTiming(ttl_s=3, renew_s=1.4)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"lease_renew_s": 5}, REFUSED),
        ({"lease_ttl_s": 0}, "setting STRATEGYLAB_LEASE_TTL_S: Input should be greater than"),
        ({"lease_renew_s": 0}, "setting STRATEGYLAB_LEASE_RENEW_S: Input should be greater"),
    ],
    ids=["renewed-too-rarely", "no-ttl", "no-renewal"],
)
def test_a_lease_renewed_too_rarely_is_refused_in_one_sentence(
    values: dict[str, float], expected: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**values)  # type: ignore[arg-type]
    assert [problem.startswith(expected) for problem in settings_problems(refused.value)] == [True]


def test_the_worker_refuses_such_a_lease_before_it_starts() -> None:
    env = {"STRATEGYLAB_REDIS_URL": "redis://127.0.0.1:1/0", "STRATEGYLAB_LEASE_RENEW_S": "5"}
    result = CliRunner().invoke(cli_app, ["worker"], env=env)
    assert result.exit_code == 2
    assert f"error: {REFUSED}" in result.output and "Traceback" not in result.output


def test_a_web_node_refuses_it_too_in_one_sentence() -> None:
    result = CliRunner().invoke(cli_app, ["serve"], env={"STRATEGYLAB_LEASE_RENEW_S": "5"})
    assert result.exit_code == 2
    assert f"error: {REFUSED}" in result.output and "Traceback" not in result.output
