"""`strategylab run` loads only what a run needs: the account, data and research commands are
imported when one of them is asked for, `--help` still lists every command, and a run of a CSV
never imports pandas in the CLI process (its worker computes the indicators)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli_app
from app.data import generate_ohlcv
from app.lazy_commands import LAZY_COMMANDS, LAZY_GROUPS

HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "optuna", "app.auth", "app.db", "app.research")


def test_the_run_command_imports_no_database_or_research_stack() -> None:
    probe = (
        "import sys, app.cli; from app.cli import run_command; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


SMA = Path(__file__).resolve().parents[2] / "strategies_examples" / "sma_crossover.py"


def test_a_run_of_a_csv_never_imports_pandas_in_the_cli_process(tmp_path: Path) -> None:
    data = tmp_path / "btc-1h.csv"
    frame = generate_ohlcv(bars=600, timeframe="1h", seed=5)
    frame.index.name = "time"
    frame.to_csv(data)
    args = ["strategylab", "run", str(SMA), "--data", str(data), "--out", str(tmp_path / "out")]
    probe = (
        f"import sys; sys.argv = {args!r}; from app.cli import main\n"
        "try:\n    main()\nexcept SystemExit as stop:\n    code = stop.code\n"
        "print('exit', code, 'pandas', 'pandas.core' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "exit 0 pandas False", done.stderr
    assert (tmp_path / "out" / "equity.csv").read_text(encoding="utf-8").count("\n") == 601


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
