"""Registry rules: immutable versions, idempotent registration, compatibility, deletes."""

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from schemas.capabilities import capability_report
from schemas.compat import Compatibility, check_compatibility
from schemas.errors import SchemaRejected
from schemas.validation import prepare
from service.errors import Conflict, FormwrightError, NotFound, TooLarge, Unprocessable
from service.examples.repository import delete_for_version
from service.models import SchemaVersion, Subject, Team, utcnow
from service.registry import repository

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MODES = ("READWRITE", "READONLY")


@dataclass
class Registered:
    version: SchemaVersion
    subject: Subject
    created: bool


def check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise Unprocessable(
            "A schema name is 1-128 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit.",
            code="invalid_name",
            errors=[{"path": "/name", "message": f"{name!r} is not a valid schema name"}],
        )


def rejected(exc: SchemaRejected) -> FormwrightError:
    errors = [{"path": i.path, "message": i.message, "keyword": i.keyword} for i in exc.issues]
    cls = TooLarge if exc.code == "schema_too_large" else Unprocessable
    return cls(exc.detail, code=exc.code, errors=errors)


def prepare_schema(schema: Any) -> Any:
    try:
        return prepare(schema)
    except SchemaRejected as exc:
        raise rejected(exc) from exc


def get_subject(session: Session, *, team: Team, name: str, deleted: bool = False) -> Subject:
    subject = repository.get_subject(session, team_id=team.id, name=name)
    if subject is None or subject.last_version == 0 or (subject.deleted_at and not deleted):
        raise NotFound(f"Schema '{name}' not found.", code="schema_not_found")
    return subject


def _lock_or_create_subject(session: Session, *, team: Team, name: str) -> Subject:
    subject = repository.get_subject(session, team_id=team.id, name=name, for_update=True)
    if subject is not None:
        return subject
    try:
        # A savepoint: losing a race to create the subject must not abort the request.
        with session.begin_nested():
            subject = Subject(team_id=team.id, name=name)
            session.add(subject)
    except IntegrityError:
        subject = repository.get_subject(session, team_id=team.id, name=name, for_update=True)
        assert subject is not None
    return subject


def incompatibilities(
    session: Session, *, subject: Subject, schema: dict[str, Any], mode: str | None = None
) -> list[dict[str, Any]]:
    previous = [
        (v.version, v.body) for v in repository.list_versions(session, subject_id=subject.id)
    ]
    found = check_compatibility(schema, previous, Compatibility(mode or subject.compatibility))
    return [{"path": i.path, "message": i.message, "version": i.version} for i in found]


def register(
    session: Session, *, team: Team, name: str, schema: Any, description: str | None = None
) -> Registered:
    """Register `schema` under `name`; the same content again returns the existing version."""
    check_name(name)
    prepared = prepare_schema(schema)
    subject = _lock_or_create_subject(session, team=team, name=name)
    existing = repository.find_by_fingerprint(
        session, subject_id=subject.id, fingerprint=prepared.fingerprint
    )
    if existing is not None and subject.deleted_at is None:
        return Registered(existing, subject, created=False)
    if subject.mode == "READONLY":
        raise Conflict(f"Schema '{name}' is read-only.", code="subject_read_only")
    if subject.deleted_at is not None:
        # Registering under a soft-deleted name revives it, as Confluent does.
        subject.deleted_at = None
    problems = incompatibilities(session, subject=subject, schema=prepared.schema)
    if problems:
        raise Conflict(
            f"The schema is not {subject.compatibility} compatible with '{name}'.",
            code="incompatible_schema",
            errors=problems,
        )
    subject.last_version += 1
    version = SchemaVersion(
        subject_id=subject.id,
        version=subject.last_version,
        body=prepared.schema,
        fingerprint=prepared.fingerprint,
        description=description,
        capabilities=capability_report(prepared.schema),
    )
    session.add_all([subject, version])
    session.flush()
    return Registered(version, subject, created=True)


def check(
    session: Session, *, team: Team, name: str, schema: Any, compatibility: str | None = None
) -> dict[str, Any]:
    """Would `schema` be accepted under `name`? Registers nothing."""
    prepared = prepare_schema(schema)
    subject = repository.get_subject(session, team_id=team.id, name=name)
    if subject is None or subject.deleted_at is not None:
        problems: list[dict[str, Any]] = []
        mode = compatibility or (subject.compatibility if subject else "BACKWARD")
    else:
        mode = compatibility or subject.compatibility
        problems = incompatibilities(session, subject=subject, schema=prepared.schema, mode=mode)
    return {
        "compatible": not problems,
        "compatibility": mode,
        "errors": problems,
        "fingerprint": prepared.fingerprint,
        "capabilities": capability_report(prepared.schema),
    }


def set_config(
    session: Session,
    *,
    team: Team,
    name: str,
    compatibility: str | None,
    mode: str | None,
    instructions: str | None = None,
) -> Subject:
    check_name(name)
    subject = _lock_or_create_subject(session, team=team, name=name)
    if compatibility is not None:
        subject.compatibility = Compatibility(compatibility).value
    if mode is not None:
        subject.mode = mode
    if instructions is not None:
        subject.instructions = instructions or None
    session.add(subject)
    session.flush()
    return subject


def resolve_version(
    session: Session, *, team: Team, name: str, version: int | str | None = None
) -> tuple[SchemaVersion, Subject]:
    """A live version of a live subject; None or "latest" means the newest."""
    subject = get_subject(session, team=team, name=name)
    if version is None or version == "latest":
        versions = repository.list_versions(session, subject_id=subject.id)
        if not versions:
            raise NotFound(f"Schema '{name}' has no live version.", code="version_not_found")
        return versions[-1], subject
    found = repository.get_version(session, subject_id=subject.id, version=int(version))
    if found is None or found.deleted_at is not None:
        raise NotFound(f"Schema '{name}' has no version {version}.", code="version_not_found")
    return found, subject


def get_by_id(session: Session, *, team: Team, id: int) -> tuple[SchemaVersion, Subject]:
    found = repository.get_by_id(session, team_id=team.id, id=id)
    if found is None:
        raise NotFound(f"No schema with id {id}.", code="schema_not_found")
    return found


def delete_subject(session: Session, *, team: Team, name: str, permanent: bool) -> list[int]:
    subject = get_subject(session, team=team, name=name, deleted=True)
    versions = repository.list_versions(session, subject_id=subject.id, deleted=True)
    if permanent:
        if subject.deleted_at is None:
            raise Conflict(
                f"Soft-delete schema '{name}' before deleting it permanently.",
                code="not_soft_deleted",
            )
        for v in versions:
            _purge_version(session, v)
        session.delete(subject)
    else:
        if subject.deleted_at is not None:
            raise NotFound(f"Schema '{name}' not found.", code="schema_not_found")
        now = utcnow()
        subject.deleted_at = now
        for v in versions:
            v.deleted_at = v.deleted_at or now
        session.add_all([subject, *versions])
    session.flush()
    return [v.version for v in versions]


def delete_version(
    session: Session, *, team: Team, name: str, version: int, permanent: bool
) -> SchemaVersion:
    subject = get_subject(session, team=team, name=name)
    found = repository.get_version(session, subject_id=subject.id, version=version)
    if found is None:
        raise NotFound(f"Schema '{name}' has no version {version}.", code="version_not_found")
    if permanent:
        if found.deleted_at is None:
            raise Conflict(
                f"Soft-delete version {version} before deleting it permanently.",
                code="not_soft_deleted",
            )
        _purge_version(session, found)
    else:
        if found.deleted_at is not None:
            raise NotFound(f"Schema '{name}' has no version {version}.", code="version_not_found")
        found.deleted_at = utcnow()
        session.add(found)
    session.flush()
    return found


def _purge_version(session: Session, version: SchemaVersion) -> None:
    delete_for_version(session, schema_version_id=version.id)
    session.delete(version)


def summarize(session: Session, *, subject: Subject, deleted: bool = False) -> dict[str, Any]:
    versions = repository.list_versions(session, subject_id=subject.id, deleted=deleted)
    return {
        "name": subject.name,
        "latest_version": versions[-1].version if versions else None,
        "versions": len(versions),
        "compatibility": subject.compatibility,
        "mode": subject.mode,
        "created_at": subject.created_at,
        "deleted": subject.deleted_at is not None,
    }


def list_subjects(
    session: Session, *, team: Team, deleted: bool, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    subjects, total = repository.list_subjects(
        session, team_id=team.id, deleted=deleted, offset=offset, limit=limit
    )
    return [summarize(session, subject=s, deleted=deleted) for s in subjects], total


def list_versions(session: Session, *, team: Team, name: str, deleted: bool) -> list[SchemaVersion]:
    subject = get_subject(session, team=team, name=name, deleted=deleted)
    return repository.list_versions(session, subject_id=subject.id, deleted=deleted)
