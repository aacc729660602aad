from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from service.bodies import Page, Pagination, pagination
from service.deps import BaseDep, SessionDep, SideDep, TeamDep
from service.jobs import retrain, service
from service.jobs.bodies import (
    JobCreate,
    JobPublic,
    RetrainCreate,
    RetrainItemPublic,
    RetrainPublic,
)
from service.jobs.repository import events

router = APIRouter(prefix="/v1", tags=["jobs"])

Name = Annotated[str, Path(max_length=128)]
JobId = Annotated[int, Path(ge=1, le=2**62)]


@router.post("/schemas/{name}/jobs", response_model=JobPublic, status_code=202)
def create_job(
    name: Name,
    session: SessionDep,
    team: TeamDep,
    body: JobCreate | None = None,
):
    """Queue a training job: synthesize, validate, fine-tune, evaluate, promote."""
    job, version = service.create_job(session, team=team, name=name, params=body or JobCreate())
    return JobPublic.of(job, name=name, version=version.version)


@router.get("/jobs/{id}", response_model=JobPublic)
def get_job(id: JobId, session: SessionDep, team: TeamDep):
    """A job's state, progress, loss, tokens/s, ETA, events and final metrics."""
    job, version, subject = service.get_job(session, team=team, id=id)
    return JobPublic.of(
        job, name=subject.name, version=version.version, events=events(session, job_id=job.id)
    )


@router.get("/schemas/{name}/jobs", response_model=Page[JobPublic])
def list_jobs(
    name: Name,
    session: SessionDep,
    team: TeamDep,
    page: Annotated[Pagination, Depends(pagination)],
    state: Annotated[str | None, Query(max_length=16)] = None,
):
    """A schema's jobs, newest first."""
    rows, total = service.list_jobs(
        session, team=team, name=name, state=state, offset=page.offset, limit=page.limit
    )
    return Page(data=[JobPublic.of(j, name=name, version=v.version) for j, v in rows], count=total)


@router.post("/jobs/{id}/cancel", response_model=JobPublic)
def cancel_job(id: JobId, session: SessionDep, team: TeamDep):
    """Cancel a job; a running one stops within seconds and keeps its last checkpoint."""
    job, version, subject = service.cancel_job(session, team=team, id=id)
    return JobPublic.of(
        job, name=subject.name, version=version.version, events=events(session, job_id=job.id)
    )


@router.post("/retrain", response_model=RetrainPublic)
def retrain_stale(
    session: SessionDep,
    team: TeamDep,
    base: BaseDep,
    side: SideDep,
    body: RetrainCreate | None = None,
):
    """Queue one training job per schema version whose active adapter was trained for another
    base model than the default (stale, or serving on a side base model), with the same data
    and options as its job; `dry_run` only lists them."""
    body = body or RetrainCreate()
    items = retrain.retrain_stale(
        session,
        team=team,
        base_fingerprint=base,
        dry_run=body.dry_run,
        name=body.name,
        side=side,
    )
    known = [i.estimated_s for i in items if i.estimated_s is not None]
    return RetrainPublic(
        dry_run=body.dry_run,
        base_fingerprint=base or "",
        data=[RetrainItemPublic.model_validate(i, from_attributes=True) for i in items],
        count=len(items),
        queued=sum(i.outcome == "queued" for i in items),
        estimated_s=round(sum(known), 1) if known else None,
    )
