"""Whose turn a run takes in the queue: the owner of a stored run, as a queue key."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import select

from app.db import RunRow, session_scope
from app.jobs.queue import LOCAL_OWNER, OwnerOf


def owner_key(owner_id: int | None) -> str:
    """The queue key of a user id; runs with no owner share the local user's turns."""
    return LOCAL_OWNER if owner_id is None else f"u{owner_id}"


def run_owner(engine: Engine) -> OwnerOf:
    """A lookup of a run's owner key in the database (unknown runs count as the local user)."""

    def owner_of(run_id: str) -> str:
        with session_scope(engine) as session:
            owner_id = session.exec(select(RunRow.owner_id).where(RunRow.id == run_id)).first()
        return owner_key(owner_id)

    return owner_of
