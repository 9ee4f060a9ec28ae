"""Record a run: its provenance, its output folder, its database row.

Provenance is built from the RunInputs alone (never from the door), so the same strategy,
data and config give the same provenance whether the run came from the CLI, the API or a
direct call; only `source` says which door and which file names it used.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

from app.engine import RunConfig, RunResult
from app.engine.tiers import tiers_sha256
from app.runs.folder import write_run_folder
from app.runs.prepare import RunInputs
from app.settings import REPO_ROOT

PACKAGE: Final = "strategylab"
DOOR_FIELDS: Final = ("source",)
"""Provenance keys that name the door and its file names; every other key is door-free."""


def package_version() -> str:
    """The installed Strategy Lab version ('unknown' when it is not installed)."""
    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "unknown"


@functools.cache  # once per process: the code running is what was imported at its start
def git_commit() -> str | None:
    """The commit of the Strategy Lab checkout this code runs from, when it is one (asked
    of git once per process: a `git` subprocess per run submission cost the API tens of
    milliseconds each, seconds under load)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


def provenance(inputs: RunInputs, *, door: str, names: dict[str, str]) -> dict[str, Any]:
    """What the run depends on, enough to reproduce it: code, params, data, config, the
    software's version and commit; `source` records the door and its names (`names`)."""
    config = inputs.config
    return {
        "strategy": {"class": inputs.strategy_class, "code_sha256": inputs.code_hash},
        "params": config.param_dict,
        "data": {
            "content_hash": inputs.data.content_hash,
            "symbol": inputs.data.symbol,
            "bars": inputs.data.bars,
            **dict(inputs.data.companions),
            **other_symbols_provenance(inputs),
        },
        "config": config.to_dict(),
        "config_sha256": config.fingerprint(),
        "tiers": tier_provenance(config),
        "strategylab_version": package_version(),
        "git_commit": git_commit(),
        "source": {"door": door, **names},
    }


def other_symbols_provenance(inputs: RunInputs) -> dict[str, Any]:
    """A run over several symbols: every further symbol's dataset (content hash, bars) and
    tier table, and how the bar times were aligned; nothing for a run over one symbol."""
    data = inputs.data
    if not data.other_symbols:
        return {}
    tables = {table.symbol: table for table in inputs.config.symbol_tiers}
    return {
        "other_symbols": [
            {
                "symbol": other.symbol,
                "name": other.name,
                "content_hash": other.content_hash,
                "bars": other.bars,
                **dict(other.companions),
                "tiers": {
                    "table": tables[other.symbol].table,
                    "sha256": tiers_sha256(tables[other.symbol].tiers),
                    "brackets": len(tables[other.symbol].tiers),
                }
                if other.symbol in tables
                else tier_provenance(inputs.config),
            }
            for other in data.other_symbols
        ],
        "missing_bars": data.missing_bars,
        "bars_dropped": data.bars_dropped,
    }


def tier_provenance(config: RunConfig) -> dict[str, Any]:
    """Which maintenance-tier table the run used: its name and snapshot (`table`, with how it
    was chosen when a stand-in), and the sha256 of the brackets it computed with."""
    return {
        "table": config.tier_table,
        "sha256": tiers_sha256(config.margin_tiers),
        "brackets": len(config.margin_tiers),
    }


def door_free(document: dict[str, Any]) -> dict[str, Any]:
    """`document` without the keys that name the door (what must match across doors)."""
    return {key: value for key, value in document.items() if key not in DOOR_FIELDS}


def write_folder(result: RunResult, out_dir: Path, document: dict[str, Any]) -> list[Path]:
    """The run's output folder (trades.csv, orders.csv, ..., provenance.json) in `out_dir`."""
    return write_run_folder(result, out_dir, document)


def remove_run_folder(runs_dir: Path, run_id: str) -> bool:
    """Delete `<runs_dir>/<run_id>/` when it is a folder directly inside `runs_dir` (never a
    path an id could lead elsewhere); True when one was removed."""
    candidate = runs_dir / run_id
    folder = candidate.resolve()
    if candidate.is_symlink() or folder.parent != runs_dir.resolve() or not folder.is_dir():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True
