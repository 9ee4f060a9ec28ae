"""A run's checkpoints in its run folder: written from what the sandbox accepted, the last K
kept, read back with their hash checked and their run named, for a run that resumes.

`<run folder>/checkpoints/` holds `checkpoint-<bar>.json` files and `run.json`, the run's plan
(its code, data file, config and limits: what `strategylab resume RUN_DIR` needs to start it
again). A checkpoint file is one header line, `strategylab-checkpoint 1 sha256=<hex>`, then the
canonical JSON (sorted keys, no spaces, UTF-8, no NaN) of a document naming the run by its
code, data and config hashes and holding the engine's plain checkpoint
(app.engine.checkpoint_document). Nothing in it is code: reading one can only give numbers
and text, checked field by field. The hash finds a damaged or edited file; a file whose hash
fits is still read by the same strict readers as a worker's message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from app.engine import RunConfig
from app.engine.checkpoint import Checkpoint
from app.engine.checkpoint_document import checkpoint_from_plain, checkpoint_to_plain
from app.engine.errors import CheckpointError
from app.runs.errors import CheckpointUnusable
from app.runs.prepare import RunInputs

logger = logging.getLogger(__name__)

CHECKPOINT_DIR: Final = "checkpoints"
PLAN_FILE: Final = "run.json"
FORMAT: Final = "strategylab-checkpoint"
VERSION: Final = 1
PLAN_FORMAT: Final = "strategylab-run-plan"
_HEADER: Final = re.compile(rf"{FORMAT} (\d+) sha256=([0-9a-f]{{64}})")
_NAME: Final = re.compile(r"checkpoint-(\d{12})\.json")


def canonical_bytes(document: Any) -> bytes:
    """`document` as canonical JSON: sorted keys, no spaces, UTF-8, no NaN or infinity."""
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """What a checkpoint belongs to: the run's code, data and config, by content hash."""

    code_sha256: str
    data_sha256: str
    config_sha256: str

    @classmethod
    def of(cls, inputs: RunInputs) -> RunIdentity:
        return cls(inputs.code_hash, inputs.data.content_hash, inputs.config.fingerprint())

    def to_dict(self) -> dict[str, str]:
        return {
            "code_sha256": self.code_sha256,
            "data_sha256": self.data_sha256,
            "config_sha256": self.config_sha256,
        }


class CheckpointStore:
    """The checkpoints of one run in `<run_dir>/checkpoints/`, `keep` of them at most."""

    def __init__(self, run_dir: Path, identity: RunIdentity, *, keep: int) -> None:
        self.folder = run_dir / CHECKPOINT_DIR
        self.identity = identity
        self.keep = keep

    @classmethod
    def for_run(cls, run_dir: Path, inputs: RunInputs) -> CheckpointStore:
        return cls(run_dir, RunIdentity.of(inputs), keep=inputs.config.keep_checkpoints)

    def files(self) -> list[Path]:
        """The checkpoint files present, oldest (lowest bar) first."""
        if not self.folder.is_dir():
            return []
        return sorted(path for path in self.folder.iterdir() if _NAME.fullmatch(path.name))

    def save(self, checkpoint: Checkpoint) -> Path:
        """Write `checkpoint` (atomically: a reader sees the old file or the whole new one),
        then remove all but the newest `keep`."""
        document = {
            "format": FORMAT,
            "version": VERSION,
            "run": self.identity.to_dict(),
            "checkpoint": checkpoint_to_plain(checkpoint),
        }
        body = canonical_bytes(document)
        header = f"{FORMAT} {VERSION} sha256={hashlib.sha256(body).hexdigest()}\n".encode()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"checkpoint-{checkpoint.bar:012d}.json"
        _write_atomically(path, header + body)
        for old in self.files()[: -self.keep]:
            old.unlink(missing_ok=True)
        logger.debug("checkpoint saved bar=%d path=%s", checkpoint.bar, path)
        return path

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint, checked (None when there is none yet). CheckpointUnusable
        when it is damaged, edited or another run's: never silently the one before it."""
        files = self.files()
        return self.load(files[-1]) if files else None

    def load(self, path: Path) -> Checkpoint:
        """The checkpoint in `path`; CheckpointUnusable saying what is wrong with it."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CheckpointUnusable(path, f"it cannot be read ({error.strerror})") from None
        header, _, body = data.partition(b"\n")
        match = _HEADER.fullmatch(header.decode("ascii", "replace"))
        if match is None:
            raise CheckpointUnusable(path, "it does not start with a checkpoint header")
        if int(match.group(1)) != VERSION:
            raise CheckpointUnusable(path, f"its format version {match.group(1)} is unknown")
        if hashlib.sha256(body).hexdigest() != match.group(2):
            raise CheckpointUnusable(
                path, "its sha256 does not match its contents (the file was damaged or edited)"
            )
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise CheckpointUnusable(path, "it is not valid JSON") from None
        return self._checked(path, document)

    def _checked(self, path: Path, document: Any) -> Checkpoint:
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CheckpointUnusable(path, "it is not a checkpoint document")
        if document.get("run") != self.identity.to_dict():
            raise CheckpointUnusable(
                path,
                "it belongs to another run (the strategy code, the data or the config "
                "differ from this run's)",
            )
        try:
            return checkpoint_from_plain(document.get("checkpoint"))
        except CheckpointError as error:
            raise CheckpointUnusable(path, str(error)) from None

    def clear(self) -> None:
        """Remove every checkpoint (a finished run needs none); the plan goes too."""
        remove_checkpoints(self.folder.parent)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_plan(run_dir: Path, plan: dict[str, Any]) -> Path:
    """Write the run's plan (`run.json`) beside its checkpoints."""
    folder = run_dir / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PLAN_FILE
    _write_atomically(path, canonical_bytes({"format": PLAN_FORMAT, **plan}) + b"\n")
    return path


def read_plan(run_dir: Path) -> dict[str, Any]:
    """The plan `write_plan` wrote in `run_dir`; CheckpointUnusable when there is none or it
    cannot be read."""
    path = run_dir / CHECKPOINT_DIR / PLAN_FILE
    if not path.is_file() and (run_dir / "provenance.json").is_file():
        raise CheckpointUnusable(
            path, f"the run finished (its files are in {run_dir}); there is nothing to resume"
        )
    if not path.is_file():
        raise CheckpointUnusable(
            path,
            "it does not exist: only a run started with --checkpoint-every and --out can be "
            "resumed",
        )
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CheckpointUnusable(path, f"it cannot be read ({error})") from None
    if not isinstance(plan, dict) or plan.get("format") != PLAN_FORMAT:
        raise CheckpointUnusable(path, "it is not a run plan")
    return plan


def is_checkpointed(config: RunConfig) -> bool:
    """True when the run takes checkpoints."""
    return config.checkpoint_every > 0


def has_checkpoint(run_dir: Path) -> bool:
    """True when `run_dir` holds a checkpoint file (checked only when it is used)."""
    folder = run_dir / CHECKPOINT_DIR
    return folder.is_dir() and any(_NAME.fullmatch(path.name) for path in folder.iterdir())


def remove_checkpoints(run_dir: Path) -> None:
    """Remove `run_dir`'s checkpoints and plan, if any (the rest of the folder stays)."""
    shutil.rmtree(run_dir / CHECKPOINT_DIR, ignore_errors=True)
