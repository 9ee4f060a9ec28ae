"""`strategylab run` and `resume` start their sandbox worker before the commands' imports, run
in that worker (no second one), and leave no worker or folder behind when the command stops
before its run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sandbox.supervisor
from app.cli import cli_app, needs_worker
from app.data import generate_ohlcv
from sandbox.worker_process import StartedWorker, start_worker_process

SMA = Path(__file__).resolve().parents[2] / "strategies_examples" / "sma_crossover.py"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "s.py", "--data", "d.csv"], True),
        (["resume", "out"], True),
        (["run", "--help"], False),
        (["validate", "s.py"], False),
        (["serve"], False),
        ([], False),
    ],
)
def test_only_the_commands_that_run_a_strategy_start_a_worker_first(
    args: list[str], expected: bool
) -> None:
    assert needs_worker(args) is expected


def test_the_console_script_starts_before_numpy_pandas_or_typer_are_imported() -> None:
    probe = (
        "import sys, app.cli; "
        "print(','.join(m for m in ('numpy', 'pandas', 'typer', 'app.engine') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def _refuse_another_worker(*args: object) -> StartedWorker:
    raise AssertionError("the run started a second worker instead of the early one")


def test_a_run_uses_the_worker_started_before_the_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "btc-1h.csv"
    frame = generate_ohlcv(bars=600, timeframe="1h", seed=5)
    frame.index.name = "time"
    frame.to_csv(data)
    started = start_worker_process()
    monkeypatch.setattr(sandbox.supervisor, "start_worker_process", _refuse_another_worker)
    args = ["run", str(SMA), "--data", str(data), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(cli_app, args, obj=started)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "trades.csv").is_file()
    assert started.process.poll() is not None  # killed at the run's end
    assert not Path(started.workdir).exists()


def test_a_command_that_stops_before_its_run_leaves_no_worker_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.commands import main

    started = start_worker_process()
    monkeypatch.setattr(sys, "argv", ["strategylab", "run", str(SMA), "--no-such-option"])
    with pytest.raises(SystemExit) as stopped:
        main(started)
    assert stopped.value.code == 2
    assert started.process.wait(timeout=10) is not None
    assert not Path(started.workdir).exists()
