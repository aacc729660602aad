"""Adapters: list, promote and roll back, each switch atomic within one transaction; whether
each one matches the loaded base model."""

from enum import StrEnum

from sqlmodel import Session, col, select

from service.errors import Conflict, NotFound
from service.models import Adapter, SchemaVersion, Subject, Team, utcnow
from service.registry.service import get_subject


class BaseStatus(StrEnum):
    """An adapter against the base model this process has loaded: only a match can serve."""

    MATCHES = "matches"
    # Trained for another base model that this process also keeps loaded
    # (FORMWRIGHT_BASE_MODELS): it serves on that one, until it is retrained on the default.
    SIDE_BASE = "side_base"
    STALE = "stale"  # trained for a base model not loaded: the default base answers instead
    UNKNOWN = "unknown"  # the base model is not loaded (yet)


def base_status(
    adapter: Adapter | str, *, base_fingerprint: str | None, side: frozenset[str] = frozenset()
) -> BaseStatus:
    """An adapter's (or its base fingerprint's) status against the loaded base models."""
    trained_on = adapter if isinstance(adapter, str) else adapter.base_fingerprint
    if base_fingerprint is None:
        return BaseStatus.UNKNOWN
    if trained_on == base_fingerprint:
        return BaseStatus.MATCHES
    if trained_on in side:
        return BaseStatus.SIDE_BASE
    return BaseStatus.STALE


def active_adapter(session: Session, *, schema_version_id: int) -> Adapter | None:
    return session.exec(
        select(Adapter).where(
            Adapter.schema_version_id == schema_version_id,
            Adapter.active == True,  # noqa: E712
        )
    ).first()


def list_adapters(
    session: Session, *, team: Team, name: str, offset: int, limit: int
) -> tuple[list[tuple[Adapter, SchemaVersion]], int]:
    subject = get_subject(session, team=team, name=name)
    query = (
        select(Adapter, SchemaVersion)
        .join(SchemaVersion, SchemaVersion.id == Adapter.schema_version_id)
        .where(SchemaVersion.subject_id == subject.id)
    )
    rows = list(session.exec(query.order_by(col(Adapter.id).desc())))
    return [(a, v) for a, v in rows[offset : offset + limit]], len(rows)


def get_adapter(
    session: Session, *, team: Team, id: int, for_update: bool = False
) -> tuple[Adapter, SchemaVersion, Subject]:
    query = (
        select(Adapter, SchemaVersion, Subject)
        .join(SchemaVersion, SchemaVersion.id == Adapter.schema_version_id)
        .join(Subject, Subject.id == SchemaVersion.subject_id)
        .where(Adapter.id == id, Adapter.team_id == team.id)
    )
    if for_update:
        query = query.with_for_update(of=Adapter)
    row = session.exec(query).first()
    if row is None:
        raise NotFound(f"No adapter {id}.", code="adapter_not_found")
    return row[0], row[1], row[2]


def activate(session: Session, *, adapter: Adapter) -> Adapter | None:
    """Make `adapter` the active one of its version; returns the one it replaced."""
    current = active_adapter(session, schema_version_id=adapter.schema_version_id)
    if current is not None and current.id == adapter.id:
        return None
    if current is not None:
        current.active = False
        session.add(current)
        session.flush()
    adapter.active = True
    adapter.replaced_id = current.id if current else None
    adapter.promoted_at = utcnow()
    session.add(adapter)
    session.flush()
    return current


def promote(session: Session, *, team: Team, id: int) -> tuple[Adapter, SchemaVersion, Subject]:
    found = get_adapter(session, team=team, id=id, for_update=True)
    activate(session, adapter=found[0])
    return found


def rollback(session: Session, *, team: Team, id: int) -> tuple[Adapter, SchemaVersion, Subject]:
    """Deactivate an active adapter and restore the one it replaced (or the base model)."""
    adapter, version, subject = get_adapter(session, team=team, id=id, for_update=True)
    if not adapter.active:
        raise Conflict(f"Adapter {id} is not active; nothing to roll back.", code="not_active")
    adapter.active = False
    session.add(adapter)
    session.flush()
    if adapter.replaced_id is not None:
        previous = session.get(Adapter, adapter.replaced_id)
        if previous is not None:
            previous.active = True
            session.add(previous)
            session.flush()
    return adapter, version, subject
