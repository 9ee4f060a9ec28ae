"""The run service: prepare, execute and record one run, the same way for every door.

`RunService` is built once from Settings (the operator's maximums, the default limits, the
folder web runs are written to) and handed to each door: the CLI calls `run_file`, the job
runner calls `run_stored` for a queued run, sweeps and remote workers call `run`; a run
executed elsewhere (on a `strategylab worker`) is recorded with `record`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.data.catalog import DatasetCatalog
from app.data.tiers import TierCatalog
from app.engine import ProgressCallback, RunConfig, RunResult
from app.runs import prepare
from app.runs.checkpoints import CheckpointStore, is_checkpointed, read_plan, write_plan
from app.runs.execute import execute
from app.runs.indicator_lines import MAX_POINTS, write_indicator_file
from app.runs.plan import file_plan, prepared_from_plan
from app.runs.prepare import PreparedRun, RunInputs, RunOrder
from app.runs.record import provenance, write_folder
from app.settings import Settings
from sandbox import (
    ChartRequest,
    OperatorMaximums,
    Points,
    RunLimits,
    WarmWorker,
    start_worker,
)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A finished run: the engine's result, its provenance document and the files written."""

    result: RunResult
    provenance: dict[str, Any]
    files: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class RunService:
    """Prepare -> execute -> record. `runs_dir` is where stored runs write their folder
    (`<runs_dir>/<run_id>/`); None writes none."""

    maximums: OperatorMaximums = field(default_factory=OperatorMaximums)
    limits: RunLimits = field(default_factory=RunLimits)
    runs_dir: Path | None = None
    tiers: TierCatalog = field(default_factory=TierCatalog)
    """The maintenance-tier tables a file run may use (shipped ones, and the data folder's)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RunService:
        """The service with the operator's maximums and run folder from Settings; stored runs
        get the default limits, each lowered to its maximum where the operator set it lower."""
        maximums = prepare.operator_maximums(settings)
        return cls(
            maximums=maximums,
            limits=prepare.limits_within(RunLimits(), maximums),
            runs_dir=settings.runs_dir,
            tiers=TierCatalog(settings.data_dir),
        )

    def run(
        self,
        prepared: PreparedRun,
        *,
        door: str,
        names: dict[str, str],
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        worker: WarmWorker | None = None,
        out_dir: Path | None = None,
        resume: bool = False,
    ) -> RunOutcome:
        """Execute `prepared` and record it (its folder in `out_dir` when given).

        A run with `checkpoint_every` and an `out_dir` saves its checkpoints in
        `out_dir/checkpoints/` and removes them once its folder is written. With `resume` it
        continues from the newest one there (from the start when there is none yet);
        CheckpointUnusable when that one is damaged or another run's."""
        store = None
        start_from = None
        if out_dir is not None and is_checkpointed(prepared.inputs.config):
            store = CheckpointStore.for_run(out_dir, prepared.inputs)
            start_from = store.latest() if resume else None
        chart = ChartRequest(MAX_POINTS) if out_dir is not None else None
        result = execute(
            prepared,
            on_progress=on_progress,
            cancel=cancel,
            worker=worker,
            on_checkpoint=store.save if store is not None else None,
            resume=start_from,
            chart=chart,  # the worker's own indicator values, for indicators.json
        )
        outcome = self.record(
            prepared,
            result,
            door=door,
            names=names,
            out_dir=out_dir,
            chart_points=chart.points if chart is not None else None,
        )
        if store is not None:
            store.clear()
        return outcome

    def record(
        self,
        prepared: PreparedRun,
        result: RunResult,
        *,
        door: str,
        names: dict[str, str],
        out_dir: Path | None = None,
        chart_points: tuple[Points, ...] | None = None,
    ) -> RunOutcome:
        """Record a finished run of `prepared`: its provenance and, with `out_dir`, its folder
        and the price chart's indicator lines (`chart_points` as the worker sent them; None
        computes them here). `run` records this way, and so does a web node for a run a
        `strategylab worker` executed (a walk-forward's test window: app.jobs.fold_tests)."""
        document = provenance(prepared.inputs, door=door, names=names)
        files = write_folder(result, out_dir, document) if out_dir is not None else []
        if out_dir is not None:  # the price chart's indicator lines
            files.append(write_indicator_file(result, prepared.market, out_dir, chart_points))
        return RunOutcome(result, document, tuple(files))

    def run_file(
        self,
        strategy_path: Path,
        data_path: Path,
        order: RunOrder,
        *,
        symbol: str,
        on_progress: ProgressCallback | None = None,
        out_dir: Path | None = None,
        worker: WarmWorker | None = None,
    ) -> RunOutcome:
        """Run a strategy file on a data file (the CLI's door).

        The worker (`worker`, which the CLI starts before its own imports, or one started now)
        is started first, so its start-up (~1.5 s of imports) overlaps the reading and
        inspection of the strategy and the data; it is killed on every path out of here.
        """
        with worker or start_worker() as worker:
            prepared = prepare.prepare_file_run(
                strategy_path,
                data_path,
                order,
                symbol=symbol,
                maximums=self.maximums,
                tiers=self.tiers,
            )
            names = {"strategy_file": strategy_path.name, "data_file": data_path.name}
            if out_dir is not None and is_checkpointed(prepared.inputs.config):
                CheckpointStore.for_run(out_dir, prepared.inputs).clear()  # a new run
                write_plan(out_dir, file_plan(prepared, data_path, names, order.columns))
            return self.run(
                prepared,
                door="cli",
                names=names,
                on_progress=on_progress,
                worker=worker,
                out_dir=out_dir,
            )

    def resume_file(
        self,
        run_dir: Path,
        *,
        on_progress: ProgressCallback | None = None,
        worker: WarmWorker | None = None,
    ) -> RunOutcome:
        """Continue the CLI run whose folder is `run_dir` from its newest checkpoint (the
        plan in `run_dir/checkpoints/run.json` names its code, data file, config and
        limits). The files written are the ones the run writes uninterrupted.

        CheckpointUnusable when the plan or the checkpoint cannot be used; the data file's
        StrategyLoadError/DataError, or InvalidRunRequestError("data") when it changed.
        `worker` as for run_file."""
        with worker or start_worker() as worker:
            prepared, names = prepared_from_plan(read_plan(run_dir), self.maximums)
            return self.run(
                prepared,
                door="cli",
                names=names,
                on_progress=on_progress,
                worker=worker,
                out_dir=run_dir,
                resume=True,
            )

    def prepare_stored(
        self, *, code: str, dataset: str, config_data: dict[str, Any], catalog: DatasetCatalog
    ) -> PreparedRun:
        """A stored run's (or sweep's base run's) PreparedRun: its code, dataset version and
        config as stored, with this service's limits (the sweep service's door too)."""
        entry = catalog.resolve(dataset)
        config = RunConfig.from_dict(config_data)
        others = [catalog.resolve(name) for name in config.other_datasets]  # several symbols
        market, data = prepare.catalog_run_data(catalog, entry, others, config.missing_bars)
        inspection = prepare.inspect_strategy(code, prepare.STRATEGY_FILENAME)
        inputs = RunInputs(code, prepare.STRATEGY_FILENAME, inspection, data, config)
        return PreparedRun(inputs, market, self.limits, self.maximums)

    def run_stored(
        self,
        *,
        run_id: str,
        code: str,
        dataset: str,
        config_data: dict[str, Any],
        catalog: DatasetCatalog,
        on_progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
        worker: WarmWorker | None = None,
    ) -> RunOutcome:
        """Run a stored, queued run (the job runner's door); its folder goes to
        `<runs_dir>/<run_id>/`. The stored config was checked when it was submitted. A run
        that checkpoints continues from its newest checkpoint when it has one (it was
        interrupted by a restart: app.jobs.runner)."""
        prepared = self.prepare_stored(
            code=code, dataset=dataset, config_data=config_data, catalog=catalog
        )
        return self.run(
            prepared,
            door="api",
            names={"dataset": prepared.inputs.data.name},
            on_progress=on_progress,
            cancel=cancel,
            worker=worker,
            out_dir=self.runs_dir / run_id if self.runs_dir is not None else None,
            resume=True,
        )
