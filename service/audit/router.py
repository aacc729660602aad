from typing import Annotated

from fastapi import APIRouter, Depends

from service.audit import service
from service.audit.bodies import AuditEventPublic
from service.bodies import Page, Pagination, pagination
from service.deps import SessionDep, TeamDep

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit", response_model=Page[AuditEventPublic])
def list_audit(
    session: SessionDep, team: TeamDep, page: Annotated[Pagination, Depends(pagination)]
):
    """Every change made to the team's objects: who (key prefix), what, where; newest first."""
    rows, total = service.list_events(session, team=team, offset=page.offset, limit=page.limit)
    return Page(data=[AuditEventPublic.of(e) for e in rows], count=total)
