"""GET /api/runs/{id}/indicators: the lines of the indicators a run's strategy declared, from
the run's indicators.json (app/runs/indicator_lines.py), for the price chart."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from app.api.deps import SessionDep, SettingsDep
from app.api.schemas import ErrorOut
from app.db import crud
from app.runs.indicator_lines import INDICATORS_FILE

router = APIRouter(tags=["runs"])
RunId = Annotated[str, Path(min_length=1, max_length=64)]


class IndicatorLine(BaseModel):
    column: str = Field(description="The pandas-ta column, e.g. SMA_10 or MACDh_12_26_9.")
    placement: str = Field(description='"price": on the candles; "pane": in its own pane below.')
    values: list[float | None] = Field(description="The value at the candle's close; null: none.")


class IndicatorLines(BaseModel):
    label: str = Field(description="SMA(length=10), RSI(length=14) @4h, ...")
    name: str
    timeframe: str | None
    settings: dict[str, bool | int | float | str]
    time: list[int] = Field(description="Epoch seconds, UTC: the candle of each point.")
    lines: list[IndicatorLine]
    error: str | None = Field(default=None, description="Why it could not be drawn.")


class RunIndicators(BaseModel):
    run_id: str
    is_available: bool = Field(
        description="False while the run has no indicators.json (running, failed before its "
        "results were stored, or stored before indicators were kept)."
    )
    bucket_seconds: int = Field(description="The candle length the points are spaced by.")
    indicators: list[IndicatorLines]


@router.get("/api/runs/{run_id}/indicators", responses={404: {"model": ErrorOut}})
def get_run_indicators(run_id: RunId, session: SessionDep, settings: SettingsDep) -> RunIndicators:
    """Each `self.indicator(...)` of the run as lines (at most 2,000 points each, on the grid
    of `GET /api/runs/{id}/candles`' default candles), in declaration order."""
    run = crud.get_run(session, run_id=run_id)  # 404 for an unknown run
    path = settings.runs_dir / run.id / INDICATORS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return RunIndicators(run_id=run.id, is_available=False, bucket_seconds=0, indicators=[])
    return RunIndicators(
        run_id=run.id,
        is_available=True,
        bucket_seconds=document.get("bucket_seconds", 0),
        indicators=document.get("indicators", []),
    )
