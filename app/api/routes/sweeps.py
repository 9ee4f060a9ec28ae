"""Sweeps: start one, list and read them, page their trials, cancel, open a trial as a run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from starlette.concurrency import run_in_threadpool

from app.api.admission import RunSlotDep
from app.api.audit_trail import AuditDep
from app.api.deps import CatalogDep, EngineDep, RunnerDep, SessionDep, SweepRunnerDep
from app.api.quota_gate import SweepQuotaDep
from app.api.schemas import (
    MAX_ID,
    ErrorOut,
    ObjectiveIn,
    RunCreated,
    RunError,
    SweepCreate,
    SweepCreated,
    SweepDetail,
    SweepSummary,
    SweepTrialOut,
    SweepTrialsPage,
)
from app.auth.audit import AuditAction
from app.db import RunStatus, crud, session_scope
from app.db.models import RunRow, SweepRow, SweepTrialRow
from app.jobs.errors import SweepStateError
from app.jobs.sweep_requests import SweepRequest, range_text
from app.jobs.sweep_submission import create_sweep as store_sweep
from app.jobs.sweep_submission import trial_run_record
from app.jobs.sweeps import SWEEP_TERMINAL
from app.runs import RunOrder
from app.runs.submission import CodeChoice, Submission, ns_of

router = APIRouter(tags=["sweeps"])
SweepId = Annotated[str, Path(min_length=1, max_length=64)]
TrialNumber = Annotated[int, Path(ge=0, le=MAX_ID)]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}}


def sweep_request(body: SweepCreate) -> SweepRequest:
    """The plain-data sweep of a request (ranges in the CLI's text form)."""
    texts = tuple(
        item
        if isinstance(item, str)
        else range_text(
            item.name, low=item.low, high=item.high, step=item.step, choices=item.choices
        )
        for item in body.ranges
    )
    return SweepRequest(
        ranges=texts,
        method=body.method,
        objectives=tuple((o.metric, o.direction) for o in body.objectives),
        min_trades=body.min_trades,
        max_drawdown=body.max_drawdown,
        n_trials=body.trials,
        seed=body.seed,
    )


def trial_out(row: SweepTrialRow) -> SweepTrialOut:
    return SweepTrialOut(
        number=row.number,
        params=row.params,
        metrics=row.metrics,
        feasible=row.feasible,
        error=row.error,
        infeasible_reason=row.infeasible_reason,
        values=row.objective_values,
    )


def sweep_summary(sweep: SweepRow) -> SweepSummary:
    request = SweepRequest.from_dict(sweep.spec)
    error = sweep.error or None
    return SweepSummary(
        id=sweep.id,
        kind=sweep.kind,
        status=sweep.status,
        strategy_id=sweep.strategy_id,
        strategy_version=sweep.strategy_version,
        strategy_name=sweep.strategy_name,
        dataset=sweep.dataset,
        method=request.method,
        objectives=[ObjectiveIn(metric=m, direction=d) for m, d in request.objectives],
        trials_done=sweep.trials_done,
        trials_total=sweep.trials_total,
        trials_per_s=sweep.trials_per_s,
        eta_s=sweep.eta_s,
        best=[SweepTrialOut.model_validate(_trial_fields(b)) for b in sweep.best or []] or None,
        created_at=sweep.created_at,
        started_at=sweep.started_at,
        finished_at=sweep.finished_at,
        error=RunError(message=str(error.get("message", ""))) if error else None,
    )


def _trial_fields(message: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in message.items() if key != "type"}


def base_submission(body: SweepCreate) -> Submission:
    """The run every trial varies: the request's code, dataset, period, options, params."""
    return Submission(
        dataset=body.dataset,
        choice=CodeChoice(
            code=body.code, strategy_id=body.strategy_id, strategy_version=body.strategy_version
        ),
        order=RunOrder(
            options=body.options(),
            start=ns_of(body.start),
            end=ns_of(body.end),
            params=dict(body.params),
        ),
    )


@router.post("/api/sweeps", status_code=status.HTTP_201_CREATED)
async def create_sweep(
    body: SweepCreate,
    engine: EngineDep,
    catalog: CatalogDep,
    sweeps: SweepRunnerDep,
    audit: AuditDep,
    quota: SweepQuotaDep,
) -> SweepCreated:
    """Check and queue a sweep; watch it on WS /ws/sweeps/{id}. Every trial is a sandboxed
    run of the code with the run options given and one param set."""
    request = sweep_request(body)
    submission = base_submission(body)

    def store() -> tuple[str, int | None]:
        with session_scope(engine) as session:
            quota.check_concurrent(session)  # the user's sweeps at once: nothing is stored
            row = store_sweep(session, submission=submission, request=request, catalog=catalog)
            quota.check(row.trials_total)  # over the user's sweep size: nothing is stored
            return row.id, row.trials_total

    async with quota.admitted():
        sweep_id, total = await run_in_threadpool(store)
    sweeps.submit(sweep_id)
    await audit.record(AuditAction.SWEEP_STARTED, target=f"sweep {sweep_id}")
    return SweepCreated(id=sweep_id, status=RunStatus.QUEUED, trials_total=total)


@router.get("/api/sweeps")
def list_sweeps(
    session: SessionDep,
    status_filter: Annotated[list[RunStatus] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[SweepSummary]:
    """Sweeps, newest first."""
    rows = crud.list_sweeps(session, statuses=status_filter or (), limit=limit, offset=offset)
    return [sweep_summary(row) for row in rows]


def sweep_detail(sweep: SweepRow) -> SweepDetail:
    request = SweepRequest.from_dict(sweep.spec)
    return SweepDetail(
        **sweep_summary(sweep).model_dump(),
        code=sweep.code,
        code_hash=sweep.code_hash,
        dataset_version=sweep.dataset_version,
        dataset_hash=sweep.dataset_hash,
        ranges=list(request.ranges),
        constraints={"min_trades": request.min_trades, "max_drawdown": request.max_drawdown},
        seed=request.seed,
        config=sweep.config,
        statistics=sweep.statistics,
    )


@router.get("/api/sweeps/{sweep_id}", responses=NOT_FOUND)
def get_sweep(sweep_id: SweepId, session: SessionDep) -> SweepDetail:
    """Everything about one sweep: what it searches, how far it got, its best, statistics."""
    return sweep_detail(crud.get_sweep(session, sweep_id=sweep_id))


@router.get("/api/sweeps/{sweep_id}/trials", responses=NOT_FOUND)
def list_trials(
    sweep_id: SweepId,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Trials to return at most.")] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="Trials to skip.")] = 0,
) -> SweepTrialsPage:
    """The finished trials by trial number, a page at a time."""
    rows = crud.list_sweep_trials(session, sweep_id=sweep_id, limit=limit, offset=offset)
    total = crud.count_sweep_trials(session, sweep_id=sweep_id)
    return SweepTrialsPage(
        sweep_id=sweep_id, total=total, offset=offset, trials=[trial_out(r) for r in rows]
    )


@router.post(
    "/api/sweeps/{sweep_id}/cancel", responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}}
)
async def cancel_sweep(
    sweep_id: SweepId, engine: EngineDep, sweeps: SweepRunnerDep
) -> SweepSummary:
    """Stop a queued or running sweep (its running trials are killed; finished ones stay)."""

    def current() -> RunStatus:
        with session_scope(engine) as session:
            return crud.get_sweep(session, sweep_id=sweep_id).status

    found = await run_in_threadpool(current)
    if found in SWEEP_TERMINAL:
        raise SweepStateError(sweep_id, found, "cancelled")
    await sweeps.cancel(sweep_id)
    with session_scope(engine) as session:
        return sweep_summary(crud.get_sweep(session, sweep_id=sweep_id))


@router.delete(
    "/api/sweeps/{sweep_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)
async def delete_sweep(
    sweep_id: SweepId, engine: EngineDep, sweeps: SweepRunnerDep, audit: AuditDep
) -> Response:
    """Delete a sweep or walk-forward, its trials and its stored studies (one still going is
    cancelled first). Runs opened from its trials are runs of their own and stay."""

    def check_visible() -> None:  # the sweep runner is the operator's: the owner check is here
        with session_scope(engine) as session:
            crud.get_sweep(session, sweep_id=sweep_id)

    await run_in_threadpool(check_visible)
    await sweeps.delete(sweep_id)
    await audit.record(AuditAction.DELETED, target=f"sweep {sweep_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/sweeps/{sweep_id}/trials/{number}/run",
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND,
)
async def open_trial_as_run(
    sweep_id: SweepId,
    number: TrialNumber,
    engine: EngineDep,
    catalog: CatalogDep,
    runner: RunnerDep,
    slot: RunSlotDep,
    audit: AuditDep,
) -> RunCreated:
    """Queue a normal run of one trial (the sweep's code, data, options, the trial's params);
    its metrics equal the trial's. Watch it on WS /ws/runs/{id}."""

    def check() -> RunRow:  # the slow part, before the user's turn to store
        with session_scope(engine) as session:
            return trial_run_record(session, sweep_id=sweep_id, number=number, catalog=catalog)

    run_id = await slot.store(await run_in_threadpool(check))
    runner.submit(run_id)
    await audit.record(AuditAction.RUN_STARTED, target=f"run {run_id}", detail={"sweep": sweep_id})
    return RunCreated(id=run_id, status=RunStatus.QUEUED)
