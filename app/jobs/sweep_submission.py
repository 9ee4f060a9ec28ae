"""The API's door into sweeps: a request becomes a stored, queued sweep, and a trial of a
sweep becomes a normal queued run.

Everything is checked before anything is stored: the base run exactly as a run submission is
checked (app.runs.submission.check_submission: source, dataset, period, options, fixed
params), then the sweep itself against the strategy's params (app.jobs.sweep_requests), so a
bad request is refused with the field at fault instead of becoming a failed sweep.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from enum import Enum
from typing import Any

from sqlmodel import Session

from app.data.catalog import DatasetCatalog
from app.db import crud
from app.db.errors import RecordNotFoundError
from app.db.models import RunRow, RunStatus, SweepRow, utc_now
from app.engine.config import FIELDS_BY_NAME
from app.jobs.sweep_requests import SweepRequest, build_spec
from app.jobs.sweeps import study_name_of
from app.jobs.walkforward_requests import WALK_KEY, WalkRequest, build_walkforward
from app.research.sweep import trials_total
from app.runs import RunService
from app.runs.prepare import RunOrder
from app.runs.submission import CodeChoice, Submission, check_submission, checked_record


def create_sweep(
    session: Session,
    *,
    submission: Submission,
    request: SweepRequest,
    catalog: DatasetCatalog,
    walk: WalkRequest | None = None,
    service: RunService | None = None,
) -> SweepRow:
    """Check the base run and the sweep (or walk-forward, when `walk` is given: its folds
    are planned over the data with `service`'s limits) and store it queued (the caller
    commits, then submits it to the SweepRunner)."""
    checked = check_submission(session, submission=submission, catalog=catalog)
    inputs = checked.inputs
    spec = build_spec(request, inputs.inspection.defaults)
    total = trials_total(spec)
    stored_spec = request.to_dict()
    if walk is not None:
        base = (service or RunService()).prepare_stored(
            code=inputs.code,
            dataset=inputs.data.name,
            config_data=inputs.config.to_dict(),
            catalog=catalog,
        )
        _, plan = build_walkforward(request, walk, base)
        total = len(plan.folds)
        stored_spec[WALK_KEY] = walk.to_dict()
    sweep_id = uuid.uuid4().hex
    order: dict[str, Any] = {
        "options": stored_options(submission.order.options),
        "start": submission.order.start,
        "end": submission.order.end,
        "params": dict(submission.order.params),
    }
    row = SweepRow(
        id=sweep_id,
        kind="sweep" if walk is None else "walkforward",
        status=RunStatus.QUEUED,
        strategy_id=checked.strategy_id,
        strategy_version=checked.strategy_version,
        strategy_name=inputs.strategy_class,
        code=inputs.code,
        code_hash=inputs.code_hash,
        dataset=submission.dataset,
        dataset_version=inputs.data.name,
        dataset_hash=inputs.data.content_hash,
        run_order=crud.json_safe(order),
        config=inputs.config.to_dict(),
        spec=stored_spec,
        study_name=study_name_of(sweep_id),
        trials_total=total,
        created_at=utc_now(),
    )
    return crud.create_sweep(session, sweep=row)


def stored_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Run options as JSON data (an enum option, such as `mode`, by its value)."""
    return {
        name: value.value if isinstance(value, Enum) else value for name, value in options.items()
    }


def options_of(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Run options read back from `stored_options`, each of its field's type again."""
    options: dict[str, Any] = {}
    for name, value in stored.items():
        kind = FIELDS_BY_NAME[name].kind if name in FIELDS_BY_NAME else None
        is_enum = isinstance(kind, type) and issubclass(kind, Enum)
        options[name] = kind(value) if is_enum and kind is not None else value
    return options


def trial_submission(
    sweep: SweepRow, params: dict[str, Any], *, is_strategy_kept: bool
) -> Submission:
    """The run request of one trial: the sweep's code (its saved strategy version when it
    named one and that is still kept, else the sweep's own copy of the code), dataset version,
    options and period, with the trial's params."""
    order = sweep.run_order
    choice = (
        CodeChoice(strategy_id=sweep.strategy_id, strategy_version=sweep.strategy_version)
        if sweep.strategy_id is not None and is_strategy_kept
        else CodeChoice(code=sweep.code)
    )
    return Submission(
        dataset=sweep.dataset_version or sweep.dataset,
        choice=choice,
        order=RunOrder(
            options=options_of(order.get("options", {})),
            start=order.get("start"),
            end=order.get("end"),
            params=params,
        ),
    )


def create_trial_run(
    session: Session, *, sweep_id: str, number: int, catalog: DatasetCatalog
) -> RunRow:
    """A queued run of trial `number` of the sweep, through the normal run submission (the
    caller commits, then submits it to the JobRunner)."""
    record = trial_run_record(session, sweep_id=sweep_id, number=number, catalog=catalog)
    return crud.create_run(session, run=record)


def trial_run_record(
    session: Session, *, sweep_id: str, number: int, catalog: DatasetCatalog
) -> RunRow:
    """The row of a queued run of trial `number` of the sweep, checked as every submission
    is, not stored."""
    sweep = crud.get_sweep(session, sweep_id=sweep_id)
    trial = crud.get_sweep_trial(session, sweep_id=sweep_id, number=number)
    is_kept = True
    if sweep.strategy_id is not None:
        try:
            crud.get_strategy_version(
                session, strategy_id=sweep.strategy_id, version=sweep.strategy_version
            )
        except RecordNotFoundError:  # deleted since: the sweep's copy is the same code
            is_kept = False
    submission = trial_submission(sweep, dict(trial.params), is_strategy_kept=is_kept)
    return checked_record(session, submission=submission, catalog=catalog)
