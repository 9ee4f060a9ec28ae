"""The run service built from Settings: the operator's maximums bound every door's runs, and a
run's folder is removed only where it belongs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.data.catalog import DatasetCatalog
from app.engine import RunConfig
from app.runs import RunOrder, RunService, operator_maximums
from app.runs.prepare import limits_within
from app.runs.record import remove_run_folder
from sandbox import LimitExceeded, LimitsRefused, OperatorMaximums, RunLimits
from tests.jobs.fixtures import SAMPLE_NAME, make_settings, write_sample

SPIN = "class Spin(Strategy):\n    def on_data(self, bar):\n        while True:\n            pass\n"


def test_the_operator_maximums_come_from_settings(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_wall_seconds=7, max_cpu_seconds=5, max_memory_mb=900)
    service = RunService.from_settings(settings)
    assert operator_maximums(settings) == service.maximums
    assert (service.maximums.wall_seconds, service.maximums.cpu_seconds) == (7, 5)
    assert service.maximums.memory_mb == 900
    assert (service.limits.wall_seconds, service.limits.cpu_seconds) == (7, 5)
    assert service.limits.memory_mb == 900
    assert service.runs_dir == settings.runs_dir


@pytest.mark.parametrize(
    ("limits", "maximums", "expected"),
    [
        (RunLimits(), OperatorMaximums(), RunLimits()),  # defaults sit under the maximums
        (RunLimits(wall_seconds=600), OperatorMaximums(wall_seconds=30), 30),
        (RunLimits(wall_seconds=10), OperatorMaximums(wall_seconds=30), 10),
    ],
)
def test_stored_runs_limits_are_lowered_to_the_maximums_never_raised(
    limits: RunLimits, maximums: OperatorMaximums, expected: RunLimits | float
) -> None:
    lowered = limits_within(limits, maximums)
    if isinstance(expected, RunLimits):
        assert lowered == expected
    else:
        assert lowered.wall_seconds == expected
    assert lowered.checked(maximums) == lowered


def test_a_stored_run_is_stopped_at_the_operators_wall_clock_maximum(tmp_path: Path) -> None:
    write_sample(tmp_path)
    settings = make_settings(tmp_path, max_wall_seconds=2)
    service = RunService.from_settings(settings)
    started = time.monotonic()
    with pytest.raises(LimitExceeded):
        service.run_stored(
            run_id="a" * 32,
            code=SPIN,
            dataset=SAMPLE_NAME,
            config_data=RunConfig(symbol="TESTUSDT").to_dict(),
            catalog=DatasetCatalog(tmp_path),
        )
    assert time.monotonic() - started < 30


def test_a_file_run_asking_more_than_the_maximum_is_refused(tmp_path: Path) -> None:
    data = write_sample(tmp_path)
    strategy = tmp_path / "spin.py"
    strategy.write_text(SPIN)
    service = RunService.from_settings(make_settings(tmp_path, max_wall_seconds=2))
    order = RunOrder(limits=RunLimits(wall_seconds=60))
    with pytest.raises(LimitsRefused, match="wall_seconds"):
        service.run_file(strategy, data, order, symbol="TESTUSDT")


@pytest.mark.parametrize("run_id", ["../outside", "..", "", "a/../../outside", "link"])
def test_only_a_folder_directly_inside_runs_dir_is_removed(tmp_path: Path, run_id: str) -> None:
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (runs_dir / "link").symlink_to(outside)
    assert remove_run_folder(runs_dir, run_id) is False
    assert outside.is_dir() and runs_dir.is_dir()


def test_a_runs_folder_is_removed(tmp_path: Path) -> None:
    folder = tmp_path / "runs" / ("b" * 32)
    folder.mkdir(parents=True)
    (folder / "trades.csv").write_text("x\n")
    assert remove_run_folder(tmp_path / "runs", "b" * 32) is True
    assert not folder.exists()
