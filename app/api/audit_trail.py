"""The request's audit trail: routes record what a user did (`AuditDep`) in one line each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from app.api.access import client_address
from app.api.deps import CurrentUserDep, OperatorEngineDep
from app.auth import Principal
from app.auth.audit import AuditAction, AuditOutcome, record_event
from app.db.session import session_scope


@dataclass(frozen=True, slots=True)
class Auditor:
    """Writes audit rows for one request's user and client address."""

    engine: Engine
    principal: Principal
    client: str

    def record_now(
        self,
        action: AuditAction,
        *,
        target: str = "",
        outcome: AuditOutcome = AuditOutcome.OK,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write one row in its own transaction (call from a thread, not the event loop)."""
        with session_scope(self.engine) as session:
            record_event(
                session,
                action=action,
                actor=self.principal.username,
                actor_id=self.principal.user_id,
                outcome=outcome,
                target=target,
                client=self.client,
                detail=detail,
            )

    async def record(
        self,
        action: AuditAction,
        *,
        target: str = "",
        outcome: AuditOutcome = AuditOutcome.OK,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """`record_now` off the event loop."""
        await run_in_threadpool(
            self.record_now, action, target=target, outcome=outcome, detail=detail
        )


def get_auditor(
    connection: HTTPConnection, user: CurrentUserDep, engine: OperatorEngineDep
) -> Auditor:
    return Auditor(engine=engine, principal=user, client=client_address(connection.scope))


AuditDep = Annotated[Auditor, Depends(get_auditor)]
