"""Persistence: sqlmodel records, engines and sessions, crud functions and alembic migrations."""

from app.db.accounts import (
    ApiTokenRecord,
    AuditRecord,
    DatasetOwnerRecord,
    UserRecord,
    UserSessionRecord,
)
from app.db.errors import RecordNotFoundError
from app.db.models import RunRow, RunStatus, StrategyRecord, StrategyVersionRecord
from app.db.quota_records import UserQuotaRecord
from app.db.session import make_engine, migrate, session_scope

__all__ = [
    "ApiTokenRecord",
    "AuditRecord",
    "DatasetOwnerRecord",
    "RecordNotFoundError",
    "RunRow",
    "RunStatus",
    "StrategyRecord",
    "StrategyVersionRecord",
    "UserQuotaRecord",
    "UserRecord",
    "UserSessionRecord",
    "make_engine",
    "migrate",
    "session_scope",
]
