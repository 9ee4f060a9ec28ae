"""`strategylab users`: the operator's account commands, one sentence and exit code 2 for bad
input, passwords printed once (never taken from argv), every change audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli_app


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("STRATEGYLAB_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("STRATEGYLAB_DATABASE_URL", raising=False)
    return CliRunner()


def test_create_list_disable_reset_token_and_audit(runner: CliRunner) -> None:
    made = runner.invoke(cli_app, ["users", "create", "Alice", "--admin"])
    assert made.exit_code == 0 and "created admin alice" in made.output
    assert len(made.output.split("password (shown once): ")[1].strip()) >= 20
    typed = runner.invoke(
        cli_app, ["users", "create", "bob", "--password-stdin"], input="a typed password\n"
    )
    assert typed.exit_code == 0 and "shown once" not in typed.output
    listed = runner.invoke(cli_app, ["users", "list"]).output
    assert "alice" in listed and "admin" in listed and "bob" in listed
    assert runner.invoke(cli_app, ["users", "disable", "bob"]).output.strip() == "disabled bob"
    reset = runner.invoke(cli_app, ["users", "reset-password", "bob"])
    assert reset.exit_code == 0 and "password (shown once): " in reset.output
    token = runner.invoke(cli_app, ["users", "token", "alice", "--name", "CI"])
    assert token.output.startswith("API token (shown once): slt_")
    audit = runner.invoke(cli_app, ["users", "audit"]).output
    for action in ("user_created", "user_disabled", "password_reset", "token_issued"):
        assert action in audit


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "create", "bad name!"], None, "is not a user name"),
        (["users", "disable", "nobody"], None, "there is no user 'nobody'"),
        (["users", "create", "carol", "--password-stdin"], "short\n", "use at least 10"),
    ],
)
def test_bad_input_is_one_sentence_and_exit_code_2(
    runner: CliRunner, args: list[str], stdin: str | None, message: str
) -> None:
    result = runner.invoke(cli_app, args, input=stdin)
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output
