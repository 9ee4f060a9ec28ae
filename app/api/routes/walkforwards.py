"""Walk-forwards: start one and read it (its folds, efficiency and stitched out-of-sample
figures). They are sweeps of kind "walkforward": list, cancel, delete and watch them through
the sweep routes (GET /api/sweeps, POST /api/sweeps/{id}/cancel, DELETE /api/sweeps/{id},
WS /ws/sweeps/{id})."""

from __future__ import annotations

from fastapi import APIRouter, status
from starlette.concurrency import run_in_threadpool

from app.api.audit_trail import AuditDep
from app.api.deps import CatalogDep, EngineDep, SessionDep, SweepRunnerDep
from app.api.quota_gate import SweepQuotaDep
from app.api.routes.sweeps import NOT_FOUND, SweepId, base_submission, sweep_detail, sweep_request
from app.api.schemas import SweepCreated, WalkForwardCreate, WalkForwardDetail
from app.auth.audit import AuditAction
from app.db import RunStatus, crud, session_scope
from app.db.errors import RecordNotFoundError
from app.jobs.sweep_submission import create_sweep as store_sweep
from app.jobs.walkforward_requests import WalkRequest, walk_of

router = APIRouter(tags=["walk-forwards"])


@router.post("/api/walkforwards", status_code=status.HTTP_201_CREATED)
async def create_walkforward(
    body: WalkForwardCreate,
    engine: EngineDep,
    catalog: CatalogDep,
    sweeps: SweepRunnerDep,
    audit: AuditDep,
    quota: SweepQuotaDep,
) -> SweepCreated:
    """Check and queue a walk-forward (`trials_total`: its folds); watch it on
    WS /ws/sweeps/{id} (fold k of n, and trial j of m while a fold optimises)."""
    request = sweep_request(body)
    walk = WalkRequest(
        train=body.train,
        test=body.test,
        step=body.step,
        folds=body.folds,
        train_ratio=body.train_ratio,
        anchored=body.anchored,
        warmup_bars=body.warmup_bars,
        min_is_trades=body.min_is_trades,
        min_efficiency=body.min_efficiency,
    )
    submission = base_submission(body)

    def store() -> tuple[str, int | None]:
        with session_scope(engine) as session:
            quota.check_concurrent(session)  # the user's sweeps at once: nothing is stored
            row = store_sweep(
                session, submission=submission, request=request, catalog=catalog, walk=walk
            )
            quota.check(row.trials_total, what="walk-forward")  # over quota: nothing stored
            return row.id, row.trials_total

    async with quota.admitted():
        walk_id, total = await run_in_threadpool(store)
    sweeps.submit(walk_id)
    await audit.record(AuditAction.SWEEP_STARTED, target=f"walk-forward {walk_id}")
    return SweepCreated(id=walk_id, status=RunStatus.QUEUED, trials_total=total)


@router.get("/api/walkforwards/{walk_id}", responses=NOT_FOUND)
def get_walkforward(walk_id: SweepId, session: SessionDep) -> WalkForwardDetail:
    """Everything about one walk-forward; its document once it has finished."""
    row = crud.get_sweep(session, sweep_id=walk_id)
    walk = walk_of(row.spec)
    if walk is None:
        raise RecordNotFoundError("walk-forward", walk_id)
    return WalkForwardDetail(**sweep_detail(row).model_dump(), walk=walk.to_dict())
