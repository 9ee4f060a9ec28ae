"""`strategylab optimize`: every bad input refused with one sentence before any trial; a sweep
writes trials.csv, best.json and best run folders byte-identical to `strategylab run`; kill -9
then --resume loses and repeats no trial; Ctrl-C stops cleanly and keeps the work."""

from __future__ import annotations

import csv
import json
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import optuna
import pytest
from typer.testing import CliRunner

from app.cli import cli_app
from app.data import generate_ohlcv

EXAMPLES = Path(__file__).resolve().parents[2] / "strategies_examples"
SMA = EXAMPLES / "sma_crossover.py"
STRATEGYLAB = str(Path(sys.executable).parent / "strategylab")
RUN_FILES = ("trades.csv", "orders.csv", "equity.csv", "metrics.json", "log.txt", "provenance.json")


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("optimize-data") / "btc-1h.csv"
    generate_ohlcv(bars=1_200, timeframe="1h", seed=21).to_csv(path)
    return path


def optimize(*args: str) -> Any:
    return CliRunner().invoke(cli_app, ["optimize", *args])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--param", "fsat=5:9"], ["--param:", "no param 'fsat'", "did you mean 'fast'"]),
        (["--param", "fast=9:5"], ["--param:", "fast's range is empty"]),
        (["--param", "fast=5:9:0"], ["--param:", "step must be above 0"]),
        (["--param", "fast=5.5:9"], ["--param:", "fast takes whole numbers"]),
        (["--param", "amount=a..b"], ["--param:", "amount", "takes a number"]),
        (["--param", "amount=0.1..0.5"], ["--method:", "grid needs a step for amount"]),
        (
            ["--param", "fast=5:9", "--method", "nsga2", "--trials", "4"],
            ["--objective:", "nsga2 needs two objectives"],
        ),
        (
            ["--param", "fast=5:9", "--objective", "sharp"],
            ["--objective:", "'sharp' is not a metric", "sharpe"],
        ),
        (["--param", "fast=5:9", "--objective", "sharpe:up"], ["--objective:", "metric:max"]),
        (["--param", "fast=5:9", "--method", "tpe"], ["--trials:", "tpe needs --trials"]),
        (["--param", "fast=5:9", "--method", "bayes"], ["--method:", "'bayes' is not a method"]),
        (["--param", "fast=5:9", "--max-drawdown", "30"], ["--max-drawdown:", "0.3 for 30 %"]),
        (["--param", "fast=5:9", "--resume"], ["--resume:", "no stopped sweep"]),
        ([], ["--param:", "give the ranges to search"]),
        (["--param", "fast=5:9", "--cash", "-1"], ["--cash"]),
        (["--param", "fast=5:9", "--workers", "0"], ["--workers:", "at least 1"]),
        (
            ["--param", "fast=5:9", "--data", "second.csv"],
            ["--data:", "optimize runs on one data file", "given 2 times"],
        ),
    ],
)
def test_bad_input_is_one_sentence_before_any_work(
    args: list[str], words: list[str], data_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    result = optimize(str(SMA), "--data", str(data_csv), "--out", str(out), *args)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "Traceback" not in text
    for word in words:
        assert word in text
    assert not (out / "study.db").exists()


def test_a_missing_strategy_file_is_one_sentence(data_csv: Path, tmp_path: Path) -> None:
    result = optimize(
        str(tmp_path / "nope.py"), "--data", str(data_csv), "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output


@pytest.fixture(scope="module")
def swept(data_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("swept") / "sweep"
    result = optimize(
        str(SMA),
        "--data",
        str(data_csv),
        "--param",
        "fast=5,10",
        "--param",
        "slow=30,40",
        "--objective",
        "sharpe",
        "--keep-best",
        "2",
        "--workers",
        "2",
        "--out",
        str(out),
    )
    return out, result


def test_a_sweep_writes_every_trial_and_the_best(swept: tuple[Path, Any]) -> None:
    out, result = swept
    assert result.exit_code == 0, result.output
    assert "4 trials (4 feasible, 0 failed)" in result.output
    with (out / "trials.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(row["number"]) for row in rows] == [0, 1, 2, 3]
    assert sorted((row["fast"], row["slow"]) for row in rows) == [
        ("10", "30"),
        ("10", "40"),
        ("5", "30"),
        ("5", "40"),
    ]
    assert {"amount", "sharpe", "trades", "max_drawdown", "feasible", "error"} <= set(rows[0])
    best = json.loads((out / "best.json").read_text(encoding="utf-8"))
    top = max(rows, key=lambda row: float(row["sharpe"]))
    assert best["best"]["trial"] == int(top["number"])
    assert best["best"]["metrics"]["sharpe"] == float(top["sharpe"])
    assert best["method"] == "grid" and best["seed"] == 0 and best["n_trials"] == 4
    assert best["objectives"] == [{"metric": "sharpe", "direction": "maximize"}]
    assert best["ranked"][0]["trial"] == best["best"]["trial"]
    assert {"dsr", "pbo", "n_trials", "meaning"} <= set(best["overfitting"])


def test_the_best_run_folders_equal_standalone_runs_to_the_byte(
    swept: tuple[Path, Any], data_csv: Path, tmp_path: Path
) -> None:
    out, result = swept
    assert result.exit_code == 0, result.output
    ranked = json.loads((out / "best.json").read_text(encoding="utf-8"))["ranked"]
    for rank, entry in enumerate(ranked[:2], start=1):
        params = [f"--param={name}={value}" for name, value in entry["params"].items()]
        single = tmp_path / f"run-{rank}"
        run = CliRunner().invoke(
            cli_app, ["run", str(SMA), "--data", str(data_csv), *params, "--out", str(single)]
        )
        assert run.exit_code == 0, run.output
        for name in RUN_FILES:
            assert (out / "best" / str(rank) / name).read_bytes() == (single / name).read_bytes()


def test_an_existing_study_is_not_overwritten_without_resume(
    swept: tuple[Path, Any], data_csv: Path
) -> None:
    out, _ = swept
    again = optimize(str(SMA), "--data", str(data_csv), "--param", "fast=5,10", "--out", str(out))
    assert again.exit_code == 2
    assert "use --resume or another --out" in " ".join(again.output.split())
    other = optimize(
        str(SMA), "--data", str(data_csv), "--param", "fast=5,10", "--out", str(out), "--resume"
    )
    assert other.exit_code == 2
    assert "--resume:" in other.output and "--param ranges" in other.output


# --- kill -9 and Ctrl-C of a real `strategylab optimize` process ------------------------------


def sweep_command(data_csv: Path, out: Path, *extra: str) -> list[str]:
    return [
        STRATEGYLAB,
        "optimize",
        str(SMA),
        "--data",
        str(data_csv),
        "--param",
        "fast=3:30",
        "--param",
        "slow=20:80:5",
        "--method",
        "random",
        "--trials",
        "12",
        "--batch-size",
        "4",
        "--seed",
        "5",
        "--workers",
        "1",
        "--out",
        str(out),
        *extra,
    ]


def complete_trials(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with closing(sqlite3.connect(database, timeout=5)) as connection:
            row = connection.execute(
                "SELECT count(*) FROM trials WHERE state = 'COMPLETE'"
            ).fetchone()
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    return int(row[0])


def start_and_wait(command: list[str], database: Path, *, at_least: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while complete_trials(database) < at_least:
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.communicate()[0] if process.poll() is not None else ""
            process.kill()
            pytest.fail(f"the sweep ended or stalled before {at_least} trials: {output}")
        time.sleep(0.2)
    return process


def stored_trials(database: Path) -> list[tuple[int, str, dict[str, Any], Any, Any]]:
    storage = optuna.storages.RDBStorage(f"sqlite:///{database}")
    try:
        name = storage.get_all_studies()[0].study_name
        study = optuna.load_study(study_name=name, storage=storage)
        return [
            (t.number, t.state.name, t.params, t.values, t.datetime_complete)
            for t in study.get_trials()
        ]
    finally:
        storage.remove_session()
        storage.engine.dispose()


@pytest.mark.slow
def test_kill_9_then_resume_loses_and_repeats_no_trial(data_csv: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    done = subprocess.run(
        sweep_command(data_csv, whole), capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    killed = tmp_path / "killed"
    process = start_and_wait(sweep_command(data_csv, killed), killed / "study.db", at_least=5)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    before = {row[0]: row for row in stored_trials(killed / "study.db") if row[1] == "COMPLETE"}
    assert 5 <= len(before) < 12
    resumed = subprocess.run(
        sweep_command(data_csv, killed, "--resume"),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = stored_trials(killed / "study.db")
    # No trial lost, none run twice: trials 0..11 once each, all complete; those finished
    # before the kill are untouched (same completion time), and the whole sequence is the
    # uninterrupted run's, params and values.
    assert [row[0] for row in after] == list(range(12))
    assert all(row[1] == "COMPLETE" for row in after)
    assert all(after[number] == row for number, row in before.items())
    reference = stored_trials(whole / "study.db")
    assert [row[:4] for row in after] == [row[:4] for row in reference]
    rows = (killed / "trials.csv").read_text(encoding="utf-8").splitlines()
    assert rows[1:] == (whole / "trials.csv").read_text(encoding="utf-8").splitlines()[1:]


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_the_finished_trials(data_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "interrupted"
    command = sweep_command(data_csv, out, "--trials", "60")  # the last --trials counts
    process = start_and_wait(command, out / "study.db", at_least=1)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 130, output
    assert "Traceback" not in output
    assert "--resume" in output
    kept = [row for row in stored_trials(out / "study.db") if row[1] == "COMPLETE"]
    with (out / "trials.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(kept) >= 1
    assert json.loads((out / "best.json").read_text(encoding="utf-8"))["cancelled"] is True
