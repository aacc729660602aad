from datetime import datetime, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from service.jobs.states import ACTIVE_STATES
from service.models import Job, JobEvent, SchemaVersion, Subject


def active_for_version(session: Session, *, schema_version_id: int) -> Job | None:
    return session.exec(
        select(Job).where(
            Job.schema_version_id == schema_version_id, col(Job.state).in_(ACTIVE_STATES)
        )
    ).first()


def count_active_for_team(session: Session, *, team_id: int) -> int:
    return session.exec(
        select(func.count()).where(Job.team_id == team_id, col(Job.state).in_(ACTIVE_STATES))
    ).one()


def get_with_subject(
    session: Session, *, team_id: int, id: int, for_update: bool = False
) -> tuple[Job, SchemaVersion, Subject] | None:
    query = (
        select(Job, SchemaVersion, Subject)
        .join(SchemaVersion, SchemaVersion.id == Job.schema_version_id)
        .join(Subject, Subject.id == SchemaVersion.subject_id)
        .where(Job.id == id, Job.team_id == team_id)
    )
    if for_update:
        query = query.with_for_update(of=Job)
    row = session.exec(query).first()
    return (row[0], row[1], row[2]) if row else None


def list_for_subject(
    session: Session, *, subject_id: int, state: str | None, offset: int, limit: int
) -> tuple[list[tuple[Job, SchemaVersion]], int]:
    query = (
        select(Job, SchemaVersion)
        .join(SchemaVersion, SchemaVersion.id == Job.schema_version_id)
        .where(SchemaVersion.subject_id == subject_id)
    )
    if state:
        query = query.where(Job.state == state)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Job.id).desc()).offset(offset).limit(limit))
    return [(j, v) for j, v in rows], total


def events(session: Session, *, job_id: int) -> list[JobEvent]:
    return list(
        session.exec(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))
    )


def stalled(session: Session, *, redispatch_after_s: float, now: datetime) -> list[Job]:
    """Active jobs nobody is running: a dead owner's lease expired, or the message got lost.

    Kombu's SQL transport hides a message once delivered, so a SIGKILLed worker's message
    never comes back by itself; Redis redelivers only after its visibility timeout. The
    database knows better: sending again is safe because the job lease admits one attempt.
    A cancelled job is left to the cancel (it ends at its next step or its next delivery).
    """
    query = select(Job).where(
        col(Job.state).in_(ACTIVE_STATES),
        Job.cancel_requested == False,  # noqa: E712
        or_(col(Job.lease_owner).is_(None), col(Job.lease_expires_at) < now),
        or_(
            col(Job.dispatched_at).is_(None),
            col(Job.dispatched_at) < now - timedelta(seconds=redispatch_after_s),
        ),
    )
    return list(session.exec(query))
