"""Long runs that resume: a sandbox worker killed with SIGKILL at a random bar, the run resumed
from its last checkpoint, and the run folder byte-identical to an uninterrupted run's; damaged
and foreign checkpoints refused; only the last K kept."""

from __future__ import annotations

import os
import random
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.engine import Progress
from app.runs import RunOrder, RunService
from app.runs import service as service_module
from app.runs.checkpoints import CHECKPOINT_DIR, CheckpointStore, read_plan
from app.runs.errors import CheckpointUnusable
from app.runs.prepare import RunInputs
from sandbox import WarmWorker, start_worker
from tests.jobs.fixtures import write_sample
from tests.killed_runs import until_killed

BARS = 2_000
EVERY = 200
CODE = """
class Counting(Strategy):
    params = {"fast": 5, "slow": 20}
    state = ("seed", "opened", "recent", "last_order")

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])
        self.seed = 12345
        self.opened = 0
        self.recent = []

    def on_data(self, bar):
        for step in range(20):  # slow enough for a kill to land before the run ends
            self.seed = (self.seed * 48271 + step) % 2147483647
        self.recent = self.recent[-4:] + [bar.close]
        if crossover(self.fast, self.slow):
            self.close_position()
            self.last_order = self.buy(0.5, leverage=2)
            self.opened += 1
            self.log("long", self.opened, round(sum(self.recent) / len(self.recent), 2))
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.last_order = self.sell(0.5, leverage=2, limit=bar.close * 1.001)
            self.opened += 1
        elif self.seed % 17 == 0 and self.position:
            self.close_position(50)
"""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    strategy = folder / "counting.py"
    strategy.write_text(CODE, encoding="utf-8")
    return strategy, write_sample(folder, bars=BARS)


def order(every: int = EVERY, keep: int = 2) -> RunOrder:
    return RunOrder(options={"checkpoint_every": every, "keep_checkpoints": keep})


def run_file(out: Path, inputs: tuple[Path, Path], **options: Any) -> None:
    strategy, data = inputs
    RunService().run_file(strategy, data, order(), symbol="TESTUSDT", out_dir=out, **options)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def uninterrupted(
    inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("whole")
    run_file(out, inputs)
    files = folder_bytes(out)
    assert "trades.csv" in files and files["trades.csv"].count(b"\n") > 10
    assert not any(name.startswith(CHECKPOINT_DIR) for name in files)  # removed once done
    return files


def killing_at(bar: int, workers: list[WarmWorker]) -> Callable[[Progress], None]:
    """An on_progress that SIGKILLs the run's worker once `bar` bars are done."""

    def on_progress(progress: Progress) -> None:
        if progress.bars_done >= bar and workers and workers[-1].process.poll() is None:
            os.killpg(workers[-1].process.pid, signal.SIGKILL)

    return on_progress


def run_killed_at(
    bar: int, out: Path, inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run into `out` whose worker is SIGKILLed once `bar` bars are done (tests/killed_runs)."""

    def attempt() -> None:
        run_file(out, inputs, on_progress=killing_at(bar, capture_workers(monkeypatch)))

    until_killed(attempt, out)


def capture_workers(monkeypatch: pytest.MonkeyPatch) -> list[WarmWorker]:
    workers: list[WarmWorker] = []

    def started() -> WarmWorker:
        worker = start_worker()
        workers.append(worker)
        return worker

    monkeypatch.setattr(service_module, "start_worker", started)
    return workers


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])  # a different kill bar each
def test_a_worker_killed_at_a_random_bar_resumes_to_the_same_files(
    seed: int,
    inputs: tuple[Path, Path],
    uninterrupted: dict[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kill_at = random.Random(seed).randrange(EVERY + 50, BARS - 300)
    out = tmp_path / "run"
    run_killed_at(kill_at, out, inputs, monkeypatch)
    left = sorted(p.name for p in (out / CHECKPOINT_DIR).iterdir())
    assert "run.json" in left and any(name.startswith("checkpoint-") for name in left)
    assert not (out / "trades.csv").exists()
    monkeypatch.undo()
    outcome = RunService().resume_file(out)
    assert outcome.files
    assert folder_bytes(out) == uninterrupted
    with pytest.raises(CheckpointUnusable, match="the run finished"):
        RunService().resume_file(out)  # once done, there is nothing left to resume


def test_a_run_killed_before_its_first_checkpoint_starts_over_on_resume(
    inputs: tuple[Path, Path],
    uninterrupted: dict[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "run"
    run_killed_at(1, out, inputs, monkeypatch)
    assert not list((out / CHECKPOINT_DIR).glob("checkpoint-*.json"))
    assert read_plan(out)["code"] == CODE
    monkeypatch.undo()
    RunService().resume_file(out)
    assert folder_bytes(out) == uninterrupted


@pytest.fixture(scope="module")
def killed(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a run whose worker was killed half-way (copy it before changing it)."""
    out = tmp_path_factory.mktemp("killed") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_killed_at(BARS // 2, out, inputs, monkeypatch)
    return out


def copy_of(folder: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    out = tmp_path / "run"
    shutil.copytree(folder, out)
    return out, sorted((out / CHECKPOINT_DIR).glob("checkpoint-*.json"))


def test_a_damaged_checkpoint_is_refused_not_replaced_by_a_fresh_start(
    killed: Path, tmp_path: Path
) -> None:
    out, files = copy_of(killed, tmp_path)
    newest = files[-1]
    data = bytearray(newest.read_bytes())
    at = data.index(b'"cash":') + len(b'"cash":')
    data[at : at + 1] = b"9" if data[at : at + 1] != b"9" else b"8"  # one digit of the cash
    newest.write_bytes(bytes(data))
    with pytest.raises(CheckpointUnusable, match="sha256 does not match") as raised:
        RunService().resume_file(out)
    assert raised.value.path == newest
    assert not (out / "trades.csv").exists()  # nothing ran


def test_a_checkpoint_of_another_run_is_refused(killed: Path, tmp_path: Path) -> None:
    out, _ = copy_of(killed, tmp_path)
    plan_path = out / CHECKPOINT_DIR / "run.json"
    plan = plan_path.read_text(encoding="utf-8")
    assert '"fast":5' in plan
    plan_path.write_text(plan.replace('"fast":5', '"fast":6'), encoding="utf-8")
    with pytest.raises(CheckpointUnusable, match="belongs to another run"):
        RunService().resume_file(out)


def test_only_the_last_k_checkpoints_are_kept(killed: Path, tmp_path: Path) -> None:
    _, files = copy_of(killed, tmp_path)
    assert len(files) == 2  # keep_checkpoints=2, and more than two were taken
    bars = [int(path.stem.split("-")[1]) for path in files]
    assert bars[1] - bars[0] == EVERY and bars[1] >= BARS // 2 - EVERY


def test_resume_needs_a_run_started_with_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(CheckpointUnusable, match="--checkpoint-every"):
        RunService().resume_file(tmp_path)


def test_identity_names_code_data_and_config(inputs: tuple[Path, Path]) -> None:
    from app.runs.prepare import prepare_file_run
    from sandbox import OperatorMaximums

    strategy, data = inputs
    prepared = prepare_file_run(
        strategy, data, order(), symbol="TESTUSDT", maximums=OperatorMaximums()
    )
    identity = CheckpointStore.for_run(Path("x"), prepared.inputs).identity
    assert isinstance(prepared.inputs, RunInputs)
    assert identity.code_sha256 == prepared.inputs.code_hash
    assert identity.config_sha256 == prepared.inputs.config.fingerprint()
