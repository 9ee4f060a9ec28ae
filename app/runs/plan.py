"""A CLI run's plan: what `strategylab resume RUN_DIR` needs to start the same run again (its
code, its data file and the file's content hash, the config, the sandbox limits, the names
its provenance records), and the PreparedRun rebuilt from it.

The plan keeps the strategy's source itself (the file may have been edited since) and the
data file's path with its content hash: the data is read again and refused when it changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.engine import ConfigError, RunConfig
from app.runs.errors import CheckpointUnusable, InvalidRunRequestError
from app.runs.prepare import PreparedRun, RunInputs, inspect_strategy, load_data_file
from sandbox import OperatorMaximums, RunLimits

PLAN_KEYS = ("code", "filename", "data_path", "symbol", "columns", "content_hash", "config")


def file_plan(
    prepared: PreparedRun,
    data_path: Path,
    names: Mapping[str, str],
    columns: Mapping[str, str],
) -> dict[str, Any]:
    """The plan of a file run (`RunService.run_file`) about to start; `columns` is the data
    file's column map."""
    inputs = prepared.inputs
    return {
        "code": inputs.code,
        "filename": inputs.filename,
        "data_path": str(data_path.resolve()),
        "symbol": inputs.data.symbol,
        "columns": dict(columns),
        "content_hash": inputs.data.content_hash,
        "config": inputs.config.to_dict(),
        "limits": dataclasses.asdict(prepared.limits),
        "names": dict(names),
    }


def prepared_from_plan(
    plan: Mapping[str, Any], maximums: OperatorMaximums
) -> tuple[PreparedRun, dict[str, str]]:
    """The PreparedRun a plan describes and its provenance names; CheckpointUnusable for a
    plan that is not whole, InvalidRunRequestError("data") when the data file changed."""
    missing = [key for key in (*PLAN_KEYS, "limits", "names") if key not in plan]
    if missing:
        raise CheckpointUnusable(Path("run.json"), f"the run plan lacks {', '.join(missing)}")
    try:
        config = RunConfig.from_dict(plan["config"])
        limits = RunLimits(**plan["limits"])
        names = {str(key): str(value) for key, value in dict(plan["names"]).items()}
        columns = {str(key): str(value) for key, value in dict(plan["columns"]).items()}
    except (ConfigError, TypeError, ValueError) as error:
        raise CheckpointUnusable(Path("run.json"), f"the run plan is unusable: {error}") from None
    data_path = Path(str(plan["data_path"]))
    market, data = load_data_file(data_path, symbol=str(plan["symbol"]), column_map=columns)
    if data.content_hash != plan["content_hash"]:
        raise InvalidRunRequestError(
            "data",
            f"{data_path} changed since the run started (its content hash differs); a run "
            "resumes only on the data it started with",
        )
    code, filename = str(plan["code"]), str(plan["filename"])
    inputs = RunInputs(code, filename, inspect_strategy(code, filename), data, config)
    return PreparedRun(inputs, market, limits, maximums), names
