"""`strategylab run` loads only what a run needs: the account, data and research commands are
imported when one of them is asked for, and `--help` still lists every command."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from app.cli import cli_app
from app.lazy_commands import LAZY_COMMANDS, LAZY_GROUPS

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "optuna", "app.auth", "app.db", "app.research")


def test_the_run_command_imports_no_database_or_research_stack() -> None:
    probe = (
        "import sys, app.cli; from app.cli import run_command; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_help_lists_every_command_with_its_help() -> None:
    output = CliRunner().invoke(cli_app, ["--help"], terminal_width=200).output
    for name in (*LAZY_COMMANDS, *LAZY_GROUPS, "run", "validate", "serve"):
        assert f" {name} " in output, name
    assert "Accounts: create, list" in output  # the users group's own help


def test_a_lazy_group_and_command_run_when_asked_for() -> None:
    runner = CliRunner()
    users = runner.invoke(cli_app, ["users", "--help"], terminal_width=200)
    assert users.exit_code == 0 and "create" in users.output
    optimize = runner.invoke(cli_app, ["optimize", "--help"], terminal_width=200)
    assert optimize.exit_code == 0 and "--method" in optimize.output
