"""Run stages: the engine says when it computes indicators and when it runs bars, the wire
carries only those words, and the job runner adds the stages around them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.db import RunStatus, crud, make_engine, migrate, session_scope
from app.engine import Progress, RunConfig, Strategy, run_backtest, simulate
from app.engine.loop import PROGRESS_STAGES
from app.jobs import DatasetCatalog, JobRunner, ProgressHub
from app.jobs.progress import STAGES, Message, queued_progress, stage_progress
from app.runs import RunService
from sandbox import codec
from sandbox.errors import ProtocolError
from sandbox.indicator_calls import count_indicator_calls
from tests.conftest import build_market
from tests.jobs.fixtures import queued_run, write_sample
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


# -- "Computing indicators k / n" ------------------------------------------------------------

INDICATORS_CODE = """
class Several(Strategy):
    def initialize(self):
        self.fast = self.indicator("sma", length=5)
        self.slow = self.indicator("ema", length=20)
        self.rsi = self.indicator("rsi", length=14)
        self.again = self.indicator("sma", length=5)  # the same setting: no new computation
        self.daily = self.timeframe("4h").indicator("sma", length=3)

    def on_data(self, bar):
        pass
"""


def several_indicators_class() -> type[Strategy]:
    namespace: dict[str, object] = {"Strategy": Strategy}
    exec(compile(INDICATORS_CODE, "several.py", "exec"), namespace)
    strategy = namespace["Several"]
    assert isinstance(strategy, type) and issubclass(strategy, Strategy)
    return strategy


def indicator_counts(reports: list[Progress]) -> list[tuple[int, int]]:
    return [(r.indicators_done, r.indicators_total) for r in reports if r.stage == "indicators"]


def test_the_source_names_its_indicator_calls() -> None:
    assert count_indicator_calls(INDICATORS_CODE) == 5
    assert count_indicator_calls("class A(Strategy):\n    pass\n") == 0
    assert count_indicator_calls("def broken(:\n") == 0  # never raises


def test_the_engine_reports_each_indicator_computed_out_of_the_expected_total() -> None:
    market = build_market([100.0 + i % 7 for i in range(600)])
    reports: list[Progress] = []
    config = RunConfig()
    simulate(
        several_indicators_class(),
        market,
        config,
        on_progress=reports.append,
        indicators_expected=5,
    )
    # one report before initialize(), then one per indicator computed; the repeated sma is a
    # cache hit (counted, no report of its own), so the 4h sma's report says 5 of 5
    assert indicator_counts(reports) == [(0, 5), (1, 5), (2, 5), (3, 5), (5, 5)]
    assert reports[len(indicator_counts(reports))].stage == "running"


def test_a_strategy_declaring_more_than_expected_raises_the_total() -> None:
    market = build_market([100.0 + i % 7 for i in range(300)])
    reports: list[Progress] = []
    simulate(
        several_indicators_class(),
        market,
        RunConfig(),
        on_progress=reports.append,
        indicators_expected=2,
    )
    assert indicator_counts(reports) == [(0, 2), (1, 2), (2, 2), (3, 3), (5, 5)]


def test_the_wire_carries_the_indicator_counts() -> None:
    body, arrays = codec.progress_body(
        Progress(0, 10, 1, 100.0, stage="indicators", indicators_done=2, indicators_total=4)
    )
    decoded = codec.progress_from_frame(body, arrays)
    assert (decoded.indicators_done, decoded.indicators_total) == (2, 4)


@pytest.mark.parametrize(
    "counts", [[3, 2], [-1, 2], [1], "1/2", [1.0, 2], [True, 2], [0, 10**9], None]
)
def test_a_worker_cant_send_impossible_indicator_counts(counts: object) -> None:
    body, arrays = codec.progress_body(Progress(0, 10, 1, 100.0, stage="indicators"))
    with pytest.raises(ProtocolError, match=r"indicator counts|indicators_"):
        codec.progress_from_frame({**body, "indicators": counts}, arrays)


class RecordingHub(ProgressHub):
    """The real hub, keeping every progress message the runner publishes (viewers only get
    the newest one per interval, so a test of the stages reads them here)."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Message] = []

    def publish_progress(self, run_id: str, message: Message) -> None:
        self.published.append(dict(message))
        super().publish_progress(run_id, message)


def test_a_sandboxed_run_publishes_every_stage_in_order(tmp_path: Path) -> None:
    write_sample(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    run = queued_run(INDICATORS_CODE)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    hub = RecordingHub()

    async def scenario() -> None:
        runner = JobRunner(
            engine=engine,
            catalog=DatasetCatalog(tmp_path),
            hub=hub,
            workers=1,
            service=RunService(runs_dir=tmp_path / "runs"),
        )
        runner.start()
        try:
            deadline = asyncio.get_running_loop().time() + 60
            while asyncio.get_running_loop().time() < deadline:
                with session_scope(engine) as session:
                    if crud.get_run(session, run_id=run.id).status is RunStatus.DONE:
                        return
                await asyncio.sleep(0.05)
            raise TimeoutError(run.id)
        finally:
            runner.shutdown()

    asyncio.run(scenario())
    engine.dispose()
    stages = [m["stage"] for m in hub.published]
    order = [stage for i, stage in enumerate(stages) if i == 0 or stages[i - 1] != stage]
    assert order == ["starting", "loading", "indicators", "running", "storing"]
    counts = [
        (m["indicators_done"], m["indicators_total"])
        for m in hub.published
        if m["stage"] == "indicators"
    ]
    assert counts == [(0, 5), (1, 5), (2, 5), (3, 5), (5, 5)]
    assert all("indicators_done" not in m for m in hub.published if m["stage"] != "indicators")
