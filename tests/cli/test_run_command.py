"""`strategylab run`: files written, reruns byte-identical, parameters typed, and every kind of
bad input answered with one sentence and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

import app.runs.prepare
import app.runs.service
from app.cli import EXIT_BAD_INPUT, EXIT_STRATEGY_FAILED, cli_app
from app.data import generate_ohlcv
from app.engine import MarketData
from app.runs import DataIdentity
from app.runs.prepare import load_data_file
from sandbox import WarmWorker, start_worker

EXAMPLES = Path(__file__).resolve().parents[2] / "strategies_examples"
SMA = EXAMPLES / "sma_crossover.py"
OUTPUT_FILES = {
    "trades.csv",
    "orders.csv",
    "equity.csv",
    "metrics.json",
    "log.txt",
    "provenance.json",
    "indicators.json",
}


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "btc-1h.csv"
    frame = generate_ohlcv(bars=1_500, timeframe="1h", seed=3)
    frame.index = frame.index.as_unit("ms").asi8  # epoch ms, as the issue allows
    frame.index.name = "time"
    frame.to_csv(path)
    return path


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, [str(arg) for arg in args])
    return result.exit_code, result.output


def test_run_writes_every_file_with_the_trades_columns(data_csv: Path, tmp_path: Path) -> None:
    code, output = run("run", SMA, "--data", data_csv, "--out", tmp_path / "out")
    assert code == 0, output
    assert "final equity" in output
    assert {p.name for p in (tmp_path / "out").iterdir()} == OUTPUT_FILES
    lines = (tmp_path / "out" / "trades.csv").read_text().splitlines()
    assert lines[0] == (
        "entry_time,exit_time,side,size,entry_price,exit_price,pnl,fees,exit_reason,leverage,margin"
    )
    assert len(lines) > 10
    first = lines[1].split(",")
    assert first[0].endswith("Z") and first[2] in ("long", "short")


def test_reruns_are_byte_identical(data_csv: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        code, output = run(
            "run", SMA, "--data", data_csv, "--slippage-bps", "2", "--out", tmp_path / name
        )
        assert code == 0, output
    for file in OUTPUT_FILES:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


def test_params_take_the_type_of_their_default(data_csv: Path, tmp_path: Path) -> None:
    code, output = run(
        "run",
        SMA,
        "--data",
        data_csv,
        "--param",
        "fast=5",
        "--param",
        "amount=0.2",
        "--out",
        tmp_path,
    )
    assert code == 0, output
    provenance = (tmp_path / "provenance.json").read_text()
    assert '"fast": 5,' in provenance and '"amount": 0.2,' in provenance


def test_period_limits_the_traded_bars(data_csv: Path, tmp_path: Path) -> None:
    code, output = run(
        "run",
        SMA,
        "--data",
        data_csv,
        "--start",
        "2023-01-10",
        "--end",
        "2023-01-20T23:00",
        "--out",
        tmp_path,
    )
    assert code == 0, output
    equity = (tmp_path / "equity.csv").read_text().splitlines()
    assert equity[1].startswith("2023-01-10T00:00:00Z")
    assert equity[-1].startswith("2023-01-20T23:00:00Z")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BROKEN_STRATEGIES = {
    "syntax": ("class A(Strategy):\n    def on_data(self, bar)\n        pass\n", "line|:2:"),
    "no_strategy": ("x = 1\n", "derives from Strategy"),
    "two_strategies": (
        "class A(Strategy):\n    def on_data(self, bar): pass\n"
        "class B(Strategy):\n    def on_data(self, bar): pass\n",
        "A, B",
    ),
    "no_on_data": ("class A(Strategy):\n    pass\n", "on_data"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_STRATEGIES))
def test_a_broken_strategy_gets_one_clear_sentence(
    case: str, data_csv: Path, tmp_path: Path
) -> None:
    source, expected = BROKEN_STRATEGIES[case]
    code, output = run("run", write(tmp_path, "s.py", source), "--data", data_csv)
    assert code == EXIT_BAD_INPUT
    assert "Traceback" not in output
    assert any(part in output for part in expected.split("|")), output


def test_unknown_parameter_names_the_known_ones(data_csv: Path) -> None:
    code, output = run("run", SMA, "--data", data_csv, "--param", "fats=3")
    assert code == EXIT_BAD_INPUT
    assert "unknown parameter 'fats'" in output and "fast" in output


def test_parameter_of_the_wrong_type_is_refused(data_csv: Path) -> None:
    code, output = run("run", SMA, "--data", data_csv, "--param", "fast=ten")
    assert code == EXIT_BAD_INPUT
    assert "takes a whole number like its default 10" in output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--data", "missing.csv"], "missing.csv"),
        (["--data", "DATA", "--cash", "-5"], "--cash"),
        (["--data", "DATA", "--leverage-max", "500"], "--leverage-max"),
        (["--data", "DATA", "--start", "not-a-date"], "--start"),
        (["--data", "DATA", "--funding-interval-h", "3"], "funding"),
        (["--data", "DATA", "--param", "novalue"], "name=value"),
    ],
)
def test_bad_options_are_explained(args: list[str], expected: str, data_csv: Path) -> None:
    code, output = run("run", SMA, *[str(data_csv) if a == "DATA" else a for a in args])
    assert code == EXIT_BAD_INPUT, output
    assert expected in output and "Traceback" not in output


def test_missing_strategy_file_is_named(data_csv: Path) -> None:
    code, output = run("run", "nowhere.py", "--data", data_csv)
    assert code == EXIT_BAD_INPUT
    assert "nowhere.py" in output and "does not exist" in output


def test_malformed_csv_is_explained(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.csv", "time,open,high,low,close\n2023-01-01,1,2,0.5,1.5\n")
    code, output = run("run", SMA, "--data", bad)
    assert code == EXIT_BAD_INPUT
    assert "volume" in output and "Traceback" not in output


def test_a_strategy_that_raises_reports_its_bar(data_csv: Path, tmp_path: Path) -> None:
    source = (
        "class A(Strategy):\n    def on_data(self, bar):\n"
        "        if bar.index == 7:\n            raise ValueError('boom')\n"
    )
    code, output = run("run", write(tmp_path, "s.py", source), "--data", data_csv)
    assert code == EXIT_STRATEGY_FAILED
    assert "ValueError: boom" in output and "bar 7" in output and "Traceback" not in output


def test_a_forbidden_import_is_refused_before_anything_runs(data_csv: Path, tmp_path: Path) -> None:
    source = (
        "import os\n\nclass A(Strategy):\n    def on_data(self, bar):\n"
        "        os.system('touch pwned')\n"
    )
    code, output = run("run", write(tmp_path, "s.py", source), "--data", data_csv)
    assert code == EXIT_BAD_INPUT
    assert "s.py:1:" in output and "'os'" in output
    assert not (tmp_path / "pwned").exists()


def test_a_run_over_its_wall_clock_limit_is_stopped(data_csv: Path, tmp_path: Path) -> None:
    source = (
        "class Spin(Strategy):\n    def on_data(self, bar):\n"
        "        while True:\n            pass\n"
    )
    code, output = run(
        "run",
        write(tmp_path, "s.py", source),
        "--data",
        data_csv,
        "--wall-seconds",
        "3",
        "--cpu-seconds",
        "60",
    )
    assert code == EXIT_STRATEGY_FAILED
    assert "stopped" in output and "Traceback" not in output


def test_validate_prints_file_line_col_diagnostics(tmp_path: Path) -> None:
    path = write(tmp_path, "s.py", "import socket\n")
    code, output = run("validate", path)
    assert code == 1
    assert f"{path}:1:1:" in output and "socket" in output


def sandbox_workers_of_this_process() -> list[int]:
    """Live `sandbox.worker` children of this process (Linux: read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"sandbox.worker" in command:
            found.append(int(stat.parent.name))
    return found


class WorkerLog:
    """Stands between the run service and the real start_worker/load_data_file to see their
    order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.workers: list[WarmWorker] = []

    def start_worker(self) -> WarmWorker:
        self.events.append("worker started")
        self.workers.append(start_worker())
        return self.workers[-1]

    def load_data_file(
        self, path: Path, *, symbol: str, column_map: Mapping[str, str] | None = None
    ) -> tuple[MarketData, DataIdentity]:
        self.events.append("data loaded")
        return load_data_file(path, symbol=symbol, column_map=column_map)


@pytest.fixture
def worker_log(monkeypatch: pytest.MonkeyPatch) -> WorkerLog:
    log = WorkerLog()
    monkeypatch.setattr(app.runs.service, "start_worker", log.start_worker)
    monkeypatch.setattr(app.runs.prepare, "load_data_file", log.load_data_file)
    return log


def test_the_worker_starts_before_the_data_loads_and_serves_the_run(
    data_csv: Path, worker_log: WorkerLog
) -> None:
    code, output = run("run", SMA, "--data", data_csv)
    assert code == 0, output
    assert worker_log.events == ["worker started", "data loaded"]
    [worker] = worker_log.workers
    assert worker.is_used and worker.process.poll() is not None


@pytest.mark.parametrize("failure", ["missing data", "missing strategy", "refused strategy"])
def test_no_worker_is_left_behind_when_the_run_cannot_start(
    failure: str, data_csv: Path, tmp_path: Path, worker_log: WorkerLog
) -> None:
    strategy, data = SMA, data_csv
    if failure == "missing data":
        data = tmp_path / "nowhere.csv"
    elif failure == "missing strategy":
        strategy = tmp_path / "nowhere.py"
    else:
        strategy = write(tmp_path, "s.py", "import os\n")
    code, output = run("run", strategy, "--data", data)
    assert code == EXIT_BAD_INPUT, output
    [worker] = worker_log.workers
    assert worker.process.poll() is not None
    assert not Path(worker.workdir).exists()
    if sys.platform.startswith("linux"):
        assert sandbox_workers_of_this_process() == []
