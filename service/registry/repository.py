from sqlalchemy import func
from sqlmodel import Session, col, select

from service.models import SchemaVersion, Subject
from service.models.registry import SchemaReference


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


def references_of(
    session: Session, *, version_id: int
) -> list[tuple[SchemaReference, SchemaVersion]]:
    rows = session.exec(
        select(SchemaReference, SchemaVersion)
        .join(SchemaVersion, SchemaVersion.id == SchemaReference.referenced_id)
        .where(SchemaReference.schema_version_id == version_id)
        .order_by(SchemaReference.id)
    )
    return [(r, v) for r, v in rows]


def references_with_subjects(
    session: Session, *, version_id: int
) -> list[tuple[SchemaReference, SchemaVersion, Subject]]:
    rows = session.exec(
        select(SchemaReference, SchemaVersion, Subject)
        .join(SchemaVersion, SchemaVersion.id == SchemaReference.referenced_id)
        .join(Subject, Subject.id == SchemaVersion.subject_id)
        .where(SchemaReference.schema_version_id == version_id)
        .order_by(SchemaReference.id)
    )
    return [(r, v, s) for r, v, s in rows]


def referenced_by(
    session: Session, *, version_ids: set[int]
) -> list[tuple[SchemaReference, SchemaVersion, Subject]]:
    """The references to any of `version_ids`, with the referencing version and its subject."""
    if not version_ids:
        return []
    rows = session.exec(
        select(SchemaReference, SchemaVersion, Subject)
        .join(SchemaVersion, SchemaVersion.id == SchemaReference.schema_version_id)
        .join(Subject, Subject.id == SchemaVersion.subject_id)
        .where(col(SchemaReference.referenced_id).in_(version_ids))
        .order_by(SchemaReference.id)
    )
    return [(r, v, s) for r, v, s in rows]


def delete_references(session: Session, *, version_id: int) -> None:
    for ref in session.exec(
        select(SchemaReference).where(SchemaReference.schema_version_id == version_id)
    ):
        session.delete(ref)
