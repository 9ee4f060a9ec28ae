"""`strategylab validate` and `strategylab run` answer a source too deep, too large or not
text with its diagnostics and an exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from app.cli import EXIT_BAD_INPUT, cli_app
from app.data import generate_ohlcv
from sandbox.policy import SOURCE_LIMITS

ON_DATA = "class S(Strategy):\n    def on_data(self, bar):\n        pass\n"
HOSTILE = {
    "flat_sum.py": ON_DATA + "x = " + "+".join(["a"] * 5_000) + "\n",
    "deep_lists.py": ON_DATA + "x = " + "[" * 150 + "]" * 150 + "\n",
    "deep_blocks.py": ON_DATA
    + "".join(" " * 4 * i + "if a:\n" for i in range(30))
    + " " * 120
    + "pass\n",
    "huge.py": ON_DATA + ("# " + "x" * 1_000 + "\n") * (SOURCE_LIMITS.max_bytes // 1_000),
    "nul.py": ON_DATA + "x = 1\x00\n",
    "infinite_params.py": ON_DATA.replace("    def", "    params = {'x': 1e999}\n    def"),
}


def invoke(*args: str | Path) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(cli_app, [str(arg) for arg in args])
    return result.exit_code, result.output, result.exception


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small OHLCV file for `run`."""
    path = tmp_path_factory.mktemp("data") / "btc-1h.csv"
    frame = generate_ohlcv(bars=300, timeframe="1h", seed=3)
    frame.index = pd.Index(pd.DatetimeIndex(frame.index).as_unit("ms").asi8, name="time")
    frame.to_csv(path)
    return path


@pytest.mark.parametrize("name", list(HOSTILE))
def test_cant_make_validate_print_a_traceback(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(HOSTILE[name], encoding="utf-8")
    code, output, exception = invoke("validate", path)
    assert code == 1, output
    assert isinstance(exception, SystemExit) and "Traceback" not in output
    assert f"{path}:" in output and ": error: " in output


@pytest.mark.parametrize("name", ["flat_sum.py", "deep_blocks.py", "infinite_params.py"])
def test_cant_make_run_print_a_traceback(tmp_path: Path, data_csv: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(HOSTILE[name], encoding="utf-8")
    code, output, exception = invoke("run", path, "--data", data_csv, "--out", tmp_path / "o")
    assert code == EXIT_BAD_INPUT, output
    assert isinstance(exception, SystemExit) and "Traceback" not in output
    assert "error:" in output
    assert any(words in output for words in ("nested too deeply", "not a finite number"))
