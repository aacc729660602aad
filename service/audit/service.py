"""The audit log: who (key prefix, or `cli`) changed what, on which resource, and when."""

from typing import Any

from sqlmodel import Session, col, func, select
from starlette.requests import Request

from service.models import AuditEvent, Team

# POSTs that change nothing stored by the caller: answering, and checking without registering.
NOT_CHANGES = frozenset({"generate", "chat_completions", "check_compatibility"})
CHANGE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def record(
    session: Session,
    *,
    team: Team,
    actor: str,
    action: str,
    resource: str,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            team_id=team.id, actor=actor, action=action, resource=resource[:512], detail=detail
        )
    )
    session.flush()


def record_request(session: Session, request: Request) -> None:
    """Audit a request that succeeded, when it changed something a team owns."""
    team = getattr(request.state, "team", None)
    route = request.scope.get("route")
    action = getattr(route, "name", None)
    if team is None or request.method not in CHANGE_METHODS or action in NOT_CHANGES:
        return
    record(
        session,
        team=team,
        actor=request.state.actor,
        action=action or request.method.lower(),
        resource=request.url.path,
        detail={"method": request.method, "query": dict(request.query_params)},
    )


def list_events(
    session: Session, *, team: Team, offset: int, limit: int
) -> tuple[list[AuditEvent], int]:
    """The team's audit events, newest first."""
    where = AuditEvent.team_id == team.id
    total = session.exec(select(func.count()).select_from(AuditEvent).where(where)).one()
    rows = session.exec(
        select(AuditEvent)
        .where(where)
        .order_by(col(AuditEvent.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total
