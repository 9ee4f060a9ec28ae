"""Run stages: the engine says when it computes indicators and when it runs bars, the wire
carries only those words, and the job runner adds the stages around them."""

from __future__ import annotations

import pytest

from app.engine import Progress, RunConfig, run_backtest
from app.engine.loop import PROGRESS_STAGES
from app.jobs.progress import STAGES, queued_progress, stage_progress
from sandbox import codec
from sandbox.errors import ProtocolError
from tests.conftest import build_market
from tests.sandbox.test_streaming import flipper_class


def test_the_engine_reports_indicators_first_then_bars() -> None:
    market = build_market([100.0 + i % 7 for i in range(600)])
    reports: list[Progress] = []
    run_backtest(flipper_class(), market, RunConfig(), on_progress=reports.append)
    assert reports[0].stage == "indicators" and reports[0].bars_done == 0
    assert reports[0].bars_total == 600
    assert {r.stage for r in reports[1:]} == {"running"}
    assert reports[-1].bars_done == reports[-1].bars_total


@pytest.mark.parametrize("stage", PROGRESS_STAGES)
def test_the_wire_carries_the_engine_stages(stage: str) -> None:
    body, arrays = codec.progress_body(Progress(0, 10, 1, 100.0, stage=stage))
    assert codec.progress_from_frame(body, arrays).stage == stage


@pytest.mark.parametrize("stage", ["storing", "<b>x</b>", 3, None, ["running"]])
def test_a_worker_cant_name_another_stage(stage: object) -> None:
    body, arrays = codec.progress_body(Progress(0, 10, 1, 100.0))
    with pytest.raises(ProtocolError, match="unknown stage"):
        codec.progress_from_frame({**body, "stage": stage}, arrays)


def test_the_runner_stages_are_in_order_around_the_engine_ones() -> None:
    assert STAGES.index("indicators") < STAGES.index("running") < STAGES.index("storing")
    assert set(PROGRESS_STAGES) <= set(STAGES)
    assert queued_progress()["stage"] == "queued"
    assert stage_progress("loading")["pct"] == 0.0
