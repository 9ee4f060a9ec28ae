"""Who owns which stored dataset, and which datasets a viewer may use.

A stored dataset is known by `SYMBOL/TIMEFRAME` (all its versions share an owner). A user who
imports one through the server claims it (`claim_dataset`); it is then theirs alone (admins see
all). Samples, and stored datasets nobody claimed (imported by the operator with `strategylab
data import`), are shared read-only: every user may run on them, no user may change them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlmodel import Session, col, select

from app.db.accounts import DatasetOwnerRecord
from app.db.models import utc_now
from app.db.ownership import every_owner, scope_of


class DatasetLike(Protocol):
    """What is needed of a catalog entry: its source ("sample" or "store") and symbol/tf."""

    @property
    def source(self) -> str: ...

    @property
    def symbol(self) -> str: ...

    @property
    def timeframe(self) -> str: ...


def dataset_key(entry: DatasetLike) -> str | None:
    """`SYMBOL/TIMEFRAME` of a stored dataset; None for a sample (never owned)."""
    return None if entry.source == "sample" else f"{entry.symbol}/{entry.timeframe}"


def claim_dataset(session: Session, *, key: str, owner_id: int) -> bool:
    """Make `owner_id` the owner of the stored dataset `key` unless it has one; True if so."""
    found = session.exec(
        select(DatasetOwnerRecord).where(col(DatasetOwnerRecord.name) == key),
        execution_options=every_owner(),
    ).first()
    if found is not None:
        return found.owner_id == owner_id
    session.add(DatasetOwnerRecord(name=key, owner_id=owner_id, created_at=utc_now()))
    session.flush()
    return True


def is_dataset_visible(session: Session, entry: DatasetLike) -> bool:
    """True when the session's viewer may use `entry` (shared, theirs, or they are admin)."""
    key = dataset_key(entry)
    scope = scope_of(session)
    if key is None or scope is None or scope.sees_all:
        return True
    owner = session.exec(
        select(DatasetOwnerRecord.owner_id).where(col(DatasetOwnerRecord.name) == key),
        execution_options=every_owner(),
    ).first()
    return owner is None or owner == scope.user_id


def visible_datasets[Entry: DatasetLike](session: Session, entries: Iterable[Entry]) -> list[Entry]:
    """The entries the session's viewer may use, in their order."""
    listed = list(entries)
    scope = scope_of(session)
    if scope is None or scope.sees_all:
        return listed
    owners = dict(
        session.exec(
            select(DatasetOwnerRecord.name, DatasetOwnerRecord.owner_id),
            execution_options=every_owner(),
        ).all()
    )
    return [
        entry
        for entry in listed
        if (key := dataset_key(entry)) is None or owners.get(key, scope.user_id) == scope.user_id
    ]
