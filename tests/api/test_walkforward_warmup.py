"""POST /api/walkforwards without `warmup_bars`: the job measures the strategy's warm-up by probe
trials before any fold runs, and a first train window too short for it fails the walk-forward
with the real figure (sma_crossover's slow sma(30) has its first value at bar 29)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.test_sweeps import wait_for_sweep
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE

SHORT = {
    "code": SMA_CODE,
    "dataset": SAMPLE_NAME,
    "ranges": ["fast=5,10", "slow=30"],
    "method": "grid",
    "objectives": [{"metric": "total_return", "direction": "maximize"}],
    "train": "1d",
    "test": "30d",
}  # 2000 1h bars: a 24-bar first train window


@pytest.mark.slow
def test_a_first_train_window_shorter_than_the_measured_warm_up_fails_before_any_fold(
    client: TestClient,
) -> None:
    created = client.post("/api/walkforwards", json=SHORT)
    assert created.status_code == 201, created.text  # a given warmup_bars is checked here
    walk = wait_for_sweep(client, created.json()["id"])
    assert walk["status"] == "failed"
    assert walk["error"]["message"] == (
        "train: the shortest train window (1d) holds 24 bars of 1h, not more than the "
        "strategy's warm-up of 29 bars (measured with fast=5, slow=30): lengthen the train "
        "window or search shorter lengths"
    )
    assert walk["trials_done"] == 0
