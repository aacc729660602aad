"""Writing a job's state: every change is checked against the state machine and leaves an event."""

from typing import Any

from sqlmodel import Session

from service.jobs.states import JobState, check_transition
from service.models import Job, JobEvent, utcnow


def add_event(
    session: Session, *, job: Job, kind: str, message: str, data: dict[str, Any] | None = None
) -> JobEvent:
    event = JobEvent(job_id=job.id, kind=kind, message=message, data=data)
    session.add(event)
    return event


def enter(session: Session, *, job: Job, state: JobState) -> None:
    """Move an active job to `state` (InvalidTransition if the machine does not allow it)."""
    job.state = check_transition(job.state, state)
    session.add(job)


def finish(
    session: Session, *, job: Job, state: JobState, message: str, error: str | None = None
) -> None:
    """End the job in a final state: its lease is released and an event says why."""
    enter(session, job=job, state=state)
    job.finished_at = utcnow()
    job.error = error
    job.lease_owner = None
    job.lease_expires_at = None
    if state == JobState.SUCCEEDED:
        job.progress = 1.0
    add_event(session, job=job, kind=state, message=message)
