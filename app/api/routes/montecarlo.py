"""Monte Carlo of a finished run: POST /api/runs/{id}/montecarlo simulates it (app.research,
the computation `strategylab montecarlo` runs), keeps montecarlo.json in the run's folder and
answers with the document; GET returns the last one kept."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import SessionDep, SettingsDep
from app.api.schemas import ErrorOut
from app.db import RunStatus, crud
from app.db.errors import RecordNotFoundError
from app.jobs import RunStateError
from app.research.montecarlo import DEFAULT_LEVELS, MAX_SIMULATIONS, MonteCarloSpec
from app.research.montecarlo_document import MONTECARLO_FILE, run_montecarlo, write_montecarlo
from app.research.run_folder import RunFolderError

router = APIRouter(tags=["runs"])
RunId = Annotated[str, Path(min_length=1, max_length=64)]
RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such run, or its folder is gone."},
    409: {"model": ErrorOut, "description": "The run has not finished."},
}


class MonteCarloRequest(BaseModel):
    """What to simulate; each field as the CLI's flag of the same meaning."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["shuffle", "bootstrap", "block"] = Field(
        description="shuffle: reorder the per-trade returns; bootstrap: draw trades with "
        "replacement; block: block-bootstrap the daily returns."
    )
    n: int = Field(10_000, ge=1, le=MAX_SIMULATIONS, description="Simulated paths.")
    seed: int = Field(1, ge=0, le=2**63 - 1, description="The same seed, the same document.")
    levels: list[float] = Field(
        default_factory=lambda: list(DEFAULT_LEVELS),
        min_length=1,
        max_length=10,
        description="Two-sided confidence levels, each in (0, 1).",
    )
    ruin: float = Field(
        0.5, gt=0, lt=1, description="Ruin: equity ever <= this fraction of the start."
    )
    block_kind: Literal["stationary", "circular"] = "stationary"
    block_length: float | None = Field(
        None, ge=1, le=10_000, description="Mean block length, days; default: automatic."
    )

    def spec(self) -> MonteCarloSpec:
        """The research spec (it checks the levels, as the CLI's)."""
        return MonteCarloSpec(
            method=self.method,
            simulations=self.n,
            seed=self.seed,
            levels=tuple(sorted(self.levels)),
            ruin_threshold=self.ruin,
            block_kind=self.block_kind,
            block_length=self.block_length,
        )


@router.post("/api/runs/{run_id}/montecarlo", responses=RESPONSES)
def simulate_run(
    run_id: RunId, body: MonteCarloRequest, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Simulate a finished run and keep the result as the run folder's montecarlo.json
    (a sync route: FastAPI runs it in its thread pool, off the event loop)."""
    run = crud.get_run(session, run_id=run_id)
    if run.status is not RunStatus.DONE:
        raise RunStateError(run.id, run.status, "simulated before it is done")
    spec = body.spec()
    folder = settings.runs_dir / run.id
    try:
        document = run_montecarlo(folder, spec)
    except RunFolderError:  # its message names the server's paths: not for the client
        raise RecordNotFoundError("readable result folder for run", run.id) from None
    write_montecarlo(document, folder)
    return document


@router.get("/api/runs/{run_id}/montecarlo", responses={404: RESPONSES[404]})
def get_simulation(run_id: RunId, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """The run's last Monte Carlo document (404 before the first POST)."""
    run = crud.get_run(session, run_id=run_id)
    path = settings.runs_dir / run.id / MONTECARLO_FILE
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordNotFoundError("Monte Carlo simulation of run", run.id) from None
    return document
