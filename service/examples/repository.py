from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from service.models import Example


def existing_keys(session: Session, *, schema_version_id: int, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        found.update(
            session.exec(
                select(Example.dedup_key).where(
                    Example.schema_version_id == schema_version_id,
                    col(Example.dedup_key).in_(chunk),
                )
            )
        )
    return found


def all_for_version(session: Session, *, schema_version_id: int) -> list[Example]:
    """Every example of a version, oldest first."""
    query = select(Example).where(Example.schema_version_id == schema_version_id)
    return list(session.exec(query.order_by(Example.id)))


def list_examples(
    session: Session,
    *,
    schema_version_ids: list[int],
    labeled: bool | None,
    source: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Example], int]:
    query = select(Example).where(col(Example.schema_version_id).in_(schema_version_ids))
    if labeled is not None:
        query = query.where(Example.labeled == labeled)
    if source is not None:
        query = query.where(Example.source == source)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Example.id).offset(offset).limit(limit))
    return list(rows), total


def delete_for_version(session: Session, *, schema_version_id: int) -> None:
    session.exec(delete(Example).where(Example.schema_version_id == schema_version_id))  # type: ignore[call-overload]
