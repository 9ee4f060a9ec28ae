"""GET /api/runs/{id}/periods: a run's returns per calendar month and per year (UTC).

Convention: a period's return is its last bar's equity over the previous period's last bar's
equity, minus 1; the first period is measured from the curve's first point (the equity at the
first traded bar). Periods are UTC calendar months and years; a run that starts or ends inside
one covers only part of it. Computed from the full bar-by-bar curve (the run's equity.csv).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from app.api.deps import SessionDep
from app.api.schemas import ErrorOut
from app.db import crud

router = APIRouter(tags=["runs"])
RunId = Annotated[str, Path(min_length=1, max_length=64)]
CONVENTION = (
    "return of each UTC calendar period: its last bar's equity / the previous period's last "
    "bar's equity - 1 (the first from the curve's first point)"
)


class PeriodReturn(BaseModel):
    year: int
    month: int | None = Field(default=None, description="1-12; None for a whole year.")
    ret: float = Field(description="The period's return as a fraction (0.05 = 5 %).")
    is_partial: bool = Field(description="The run covers only part of the period.")


class PeriodReturns(BaseModel):
    run_id: str
    convention: str
    months: list[PeriodReturn]
    years: list[PeriodReturn]


def period_returns(
    time_ns: npt.NDArray[np.int64], equity: npt.NDArray[np.float64], unit: str
) -> list[tuple[int, int | None, float, bool]]:
    """(year, month or None, return, is_partial) per UTC period of `unit` ("M" or "Y")."""
    if len(time_ns) == 0:
        return []
    periods = time_ns.astype("datetime64[ns]").astype(f"datetime64[{unit}]")
    ends = np.append(np.flatnonzero(periods[1:] != periods[:-1]), len(periods) - 1)
    closing = equity[ends]
    opening = np.concatenate(([equity[0]], closing[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(opening != 0, closing / opening - 1.0, np.nan)
    rows: list[tuple[int, int | None, float, bool]] = []
    for index, (end, value) in enumerate(zip(ends, returns, strict=True)):
        stamp = periods[end].astype(object)  # datetime.date
        is_partial = index == 0 or index == len(ends) - 1
        month = stamp.month if unit == "M" else None
        rows.append((stamp.year, month, float(value), is_partial))
    return rows


@router.get("/api/runs/{run_id}/periods", responses={404: {"model": ErrorOut}})
def get_period_returns(run_id: RunId, session: SessionDep) -> PeriodReturns:
    """Monthly and yearly returns from the run's full equity curve (empty while it has none)."""
    curve = crud.get_equity(session, run_id=run_id)
    months: list[PeriodReturn] = []
    years: list[PeriodReturn] = []
    if curve is not None:
        for target, unit in ((months, "M"), (years, "Y")):
            for year, month, value, is_partial in period_returns(curve.time, curve.equity, unit):
                if np.isfinite(value):
                    target.append(
                        PeriodReturn(year=year, month=month, ret=value, is_partial=is_partial)
                    )
    return PeriodReturns(run_id=run_id, convention=CONVENTION, months=months, years=years)
