"""`strategylab montecarlo RUN_DIR`: montecarlo.json written, the same bytes for the same seed,
and one sentence naming the flag for each refusal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from app.cli import cli_app
from tests.research.run_folders import random_walk, write_folder


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    pnl = list(np.random.default_rng(2).normal(4, 50, 60))
    return write_folder(tmp_path / "run", equity=random_walk(90), pnl=pnl)


def invoke(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["montecarlo", *arguments])
    return result.exit_code, result.output


def test_writes_montecarlo_json_and_prints_a_summary(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mc"
    code, output = invoke(
        str(run_dir),
        "--method",
        "bootstrap",
        "--n",
        "500",
        "--seed",
        "3",
        "--out",
        str(out),
        "--levels",
        "0.8,0.95",
        "--ruin",
        "0.7",
    )
    assert code == 0, output
    document = json.loads((out / "montecarlo.json").read_text(encoding="utf-8"))
    assert (document["method"], document["simulations"], document["seed"]) == ("bootstrap", 500, 3)
    assert document["levels"] == [0.8, 0.95]
    assert document["ruin"]["threshold"] == 0.7
    assert "P(ruin: equity ever <= 0.7 x start)" in output
    assert f"wrote {out / 'montecarlo.json'}" in output


def test_the_same_seed_gives_the_same_file(run_dir: Path, tmp_path: Path) -> None:
    texts = []
    for name in ("a", "b"):
        code, output = invoke(
            str(run_dir), "--method", "shuffle", "--n", "300", "--out", str(tmp_path / name)
        )
        assert code == 0, output
        texts.append((tmp_path / name / "montecarlo.json").read_bytes())
    assert texts[0] == texts[1]


def test_without_out_the_file_goes_into_the_run_folder(run_dir: Path) -> None:
    code, output = invoke(str(run_dir), "--method", "shuffle", "--n", "50")
    assert code == 0, output
    assert (run_dir / "montecarlo.json").is_file()


@pytest.mark.parametrize(
    ("arguments", "sentence"),
    [
        (["--method", "shuffle", "--n", "0"], "--n: must be a whole number from 1 to 100,000"),
        (["--method", "shuffle", "--levels", "0.9,2"], "--levels: each level must be between"),
        (["--method", "shuffle", "--levels", "x"], "--levels: 'x' is not a comma-separated"),
        (["--method", "shuffle", "--ruin", "0"], "--ruin: must be a fraction of the starting"),
        (["--method", "block"], "--method: a block bootstrap needs at least 30 daily returns"),
        (["--method", "block", "--block-length", "0"], "--block-length: must be a number of"),
    ],
)
def test_bad_input_is_one_sentence_naming_the_flag(
    tmp_path: Path, arguments: list[str], sentence: str
) -> None:
    short = write_folder(tmp_path / "short", equity=random_walk(20), pnl=[3.0, -1.0])
    code, output = invoke(str(short), *arguments)
    assert code == 2
    assert sentence in " ".join(output.split())
    assert "Traceback" not in output


def test_a_run_without_trades_points_to_the_block_method(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "quiet", equity=random_walk(60))
    code, output = invoke(str(folder), "--method", "bootstrap")
    assert code == 2
    assert "--method: the run has no closed trades to bootstrap; use --method block" in " ".join(
        output.split()
    )


def test_a_folder_that_is_not_a_run_is_named(tmp_path: Path) -> None:
    code, output = invoke(str(tmp_path / "missing"), "--method", "shuffle")
    assert code == 2
    assert "RUN_DIR:" in output and "is not a folder" in output
