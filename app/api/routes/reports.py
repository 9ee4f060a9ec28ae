"""A finished run's report: GET /api/runs/{id}/report in html (self-contained), md, json or
xlsx, built from the run's folder by app.research (the same report `strategylab report`
writes)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.api.deps import CatalogDep, SessionDep, SettingsDep
from app.api.schemas import ErrorOut
from app.db import RunStatus, crud
from app.jobs import RunStateError
from app.research.report_formats import ReportFormat, render_report
from app.research.report_sources import ReportRequest, load_report
from app.research.run_folder import RunFolderError

router = APIRouter(tags=["runs"])
RunId = Annotated[str, Path(min_length=1, max_length=64)]
FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@router.get(
    "/api/runs/{run_id}/report",
    response_class=Response,
    responses={
        200: {"content": {fmt.media_type.split(";")[0]: {} for fmt in ReportFormat}},
        404: {"model": ErrorOut, "description": "No such run, or its folder is gone."},
        409: {"model": ErrorOut, "description": "The run has not finished."},
    },
)
def get_report(
    run_id: RunId,
    session: SessionDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    report_format: Annotated[
        ReportFormat, Query(alias="format", description="html, md, json or xlsx.")
    ] = ReportFormat.HTML,
    download: Annotated[
        bool, Query(description="Answer as an attachment (a file to save) instead of inline.")
    ] = False,
) -> Response:
    """The report of a finished run, one file; html opens offline (no script, no network)."""
    run = crud.get_run(session, run_id=run_id)
    if run.status is not RunStatus.DONE:
        raise RunStateError(run.id, run.status, "reported before it is done")
    folder = settings.runs_dir / run.id
    if not folder.is_dir():
        raise RunFolderError(
            f"the files of run {run.id} are gone (its folder was removed); "
            f"rerun it with POST /api/runs/{run.id}/rerun"
        )
    report = load_report(ReportRequest(run_dir=folder, catalog=catalog, label=f"run {run.id}"))
    name = FILE_NAME_UNSAFE.sub("_", f"report-{run.id}{report_format.suffix}")
    disposition = "attachment" if download else "inline"
    return Response(
        content=render_report(report, report_format),
        media_type=report_format.media_type,
        headers={"content-disposition": f'{disposition}; filename="{name}"'},
    )
