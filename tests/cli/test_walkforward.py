"""`strategylab walkforward`: the files of a run end to end, progress by fold and trial, Ctrl-C
as a clean stop that keeps what was done, and every bad input as one sentence before any
work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli_app
from app.run_options import EXIT_BAD_INPUT
from tests.research.test_walkforward import PROBE, write_market

GRID = ("--param", "fast=2:4:2", "--param", "slow=8")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("wf-cli")
    strategy = folder / "probe.py"
    strategy.write_text(PROBE, encoding="utf-8")
    write_market(folder / "market.csv")
    return strategy, folder / "market.csv"


def invoke(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["walkforward", *(str(arg) for arg in args)])
    return result.exit_code, result.output


@pytest.mark.slow
def test_walkforward_writes_its_files_and_reports_each_fold(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    strategy, data = files
    out = tmp_path / "out"
    code, output = invoke(
        strategy, "--data", data, *GRID, "--folds", "2", "--train-ratio", "0.6",
        "--objective", "total_return", "--workers", "1", "--min-trades", "1",
        "--min-efficiency", "-1000", "--out", out,
    )  # fmt: skip
    assert code == 0, output
    assert "warm-up: 7 bars (measured with fast=2, slow=8)" in output  # sma(8): bar 7
    assert "fold 1 of 2: trial" in output  # progress: fold k of n, trial j of m
    assert "fold 2 of 2: testing the chosen params" in output
    assert "acceptance:" in output
    for name in ("folds.csv", "equity.csv", "trades.csv", "walkforward.json", "study.db"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "walkforward.json").read_text())
    assert summary["scheme"] == summary["scheme"] | {"kind": "equal_folds", "folds": 2}
    assert [row["status"] for row in summary["folds"]] == ["tested", "tested"]
    assert summary["acceptance"]["min_trades"]["threshold"] == 1
    assert summary["acceptance"]["min_efficiency"]["threshold"] == -1000
    assert summary["cancelled"] is False
    assert sorted(p.name for p in (out / "folds").iterdir()) == ["fold-01", "fold-02"]


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_what_was_done(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    strategy, data = files
    out = tmp_path / "out"
    command = [
        str(Path(sys.executable).parent / "strategylab"), "walkforward", str(strategy),
        "--data", str(data),
        "--param", "fast=2:5", "--param", "slow=8:12", "--train", "6d", "--test", "3d",
        "--objective", "total_return", "--workers", "1", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 240
    for line in process.stdout:
        seen.append(line)
        if "fold 1 of 3: trial" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=240)
    output = "".join(seen) + rest
    assert process.returncode == 130, output
    assert "Traceback" not in output
    assert "run the same command again to continue" in output
    summary = json.loads((out / "walkforward.json").read_text())
    assert summary["cancelled"] is True
    assert {row["status"] for row in summary["folds"]} <= {"tested", "cancelled"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--test", "3d"), "--train: is missing: give --train 180d"),
        (("--train", "6d"), "--test: is missing: give"),
        (("--train", "6x", "--test", "3d"), "--train: '6x' is not a duration"),
        (("--train", "20d", "--test", "3d"), "--train: a train window (20d)"),
        (("--train", "6d", "--test", "3d", "--step", "1d"), "--step: 1d is shorter than the test"),
        (("--train", "6d", "--test", "0d"), "--test: '0d' must be longer than zero"),
        (("--folds", "3", "--train", "6d"), "--folds: give either --folds"),
        (("--train", "6d", "--test", "3d", "--train-ratio", "0.5"), "--train-ratio: goes with"),
        (("--folds", "3", "--train-ratio", "1.2"), "--train-ratio: must be between 0 and 1"),
        pytest.param(  # measured by probe runs (sandboxed): sma(8) has its first value at bar 7
            ("--train", "6h", "--test", "3d"),
            "warm-up of 7 bars (measured with fast=2, slow=8)",
            marks=pytest.mark.slow,
        ),
        (("--train", "6d", "--test", "3d", "--warmup", "200"), "warm-up of 200 bars"),
        (("--train", "6d", "--test", "3d", "--param", "nope=1:3"), "--param:"),
        (("--train", "6d", "--test", "3d", "--method", "magic"), "--method:"),
        (("--train", "6d", "--test", "3d", "--objective", "luck"), "--objective:"),
        (
            ("--train", "6d", "--test", "3d", "--data", "second.csv"),
            "--data: walkforward runs on one data file, but --data was given 2 times",
        ),
    ],
)
def test_bad_input_is_one_sentence_before_any_work(
    files: tuple[Path, Path], tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    strategy, data = files
    out = tmp_path / "out"
    extra = () if "--param" in args else GRID
    code, output = invoke(strategy, "--data", data, *extra, *args, "--out", out)
    assert code == EXIT_BAD_INPUT, output
    assert words in output
    assert "Traceback" not in output
    assert output.strip().startswith("error:")
    assert not out.exists()  # refused before anything was written or started
