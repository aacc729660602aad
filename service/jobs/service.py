"""Job rules: one active job per schema version, a team quota, cancel."""

from sqlmodel import Session, func, select

from service.errors import Conflict, FormwrightError, NotFound, Unprocessable
from service.jobs import queue, repository
from service.jobs.bodies import JobCreate
from service.jobs.lease import lease_held
from service.jobs.states import FINAL_STATES, STAGES, JobState
from service.jobs.transitions import add_event, finish
from service.models import Example, Job, SchemaVersion, Subject, Team, utcnow
from service.registry import repository as registry_repository
from service.registry.service import resolve_version

MIN_LABELED_EXAMPLES = 4


def create_job(
    session: Session, *, team: Team, name: str, params: JobCreate
) -> tuple[Job, SchemaVersion]:
    """Queue a training job; its first stage is sent once the session commits."""
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
    queue.send_stage(session, job=job, stage=STAGES[0])
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
    if not lease_held(job, now=utcnow()):
        finish(session, job=job, state=JobState.CANCELLED, message="cancelled before it ran")
    else:
        add_event(session, job=job, kind="cancel_requested", message="cancel requested")
    session.add(job)
    session.flush()
    return found
