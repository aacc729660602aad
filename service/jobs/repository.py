from sqlalchemy import func
from sqlmodel import Session, col, select

from service.models import ACTIVE_STATES, Job, JobEvent, SchemaVersion, Subject


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
