"""The console script's exit (app.cli.console_main): after a command that ran a strategy the
process ends without the interpreter's finalization, with the command's own status, its
output flushed and every exit handler run; any other command exits as Python does."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROBE = """
import atexit, sys
import app.cli
marks = sys.argv[1]
sys.argv = ["strategylab", *sys.argv[2:]]


class Finalized:  # a module global: only the interpreter's finalization deletes it
    def __del__(self, _open=open, _path=marks + "/finalized"):  # bound now: builtins go first
        _open(_path, "w").close()


kept = Finalized()


def command():
    atexit.register(lambda: open(marks + "/exit-handler", "w").close())
    print("the command's last line", end="")  # unflushed: the exit must flush it
    raise SystemExit(3)


app.cli.main = command
app.cli.console_main()
"""


def run_probe(tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROBE), str(tmp_path), *command],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_run_exits_with_its_status_and_output_and_handlers_but_no_finalization(
    tmp_path: Path,
) -> None:
    done = run_probe(tmp_path, "run", "strategy.py", "--data", "bars.csv")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "the command's last line"
    assert (tmp_path / "exit-handler").exists()
    assert not (tmp_path / "finalized").exists()


@pytest.mark.parametrize("command", [("validate", "strategy.py"), ("run", "--help")])
def test_other_commands_exit_as_python_does(tmp_path: Path, command: tuple[str, ...]) -> None:
    done = run_probe(tmp_path, *command)
    assert done.returncode == 3, done.stderr
    assert done.stdout == "the command's last line"
    assert (tmp_path / "exit-handler").exists()
    assert (tmp_path / "finalized").exists()


def test_importing_the_console_script_registers_no_exit_handler_before_its_own() -> None:
    """console_main's handler must be the first registered so that it runs last."""
    probe = "import atexit, app.cli; print(atexit._ncallbacks())"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "0"
