"""A sweep trial's job and its outcome as JSON: what a web node and a worker send each other.

A trial job names everything the worker needs to rebuild the trial's run without the
database: the strategy code, the dataset reference and the content hash its bytes must have,
the base RunConfig (its period, fees, limits...) and the trial's params. The outcome goes back
as JSON too: a TrialRun's figures keep Python's float text (repr), NaN and infinities
included, so a trial summarised on a worker is the same TrialRun, value for value, as one
summarised on the web node (both ends are Strategy Lab's own processes; what the sandboxed
strategy produced was checked by app.runs.execute before it was summarised).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from app.engine import ParamValue
from app.runs.trials import TrialFailed, TrialOutcome, TrialRun

OUTCOME_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class TrialJob:
    """One trial as a worker receives it.

    `key`: the trial's identity across restarts (`trial_key` of its study and number);
    `owner`: the queue key of the sweep's owner (its turn among the users); `code`, `dataset`
    (a catalog reference, version included), `dataset_hash` (the content hash the bytes must
    have; empty: not checked) and `config` (RunConfig.to_dict of the run every trial of the
    study varies) rebuild the base run; `params` are the trial's own.
    """

    key: str
    owner: str
    code: str
    dataset: str
    dataset_hash: str
    config: dict[str, Any]
    params: dict[str, ParamValue]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the RQ job's argument."""
        return {
            "key": self.key,
            "owner": self.owner,
            "code": self.code,
            "dataset": self.dataset,
            "dataset_hash": self.dataset_hash,
            "config": self.config,
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialJob:
        """The job of `to_dict`'s data (ValueError when a field is missing or mistyped)."""
        try:
            job = cls(
                key=str(data["key"]),
                owner=str(data["owner"]),
                code=str(data["code"]),
                dataset=str(data["dataset"]),
                dataset_hash=str(data["dataset_hash"]),
                config=dict(data["config"]),
                params=dict(data["params"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a trial job: {error}") from error
        return job

    @property
    def base_key(self) -> str:
        """What the trials of one study share (code, data, config): a worker keeps one trial
        runner, with its shared indicators, per base."""
        identity = json.dumps(
            [self.code, self.dataset, self.dataset_hash, self.config], sort_keys=True
        )
        return hashlib.sha256(identity.encode()).hexdigest()


def trial_key(study_name: str, number: int) -> str:
    """A trial's identity on Redis: its study's name and its number (a digest, so any study
    name makes a valid RQ job id)."""
    return hashlib.sha256(f"{study_name}\0{number}".encode()).hexdigest()[:40]


def encode_outcome(outcome: TrialOutcome) -> bytes:
    """A trial's outcome as JSON bytes (see the module docstring)."""
    if isinstance(outcome, TrialFailed):
        document: dict[str, Any] = {
            "version": OUTCOME_VERSION,
            "failed": True,
            "params": outcome.params,
            "reason": outcome.reason,
        }
    else:
        document = {
            "version": OUTCOME_VERSION,
            "failed": False,
            "params": outcome.params,
            "metrics": outcome.metrics,
            "daily_returns": [float(value) for value in outcome.daily_returns],
            "day_ends": [int(value) for value in outcome.day_ends],
            "trades": outcome.trades,
        }
    return json.dumps(document).encode()


def decode_outcome(raw: bytes | str) -> TrialOutcome:
    """The outcome `encode_outcome` wrote (ValueError for anything else)."""
    try:
        document = json.loads(raw)
        if document.get("version") != OUTCOME_VERSION:
            raise ValueError(f"unknown outcome version {document.get('version')!r}")
        params = dict(document["params"])
        if document["failed"]:
            return TrialFailed(params, str(document["reason"]))
        return TrialRun(
            params=params,
            metrics=dict(document["metrics"]),
            daily_returns=np.array(document["daily_returns"], dtype=np.float64),
            day_ends=np.array(document["day_ends"], dtype=np.int64),
            trades=int(document["trades"]),
        )
    except (KeyError, TypeError, AttributeError) as error:  # bad JSON is a ValueError already
        raise ValueError(f"not a trial outcome: {error}") from error
