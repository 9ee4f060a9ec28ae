"""The API's door into the run service: a request becomes a stored, queued run.

Everything that can be checked before a worker starts is checked here (the source by the
sandbox's inspection, the dataset, the period, the config and the params), so a bad request
is refused with the field at fault instead of becoming a failed run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from app.data.catalog import DatasetCatalog, DatasetEntry
from app.data.errors import DataError, DatasetNotFoundError
from app.db import crud
from app.db.dataset_owners import is_dataset_visible, visible_datasets
from app.db.errors import RecordNotFoundError
from app.db.models import RunRow, RunStatus, utc_now
from app.engine import ConfigError
from app.runs.errors import InvalidRunRequestError
from app.runs.prepare import (
    STRATEGY_FILENAME,
    RunInputs,
    RunOrder,
    build_config,
    catalog_run_data,
    data_identity,
    inspect_strategy,
)
from app.runs.record import provenance


@dataclass(frozen=True, slots=True)
class CodeChoice:
    """Which code to run: `code` itself, or a saved strategy (its current or a given version)."""

    code: str | None = None
    strategy_id: int | None = None
    strategy_version: int | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    """A run request as the API received it (times UTC-aware)."""

    dataset: str
    choice: CodeChoice
    order: RunOrder = field(default_factory=RunOrder)


def queued_record(
    inputs: RunInputs,
    *,
    dataset: str,
    strategy_id: int | None,
    strategy_version: int | None,
) -> RunRow:
    """The database row of a run about to be queued (the caller stores and commits it)."""
    config = inputs.config
    return RunRow(
        id=uuid.uuid4().hex,
        status=RunStatus.QUEUED,
        strategy_id=strategy_id,
        strategy_version=strategy_version,
        strategy_name=inputs.strategy_class,
        code=inputs.code,
        code_hash=inputs.code_hash,
        params=config.param_dict,
        dataset=dataset,
        dataset_version=inputs.data.name,
        dataset_hash=inputs.data.content_hash,
        config=config.to_dict(),
        config_hash=config.fingerprint(),
        provenance=provenance(inputs, door="api", names={"dataset": inputs.data.name}),
        created_at=utc_now(),
    )


@dataclass(frozen=True, slots=True)
class CheckedSubmission:
    """A submission that passed every check: its inputs and the saved strategy it names."""

    inputs: RunInputs
    strategy_id: int | None
    strategy_version: int | None


def check_submission(
    session: Session, *, submission: Submission, catalog: DatasetCatalog
) -> CheckedSubmission:
    """Every check `create_run` makes (source, dataset, period, config, params), nothing
    stored: InvalidRunRequestError or StrategyRejected naming the field at fault. Sweeps
    check their base run with it (app.jobs.sweep_submission)."""
    code, strategy_id, strategy_version = _resolve_code(session, submission.choice)
    inspection = inspect_strategy(code, STRATEGY_FILENAME)
    entry = _visible_entry(session, catalog, submission.dataset, "dataset")
    _check_period(submission.order, entry)
    names = submission.order.more_datasets
    others = [_visible_entry(session, catalog, name, "more_datasets") for name in names]
    data = data_identity(entry)
    if others:  # a run over several symbols: their bars must line up before it is stored
        _, data = catalog_run_data(catalog, entry, others, submission.order.missing_bars)
    try:
        config = build_config(
            submission.order,
            inspection=inspection,
            symbol=entry.symbol,
            tiers=catalog.tiers,
            other_symbols=[other.symbol for other in others],
            other_datasets=[other.name for other in others],
        )
    except ConfigError as error:
        raise InvalidRunRequestError(error.field, error.message) from None
    inputs = RunInputs(code, STRATEGY_FILENAME, inspection, data, config)
    return CheckedSubmission(inputs, strategy_id, strategy_version)


def _visible_entry(
    session: Session, catalog: DatasetCatalog, name: str, field_name: str
) -> DatasetEntry:
    """The catalog dataset `name` the request's user may see; InvalidRunRequestError at
    `field_name` listing the available ones otherwise."""
    try:
        entry: DatasetEntry | None = catalog.resolve(name)
    except DatasetNotFoundError:
        entry = None
    except DataError as error:
        raise InvalidRunRequestError(field_name, str(error)) from None
    if entry is None or not is_dataset_visible(session, entry):  # another user's: not there
        names = ", ".join(e.name for e in visible_datasets(session, catalog.entries())) or "none"
        message = f"there is no dataset '{name}'; available: {names}"
        raise InvalidRunRequestError(field_name, message)
    return entry


def checked_record(session: Session, *, submission: Submission, catalog: DatasetCatalog) -> RunRow:
    """Check `submission` (everything `check_submission` checks) and return the queued run's
    row, not stored: the slow part of a submission, done before its user's quotas are
    checked and the row inserted (app.api.admission)."""
    checked = check_submission(session, submission=submission, catalog=catalog)
    return queued_record(
        checked.inputs,
        dataset=submission.dataset,
        strategy_id=checked.strategy_id,
        strategy_version=checked.strategy_version,
    )


def create_run(session: Session, *, submission: Submission, catalog: DatasetCatalog) -> RunRow:
    """Check `submission` and store it as a queued run (the caller commits, then queues it)."""
    record = checked_record(session, submission=submission, catalog=catalog)
    return crud.create_run(session, run=record)


def ns_of(moment: datetime | None) -> int | None:
    """A UTC-aware datetime as epoch ns (microsecond precision); None passes through."""
    if moment is None:
        return None
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def _check_period(order: RunOrder, entry: DatasetEntry) -> None:
    last = ns_of(entry.last_bar)
    first = ns_of(entry.first_bar)
    if order.start is not None and last is not None and order.start > last:
        message = (
            f"the period starts after the dataset's last bar ({entry.last_bar:%Y-%m-%d %H:%M})"
        )
        raise InvalidRunRequestError("start", message)
    if order.end is not None and first is not None and order.end < first:
        message = (
            f"the period ends before the dataset's first bar ({entry.first_bar:%Y-%m-%d %H:%M})"
        )
        raise InvalidRunRequestError("end", message)


def _resolve_code(session: Session, choice: CodeChoice) -> tuple[str, int | None, int | None]:
    if choice.strategy_id is None:
        return choice.code or "", None, None
    try:
        version = crud.get_strategy_version(
            session, strategy_id=choice.strategy_id, version=choice.strategy_version
        )
    except RecordNotFoundError as error:
        where = "strategy_version" if choice.strategy_version else "strategy_id"
        raise InvalidRunRequestError(where, str(error)) from None
    return version.code, version.strategy_id, version.version


def rerun_record(session: Session, *, run_id: str) -> RunRow:
    """The row of a new queued run with exactly the inputs of `run_id`, not stored."""
    source = crud.get_run(session, run_id=run_id)
    return RunRow(
        id=uuid.uuid4().hex,
        status=RunStatus.QUEUED,
        **{name: getattr(source, name) for name in RERUN_FIELDS},
        created_at=utc_now(),
    )


def rerun(session: Session, *, run_id: str) -> RunRow:
    """A new queued run with exactly the inputs of `run_id` (e.g. one a restart interrupted)."""
    return crud.create_run(session, run=rerun_record(session, run_id=run_id))


RERUN_FIELDS = (
    "strategy_id",
    "strategy_version",
    "strategy_name",
    "code",
    "code_hash",
    "params",
    "dataset",
    "dataset_version",
    "dataset_hash",
    "config",
    "config_hash",
    "provenance",
)
