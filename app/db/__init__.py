"""Persistence: sqlmodel records, engines and sessions, crud functions and alembic migrations."""

from app.db.errors import RecordNotFoundError
from app.db.models import RunRow, RunStatus, StrategyRecord, StrategyVersionRecord
from app.db.session import make_engine, migrate, session_scope

__all__ = [
    "RecordNotFoundError",
    "RunRow",
    "RunStatus",
    "StrategyRecord",
    "StrategyVersionRecord",
    "make_engine",
    "migrate",
    "session_scope",
]
