"""A running run's progress: engine Progress reports turned into live messages with speed
and ETA, and the run's progress row saved once a second by its current attempt."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Final

from sqlalchemy import Engine

from app.db import crud
from app.db.session import session_scope
from app.engine import LogLine, Progress, ns_to_iso
from app.jobs.errors import AttemptReplacedError, RunStorageError
from app.jobs.progress import Message

PROGRESS_SAVE_INTERVAL_S: Final = 1.0


def log_message(line: LogLine) -> Message:
    """A strategy log line as a websocket message."""
    return {
        "type": "log",
        "time": ns_to_iso(line.time),
        "bar_index": line.bar_index,
        "level": line.level.value,
        "message": line.message,
    }


def _stage(progress: Progress) -> str:
    """The stage a report shows: after the last bar the parent stores the results."""
    is_last = progress.stage == "running" and progress.bars_done >= progress.bars_total
    return "storing" if is_last else progress.stage


class ProgressTracker:
    """Turns engine Progress into websocket messages, with speed and ETA; saves it each second."""

    def __init__(
        self,
        run_id: str,
        engine: Engine,
        publish: Callable[[str, Message], None],
        publish_logs: Callable[[str, list[Message]], None],
        attempt: int | None = None,
    ) -> None:
        self._run_id = run_id
        self._attempt = attempt
        self._engine = engine
        self._publish = publish
        self._publish_logs = publish_logs
        self._started = time.monotonic()
        self._last_saved = 0.0

    def update(self, progress: Progress) -> None:
        if progress.logs:
            self._publish_logs(self._run_id, [log_message(line) for line in progress.logs])
        now = time.monotonic()
        if progress.stage == "indicators":
            self._started = now  # bars/s counts from here, not the sandbox's start-up
        elapsed = max(now - self._started, 1e-9)
        rate = progress.bars_done / elapsed
        left = progress.bars_total - progress.bars_done
        pct = 100.0 * progress.bars_done / progress.bars_total if progress.bars_total else 100.0
        message: Message = {
            "type": "progress",
            "pct": round(pct, 2),
            "bars_done": progress.bars_done,
            "bars_total": progress.bars_total,
            "bars_per_s": round(rate, 1),
            "eta_s": round(left / rate, 2) if rate > 0 else None,
            "equity": progress.equity if math.isfinite(progress.equity) else None,
            "time": progress.time // 1_000_000_000,
            "stage": _stage(progress),
        }
        if progress.stage == "indicators":  # "Computing indicators k / n"
            message["indicators_done"] = progress.indicators_done
            message["indicators_total"] = progress.indicators_total
        self._publish(self._run_id, message)
        if now - self._last_saved >= PROGRESS_SAVE_INTERVAL_S:
            self._last_saved = now
            try:
                with session_scope(self._engine) as session:
                    is_saved = crud.set_run_progress(
                        session,
                        run_id=self._run_id,
                        bars_done=progress.bars_done,
                        bars_total=progress.bars_total,
                        attempt=self._attempt,
                    )
                    is_replaced = (
                        not is_saved
                        and self._attempt is not None
                        and crud.is_attempt_replaced(
                            session, run_id=self._run_id, attempt=self._attempt
                        )
                    )
                    current = (
                        crud.run_attempt(session, run_id=self._run_id) if is_replaced else None
                    )
            except Exception as error:  # stops the run (raised through the sandbox's callback)
                raise RunStorageError("saving its progress", error) from error
            if is_replaced and self._attempt is not None:
                raise AttemptReplacedError(self._run_id, self._attempt, current)  # stops this one
