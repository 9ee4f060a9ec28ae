"""`strategylab worker` refuses to start without a usable Redis, in one sentence each."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import cli_app
from tests.jobs.redis_server import free_port


@pytest.mark.parametrize(
    ("redis_url", "expected"),
    [
        (None, "STRATEGYLAB_REDIS_URL is not set: set it to the Redis the web server uses"),
        ("localhost:6379", "setting STRATEGYLAB_REDIS_URL: 'localhost:6379' is not a Redis URL"),
        ("redis://127.0.0.1:{free_port}/0", "cannot reach Redis at redis://127.0.0.1:"),
    ],
    ids=["unset", "not-a-url", "unreachable"],
)
def test_the_worker_refuses_a_missing_malformed_or_unreachable_redis(
    redis_url: str | None, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the free port is taken when the test runs: ids must be the same in every xdist worker
    monkeypatch.delenv("STRATEGYLAB_REDIS_URL", raising=False)
    env = (
        {}
        if redis_url is None
        else {"STRATEGYLAB_REDIS_URL": redis_url.format(free_port=free_port())}
    )
    result = CliRunner().invoke(cli_app, ["worker"], env=env)
    assert result.exit_code in (2, 3)
    assert expected in result.output
    assert "Traceback" not in result.output
