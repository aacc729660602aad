from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from service.bodies import Id, Page, Pagination, pagination
from service.deps import SessionDep, TeamDep
from service.evaluations import service
from service.evaluations.bodies import EvaluationCreate, EvaluationPublic

router = APIRouter(prefix="/v1", tags=["evaluations"])

Name = Annotated[str, Path(max_length=128)]


@router.post("/schemas/{name}/evaluations", response_model=EvaluationPublic, status_code=201)
def run_evaluation(
    name: Name,
    request: Request,
    session: SessionDep,
    team: TeamDep,
    body: EvaluationCreate | None = None,
):
    """Score the active adapter (and optionally the base model) on the pinned eval set or on
    accepted traffic since a date, without training; kept, with a drift warning past the
    team's margin."""
    body = body or EvaluationCreate()
    run, version = service.run_evaluation(
        session,
        runtime=request.app.state.inference.runtime,
        team=team,
        name=name,
        version=body.version,
        eval_set=body.set_,
        since=body.since,
        include_base=body.base,
    )
    return EvaluationPublic.of(run, name=name, version=version.version)


@router.get("/schemas/{name}/evaluations", response_model=Page[EvaluationPublic])
def list_evaluations(
    name: Name,
    session: SessionDep,
    team: TeamDep,
    page: Annotated[Pagination, Depends(pagination)],
    version: Id | None = None,
):
    """A schema's evaluation runs, newest first: its figures over time."""
    rows, total = service.list_evaluations(
        session, team=team, name=name, version=version, offset=page.offset, limit=page.limit
    )
    data = [EvaluationPublic.of(e, name=name, version=v.version) for e, v in rows]
    return Page(data=data, count=total)
