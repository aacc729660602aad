"""Job rules: one active job per schema version, a team quota, cancel, events."""

from typing import Any

from sqlmodel import Session, func, select

from service.errors import Conflict, FormwrightError, NotFound, Unprocessable
from service.jobs import repository
from service.jobs.schemas import JobCreate
from service.models import (
    FINAL_STATES,
    Example,
    Job,
    JobEvent,
    SchemaVersion,
    Subject,
    Team,
    utcnow,
)
from service.registry import repository as registry_repository
from service.registry.service import resolve_version

MIN_LABELED_EXAMPLES = 4


def add_event(
    session: Session, *, job: Job, kind: str, message: str, data: dict[str, Any] | None = None
) -> JobEvent:
    event = JobEvent(job_id=job.id, kind=kind, message=message, data=data)
    session.add(event)
    return event


def create_job(
    session: Session, *, team: Team, name: str, params: JobCreate
) -> tuple[Job, SchemaVersion]:
    """Queue a training job; the caller enqueues it after the commit."""
    version, subject = resolve_version(session, team=team, name=name, version=params.version)
    # Serializes job creation per subject (a no-op lock on SQLite, whose writers queue anyway).
    registry_repository.get_subject(session, team_id=team.id, name=subject.name, for_update=True)
    active = repository.active_for_version(session, schema_version_id=version.id)
    if active is not None:
        raise Conflict(
            f"Job {active.id} is already {active.state} for '{name}' version {version.version}.",
            code="job_in_progress",
        )
    running = repository.count_active_for_team(session, team_id=team.id)
    if running >= team.max_concurrent_jobs:
        raise FormwrightError(
            f"Your team already has {running} active jobs (the quota is "
            f"{team.max_concurrent_jobs}); wait for one to finish or cancel one.",
            status_code=429,
            code="job_quota_exceeded",
        )
    labeled = session.exec(
        select(func.count()).where(
            Example.schema_version_id == version.id,
            Example.labeled == True,  # noqa: E712
        )
    ).one()
    if labeled < MIN_LABELED_EXAMPLES and params.synthesis.teacher is None:
        raise Unprocessable(
            f"Training needs at least {MIN_LABELED_EXAMPLES} labeled examples for version "
            f"{version.version}; it has {labeled}.",
            code="not_enough_examples",
        )
    job = Job(
        team_id=team.id,
        schema_version_id=version.id,
        params=params.model_dump(exclude_none=True),
    )
    session.add(job)
    session.flush()
    add_event(session, job=job, kind="queued", message=f"queued with {labeled} labeled examples")
    session.flush()
    return job, version


def get_job(session: Session, *, team: Team, id: int) -> tuple[Job, SchemaVersion, Subject]:
    found = repository.get_with_subject(session, team_id=team.id, id=id)
    if found is None:
        raise NotFound(f"No job {id}.", code="job_not_found")
    return found


def list_jobs(
    session: Session, *, team: Team, name: str, state: str | None, offset: int, limit: int
) -> tuple[list[tuple[Job, SchemaVersion]], int]:
    subject = registry_repository.get_subject(session, team_id=team.id, name=name)
    if subject is None or subject.last_version == 0:
        raise NotFound(f"Schema '{name}' not found.", code="schema_not_found")
    return repository.list_for_subject(
        session, subject_id=subject.id, state=state, offset=offset, limit=limit
    )


def cancel_job(session: Session, *, team: Team, id: int) -> tuple[Job, SchemaVersion, Subject]:
    """Cancel is final: a queued job ends now, a running one at its next step."""
    found = repository.get_with_subject(session, team_id=team.id, id=id, for_update=True)
    if found is None:
        raise NotFound(f"No job {id}.", code="job_not_found")
    job = found[0]
    if job.state in FINAL_STATES:
        raise Conflict(f"Job {id} already {job.state}.", code="job_finished")
    job.cancel_requested = True
    if job.lease_owner is None or job.lease_expires_at is None or job.lease_expires_at < utcnow():
        finish(session, job=job, state="cancelled", message="cancelled before it ran")
    else:
        add_event(session, job=job, kind="cancel_requested", message="cancel requested")
    session.add(job)
    session.flush()
    return found


def finish(
    session: Session, *, job: Job, state: str, message: str, error: str | None = None
) -> None:
    job.state = state
    job.finished_at = utcnow()
    job.error = error
    job.lease_owner = None
    job.lease_expires_at = None
    if state == "succeeded":
        job.progress = 1.0
    add_event(session, job=job, kind=state, message=message)
    session.add(job)
