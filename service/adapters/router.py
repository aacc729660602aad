from typing import Annotated

from fastapi import APIRouter, Depends, Path

from service.adapters import service
from service.adapters.bodies import AdapterPublic
from service.bodies import Page, Pagination, pagination
from service.deps import BaseDep, SessionDep, SideDep, TeamDep

router = APIRouter(prefix="/v1", tags=["adapters"])

AdapterId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/schemas/{name}/adapters", response_model=Page[AdapterPublic])
def list_adapters(
    name: Annotated[str, Path(max_length=128)],
    session: SessionDep,
    team: TeamDep,
    page: Annotated[Pagination, Depends(pagination)],
    base: BaseDep,
    side: SideDep,
):
    """A schema's adapters, newest first, with their evaluation and which one is active."""
    rows, total = service.list_adapters(
        session, team=team, name=name, offset=page.offset, limit=page.limit
    )
    data = [
        AdapterPublic.of(a, name=name, version=v.version, base_fingerprint=base, side=side)
        for a, v in rows
    ]
    return Page(data=data, count=total)


@router.get("/adapters/{id}", response_model=AdapterPublic)
def get_adapter(id: AdapterId, session: SessionDep, team: TeamDep, base: BaseDep, side: SideDep):
    """One adapter."""
    adapter, version, subject = service.get_adapter(session, team=team, id=id)
    return AdapterPublic.of(
        adapter, name=subject.name, version=version.version, base_fingerprint=base, side=side
    )


@router.post("/adapters/{id}/promote", response_model=AdapterPublic)
def promote(id: AdapterId, session: SessionDep, team: TeamDep, base: BaseDep, side: SideDep):
    """Make this adapter the one its schema version serves with."""
    adapter, version, subject = service.promote(session, team=team, id=id)
    return AdapterPublic.of(
        adapter, name=subject.name, version=version.version, base_fingerprint=base, side=side
    )


@router.post("/adapters/{id}/rollback", response_model=AdapterPublic)
def rollback(id: AdapterId, session: SessionDep, team: TeamDep, base: BaseDep, side: SideDep):
    """Stop serving this adapter; the one it replaced (or the base model) serves again."""
    adapter, version, subject = service.rollback(session, team=team, id=id)
    return AdapterPublic.of(
        adapter, name=subject.name, version=version.version, base_fingerprint=base, side=side
    )
