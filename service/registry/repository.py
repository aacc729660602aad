from sqlalchemy import func
from sqlmodel import Session, col, select

from service.models import SchemaVersion, Subject


def get_subject(
    session: Session, *, team_id: int, name: str, for_update: bool = False
) -> Subject | None:
    query = select(Subject).where(Subject.team_id == team_id, Subject.name == name)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def list_subjects(
    session: Session, *, team_id: int, deleted: bool, offset: int, limit: int
) -> tuple[list[Subject], int]:
    query = select(Subject).where(Subject.team_id == team_id, Subject.last_version > 0)
    if not deleted:
        query = query.where(col(Subject.deleted_at).is_(None))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Subject.name).offset(offset).limit(limit))
    return list(rows), total


def list_versions(
    session: Session, *, subject_id: int, deleted: bool = False
) -> list[SchemaVersion]:
    query = select(SchemaVersion).where(SchemaVersion.subject_id == subject_id)
    if not deleted:
        query = query.where(col(SchemaVersion.deleted_at).is_(None))
    return list(session.exec(query.order_by(SchemaVersion.version)))


def get_version(session: Session, *, subject_id: int, version: int) -> SchemaVersion | None:
    return session.exec(
        select(SchemaVersion).where(
            SchemaVersion.subject_id == subject_id, SchemaVersion.version == version
        )
    ).first()


def find_by_fingerprint(
    session: Session, *, subject_id: int, fingerprint: str
) -> SchemaVersion | None:
    return session.exec(
        select(SchemaVersion).where(
            SchemaVersion.subject_id == subject_id,
            SchemaVersion.fingerprint == fingerprint,
            col(SchemaVersion.deleted_at).is_(None),
        )
    ).first()


def get_by_id(session: Session, *, team_id: int, id: int) -> tuple[SchemaVersion, Subject] | None:
    row = session.exec(
        select(SchemaVersion, Subject)
        .join(Subject, Subject.id == SchemaVersion.subject_id)
        .where(SchemaVersion.id == id, Subject.team_id == team_id)
    ).first()
    return (row[0], row[1]) if row else None
