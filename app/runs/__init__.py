"""The one run service: prepare (inspect the source, resolve the data, build the config),
execute (the sandbox), record (folder, database row, provenance). Every door calls it.

The API's door, `app.runs.submission` (stored strategies, queued database rows), is imported
from there and not re-exported here, so `strategylab run`, which never touches the database,
does not load SQLAlchemy.
"""

from app.runs.errors import InvalidRunRequestError, StrategyLoadError
from app.runs.execute import execute
from app.runs.prepare import (
    DataIdentity,
    PreparedRun,
    RunInputs,
    RunOrder,
    build_config,
    inspect_strategy,
    operator_maximums,
    with_params,
)
from app.runs.record import door_free, git_commit, package_version, provenance
from app.runs.service import RunOutcome, RunService
from app.runs.trials import TrialFailed, TrialOutcome, TrialRun, TrialRunner

__all__ = [
    "DataIdentity",
    "InvalidRunRequestError",
    "PreparedRun",
    "RunInputs",
    "RunOrder",
    "RunOutcome",
    "RunService",
    "StrategyLoadError",
    "TrialFailed",
    "TrialOutcome",
    "TrialRun",
    "TrialRunner",
    "build_config",
    "door_free",
    "execute",
    "git_commit",
    "inspect_strategy",
    "operator_maximums",
    "package_version",
    "provenance",
    "with_params",
]
