"""`strategylab validate`: compiler-style lines or JSON, and a non-zero exit on errors."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from app.cli import validate_command

app = typer.Typer()
app.command("validate")(validate_command)
app.command("noop")(lambda: None)  # a second command keeps typer from flattening the app

GOOD = "class S(Strategy):\n    def on_data(self, bar):\n        pass\n"
BAD = "import os\n" + GOOD


def test_a_clean_file_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "good.py"
    path.write_text(GOOD)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0
    assert "ok" in result.output


def test_problems_print_file_line_col_and_exit_one(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text(BAD)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{path}:1:1: error: importing 'os' is not allowed")


def test_json_output_lists_the_diagnostics(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text(BAD)
    result = CliRunner().invoke(app, ["validate", str(path), "--json"])
    assert result.exit_code == 1
    (item,) = json.loads(result.output)
    assert (item["line"], item["col"], item["code"]) == (1, 1, "SB101")


def test_a_missing_file_is_one_clear_sentence(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.py")])
    assert result.exit_code == 2
    assert "cannot read the file" in result.output


def test_cant_reach_the_terminal_through_a_file_name_or_a_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "evil\x1b]0;pwned\x07\u202e.py"  # a downloaded file's name, say
    path.write_text(BAD + "x = getattr(1, '\x1b[2J')\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines and all(line.isprintable() for line in lines)
    assert "evil\\x1b]0;pwned\\x07\\u202e.py:1:1: error: importing 'os'" in lines[0]
