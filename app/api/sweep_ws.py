"""WS /ws/sweeps/{id}: a sweep's current state first, then its finished trials as they come,
then the outcome.

Messages (strict JSON): `progress` {status, trials_done, trials_total, trials_per_s, eta_s,
best} (best: the best trial so far, shaped like a `trial`), `trial` {number, params, metrics,
feasible, error, infeasible_reason, values} for each finished trial, `resync` {missed_trials}
when this viewer fell too far behind (read GET /api/sweeps/{id}/trials again), and last
`done` {best, statistics} or `error` {message, status}; the server then closes the socket. A
viewer joining a running sweep gets its progress, not the trials before it joined: read them
from GET /api/sweeps/{id}/trials after opening the socket (rows repeat by `number`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from app.api.deps import get_engine
from app.api.ws import NOT_FOUND_CLOSE_CODE, WAIT_FOR_QUEUE_S, send_message
from app.db import crud, session_scope
from app.db.errors import RecordNotFoundError
from app.jobs.sweep_progress import Message, SweepHub, SweepViewer
from app.jobs.sweeps import SWEEP_TERMINAL, final_message, progress_message

logger = logging.getLogger(__name__)
router = APIRouter()


@router.websocket("/ws/sweeps/{sweep_id}")
async def watch_sweep(websocket: WebSocket, sweep_id: str) -> None:
    """Stream one sweep's progress and trials to this viewer."""
    hub: SweepHub = websocket.app.state.sweep_hub
    engine = get_engine(websocket)  # confined to the viewer's own records (app.db.ownership)
    await websocket.accept()
    try:
        await run_in_threadpool(_check_visible, engine, sweep_id)  # 4404 if not theirs
        while (viewer := hub.subscribe(sweep_id)) is None:
            stored = await run_in_threadpool(_stored_messages, engine, sweep_id)
            if stored is not None:
                for message in stored:
                    await send_message(websocket, message)
                await websocket.close()
                return
            await asyncio.sleep(WAIT_FOR_QUEUE_S)  # queued but not handed to the hub yet
    except RecordNotFoundError as error:
        await send_message(websocket, {"type": "error", "message": str(error), "status": None})
        await websocket.close(code=NOT_FOUND_CLOSE_CODE)
        return
    except WebSocketDisconnect:
        return
    try:
        await _stream(websocket, viewer)
    except WebSocketDisconnect:
        logger.debug("viewer left sweep_id=%s", sweep_id)
    finally:
        hub.unsubscribe(sweep_id, viewer)


async def _stream(websocket: WebSocket, viewer: SweepViewer) -> None:
    disconnected = asyncio.ensure_future(websocket.receive())
    try:
        while True:
            waker = asyncio.ensure_future(viewer.wake.wait())
            done, _ = await asyncio.wait({waker, disconnected}, return_when=asyncio.FIRST_COMPLETED)
            if waker not in done:
                waker.cancel()
                return
            was_ended = viewer.is_ended
            for message in viewer.take():
                await send_message(websocket, message)
            if was_ended:
                await websocket.close()
                return
    finally:
        disconnected.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await disconnected


def _check_visible(engine: Engine, sweep_id: str) -> None:
    """RecordNotFoundError unless the viewer may see the sweep (before any live message)."""
    with session_scope(engine) as session:
        crud.get_sweep(session, sweep_id=sweep_id)


def _stored_messages(engine: Engine, sweep_id: str) -> list[Message] | None:
    """A finished sweep's progress and outcome; None while it is queued or running."""
    with session_scope(engine) as session:
        sweep = crud.get_sweep(session, sweep_id=sweep_id)
        if sweep.status not in SWEEP_TERMINAL:
            return None
        return [progress_message(sweep), final_message(sweep)]
