"""WS /ws/runs/{id}: a run's current state first, then its live stream, then the outcome.

Messages (JSON): `progress` {stage, pct, bars_done, bars_total, bars_per_s, eta_s, equity,
time; while stage is "indicators" also indicators_done and indicators_total}, `equity`
{points: [[time_s, equity], ...]} (appended to what came before), `log` {time, bar_index,
level, message}, `skipped` {lines} (log lines a slow viewer was not sent; the run's stored log
has them), and last `done` {metrics} or `error` {message, line, status}; the server closes
the socket after the last message. Messages are strict JSON (a non-finite
number is sent as null). The handshake's Origin is checked before this module sees it
(`app.api.origins`): a page of another site cannot open the socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TypedDict

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from app import strict_json
from app.api.deps import get_engine
from app.db import RunStatus, crud, session_scope
from app.db.errors import RecordNotFoundError
from app.db.models import LogRecord
from app.engine import ns_to_iso
from app.jobs import TERMINAL, ProgressHub
from app.jobs.progress import MAX_EQUITY_POINTS, Message, Viewer
from app.jobs.runner import error_message

logger = logging.getLogger(__name__)
router = APIRouter()
NOT_FOUND_CLOSE_CODE = 4404
FINISHED_LOG_LINES = 200  # the last lines of a finished run, from the database
WAIT_FOR_QUEUE_S = 0.1
# uvicorn's websocket keepalive (ws_ping_interval / ws_ping_timeout) is off for this app.
# A ping is queued behind everything already written to that viewer, so a pong deadline
# measures how far behind a reader is, not whether it is there: it closed (1011) viewers that
# were alive but slower than their stream. And any ping still makes a slow viewer write after
# the server's last message: uvicorn drops the TCP connection 10 s after its close frame, so a
# viewer more than 10 s behind then answers an old ping, the kernel answers that with a reset,
# and the reset discards everything the viewer had not read yet, the outcome included
# ("Connection lost" after 100 %). Without pings a viewer sends nothing but its close reply, which
# comes after it has read the last message. A vanished viewer costs a bounded Viewer until TCP
# gives up on its unacknowledged data or the run ends.
KEEPALIVE_PING_INTERVAL_S: float | None = None
KEEPALIVE_PING_TIMEOUT_S: float | None = None


class KeepaliveOptions(TypedDict):
    """uvicorn.run's websocket keepalive keywords."""

    ws_ping_interval: float | None
    ws_ping_timeout: float | None


def websocket_keepalive() -> KeepaliveOptions:
    """uvicorn's websocket keepalive options for this app (pass them to `uvicorn.run`)."""
    return {
        "ws_ping_interval": KEEPALIVE_PING_INTERVAL_S,
        "ws_ping_timeout": KEEPALIVE_PING_TIMEOUT_S,
    }


async def send_message(websocket: WebSocket, message: object) -> None:
    """Send one message as strict JSON in valid UTF-8 (Starlette's send_json would write
    Infinity/NaN, and a lone surrogate would fail to encode)."""
    text = strict_json.dumps_text(message, separators=(",", ":"))
    await websocket.send_text(text)


@router.websocket("/ws/runs/{run_id}")
async def watch_run(websocket: WebSocket, run_id: str) -> None:
    """Stream one run's progress to this viewer."""
    hub: ProgressHub = websocket.app.state.hub
    engine = get_engine(websocket)  # confined to the viewer's own records (app.db.ownership)
    await websocket.accept()
    try:
        await run_in_threadpool(_check_visible, engine, run_id)  # 4404 if not theirs
        while (subscribed := hub.subscribe(run_id)) is None:
            stored = await run_in_threadpool(_stored_messages, engine, run_id)
            if stored is not None:
                for message in stored:
                    await send_message(websocket, message)
                await websocket.close()
                return
            await asyncio.sleep(WAIT_FOR_QUEUE_S)  # queued but not handed to the hub yet
    except RecordNotFoundError as error:
        await send_message(websocket, {"type": "error", "message": str(error), "line": None})
        await websocket.close(code=NOT_FOUND_CLOSE_CODE)
        return
    except WebSocketDisconnect:
        return
    await stream_live(websocket, hub, run_id, subscribed)


async def stream_live(
    websocket: WebSocket,
    hub: ProgressHub,
    run_id: str,
    subscribed: tuple[list[Message], Viewer],
) -> None:
    """Send a live run's snapshot, stream and outcome to an accepted websocket, close it
    (or stop when the viewer leaves), and stop following the run for it."""
    snapshot, viewer = subscribed
    try:
        await _stream(websocket, snapshot, viewer)
    except WebSocketDisconnect:
        logger.debug("viewer left run_id=%s", run_id)
    finally:
        hub.unsubscribe(run_id, viewer)


async def _stream(websocket: WebSocket, snapshot: list[Message], viewer: Viewer) -> None:
    """The snapshot, then whatever the viewer has pending each time it wakes. Sending to a slow
    reader waits for its socket; meanwhile the viewer coalesces to the latest state, so the
    reader gets fewer, fresher messages and is never dropped."""
    for message in snapshot:
        await send_message(websocket, message)
    disconnected = asyncio.ensure_future(websocket.receive())
    try:
        while True:
            is_last = viewer.is_ended
            for message in viewer.take():
                await send_message(websocket, message)
            if is_last:
                await websocket.close()
                return
            woken = asyncio.ensure_future(viewer.wake.wait())
            done, _ = await asyncio.wait({woken, disconnected}, return_when=asyncio.FIRST_COMPLETED)
            if woken not in done:
                woken.cancel()
                return
    finally:
        disconnected.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await disconnected


def _check_visible(engine: Engine, run_id: str) -> None:
    """RecordNotFoundError unless the viewer may see the run (before any live message)."""
    with session_scope(engine) as session:
        crud.get_run(session, run_id=run_id)


def _stored_messages(engine: Engine, run_id: str) -> list[Message] | None:
    """A finished run's whole story from the database; None while it is still queued/running."""
    with session_scope(engine) as session:
        run = crud.get_run(session, run_id=run_id)
        if run.status not in TERMINAL:
            return None
        messages: list[Message] = [
            {
                "type": "progress",
                "pct": run.pct,
                "bars_done": run.bars_done,
                "bars_total": run.bars_total,
                "bars_per_s": 0.0,
                "eta_s": 0.0,
                "equity": None,
                "time": None,
            }
        ]
        curve = crud.get_equity(session, run_id=run_id)
        if curve is not None and len(curve.time):
            picks = np.unique(
                np.linspace(0, len(curve.time) - 1, min(len(curve.time), MAX_EQUITY_POINTS))
                .round()
                .astype(int)
            )
            points = [[int(curve.time[i] // 1_000_000_000), float(curve.equity[i])] for i in picks]
            messages[0]["equity"] = points[-1][1]
            messages[0]["time"] = points[-1][0]
            messages.append({"type": "equity", "points": points})
        total = crud.count_children(session, model=LogRecord, run_id=run_id)
        lines = crud.list_logs(
            session,
            run_id=run_id,
            limit=FINISHED_LOG_LINES,
            offset=max(0, total - FINISHED_LOG_LINES),
        )
        messages += [
            {
                "type": "log",
                "time": ns_to_iso(line.time),
                "bar_index": line.bar_index,
                "level": line.level,
                "message": line.message,
            }
            for line in lines
        ]
        if run.status is RunStatus.DONE:
            messages.append({"type": "done", "metrics": run.metrics, "status": run.status.value})
        else:
            messages.append(error_message(run.error or {}, run.status))
        return messages
