"""Registry rules: immutable versions, idempotent registration, compatibility, references,
deletes."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from schemas.canonical import fingerprint
from schemas.capabilities import capability_report
from schemas.compat import Compatibility, check_compatibility
from schemas.dialects import dialect_of
from schemas.errors import SchemaRejected
from schemas.validation import PreparedSchema, prepare
from service.errors import Conflict, FormwrightError, NotFound, TooLarge, Unprocessable
from service.examples.repository import delete_for_version
from service.models import SchemaVersion, Subject, Team, utcnow
from service.models.registry import SchemaReference
from service.registry import repository

# Compiles a document into the engine's grammar (raises runtime.grammar.GrammarCompileError or
# GrammarTimeout); None when no model is loaded yet, and the compile waits for the first request.
GrammarCheck = Callable[[dict[str, Any]], object]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MODES = ("READWRITE", "READONLY")


@dataclass
class Registered:
    version: SchemaVersion
    subject: Subject
    created: bool


@dataclass
class Reference:
    """A reference as the team wrote it: the `$ref` URI, and the subject and version it pins."""

    name: str
    subject: str
    version: int


@dataclass
class Prepared:
    """A schema ready to store: prepared, with its pinned references and its identity."""

    schema: PreparedSchema
    references: list[tuple[Reference, SchemaVersion]] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        # Without references the identity is the document's sorted-key fingerprint, as it has
        # always been; with them, the pins are part of what was registered.
        if not self.used:
            return self.schema.fingerprint
        pins = sorted(
            ({"name": r.name, "subject": r.subject, "version": r.version} for r, _ in self.used),
            key=lambda p: str(p["name"]),
        )
        return fingerprint({"schema": self.schema.body, "references": pins})

    @property
    def used(self) -> list[tuple[Reference, SchemaVersion]]:
        return [(r, v) for r, v in self.references if r.name in self.schema.externals]


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


def prepare_schema(schema: Any, externals: dict[str, Any] | None = None) -> PreparedSchema:
    try:
        return prepare(schema, externals=externals)
    except SchemaRejected as exc:
        raise rejected(exc) from exc


def _as_understood(version: SchemaVersion) -> Any:
    """A referenced version's body with its dialect explicit, so a referencing document in
    another draft reads it as it was registered."""
    body = version.body
    if isinstance(body, dict) and "$schema" not in body:
        return {"$schema": dialect_of(body).uri, **body}
    return body


def _externals(
    session: Session, *, team: Team, references: list[Reference]
) -> tuple[dict[str, Any], list[tuple[Reference, SchemaVersion]]]:
    """The documents the references pin (and, transitively, the ones those pin), by name."""
    externals: dict[str, Any] = {}
    pinned: list[tuple[Reference, SchemaVersion]] = []
    problems = []
    seen_names: set[str] = set()
    for i, ref in enumerate(references):
        if ref.name in seen_names:
            problems.append({"path": f"/references/{i}/name", "message": "duplicate name"})
            continue
        seen_names.add(ref.name)
        subject = repository.get_subject(session, team_id=team.id, name=ref.subject)
        found = (
            repository.get_version(session, subject_id=subject.id, version=ref.version)
            if subject is not None and subject.deleted_at is None
            else None
        )
        if found is None or found.deleted_at is not None:
            problems.append(
                {
                    "path": f"/references/{i}",
                    "message": f"schema '{ref.subject}' has no version {ref.version}",
                }
            )
            continue
        pinned.append((ref, found))
    if problems:
        raise Unprocessable(
            "A reference names a schema version that does not exist.",
            code="invalid_reference",
            errors=problems,
        )
    # The pinned versions' own references, so their documents resolve too.
    pending = [(ref.name, version) for ref, version in pinned]
    while pending:
        name, version = pending.pop()
        body = _as_understood(version)
        if name in externals and externals[name] != body:
            raise Unprocessable(
                f"Two references use the name '{name}' for different schemas.",
                code="invalid_reference",
                errors=[{"path": "/references", "message": f"conflicting name {name!r}"}],
            )
        if name in externals:
            continue
        externals[name] = body
        pending += [
            (r.name, r_version)
            for r, r_version in repository.references_of(session, version_id=version.id)
        ]
    return externals, pinned


def prepare_registration(
    session: Session, *, team: Team, schema: Any, references: list[Reference] | None = None
) -> Prepared:
    """`schema` prepared with its references resolved in the team's registry."""
    externals, pinned = _externals(session, team=team, references=references or [])
    return Prepared(prepare_schema(schema, externals), pinned)


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
    session: Session, *, subject: Subject, document: dict[str, Any], mode: str | None = None
) -> list[dict[str, Any]]:
    """Compatibility of a new internal-form document with the subject's live versions: the
    internal forms are compared, so two drafts of the same subject compare by meaning, and a
    change inside a referenced schema counts (the references are bundled in)."""
    previous = [
        (v.version, v.document) for v in repository.list_versions(session, subject_id=subject.id)
    ]
    found = check_compatibility(document, previous, Compatibility(mode or subject.compatibility))
    return [{"path": i.path, "message": i.message, "version": i.version} for i in found]


def register(
    session: Session,
    *,
    team: Team,
    name: str,
    schema: Any,
    description: str | None = None,
    references: list[Reference] | None = None,
    grammar: GrammarCheck | None = None,
) -> Registered:
    """Register `schema` under `name`; the same content again returns the existing version.

    With `grammar`, a schema that no backend compiles within the compile timeout is refused
    with the reason (and one that compiles is cached for its first request)."""
    check_name(name)
    prepared = prepare_registration(session, team=team, schema=schema, references=references)
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
    problems = incompatibilities(session, subject=subject, document=prepared.schema.schema)
    if problems:
        raise Conflict(
            f"The schema is not {subject.compatibility} compatible with '{name}'.",
            code="incompatible_schema",
            errors=problems,
        )
    if grammar is not None:
        _check_grammar(grammar, prepared.schema.schema)
    subject.last_version += 1
    version = SchemaVersion(
        subject_id=subject.id,
        version=subject.last_version,
        body=prepared.schema.body,
        document=prepared.schema.schema,
        dialect=prepared.schema.dialect.name,
        fingerprint=prepared.fingerprint,
        description=description,
        capabilities=capability_report(prepared.schema.schema),
    )
    session.add_all([subject, version])
    session.flush()
    session.add_all(
        SchemaReference(schema_version_id=version.id, name=ref.name, referenced_id=target.id)
        for ref, target in prepared.used
    )
    session.flush()
    return Registered(version, subject, created=True)


def _check_grammar(grammar: GrammarCheck, document: dict[str, Any]) -> None:
    from runtime.grammar import GrammarCompileError, GrammarTimeout

    try:
        grammar(document)
    except GrammarTimeout as exc:
        raise Unprocessable(
            "The schema does not compile into a decoding grammar within the compile timeout; "
            "simplify it (fewer alternatives, smaller enums, shorter patterns).",
            code="grammar_timeout",
            errors=[{"path": "", "message": a["error"]} for a in exc.attempts],
        ) from exc
    except GrammarCompileError as exc:
        raise Unprocessable(
            "No decoding backend can compile the schema into a grammar.",
            code="grammar_unsupported",
            errors=[{"path": "", "message": a["error"]} for a in exc.attempts],
        ) from exc


def check(
    session: Session,
    *,
    team: Team,
    name: str,
    schema: Any,
    compatibility: str | None = None,
    references: list[Reference] | None = None,
) -> dict[str, Any]:
    """Would `schema` be accepted under `name`? Registers nothing."""
    prepared = prepare_registration(session, team=team, schema=schema, references=references)
    document = prepared.schema.schema
    subject = repository.get_subject(session, team_id=team.id, name=name)
    if subject is None or subject.deleted_at is not None:
        problems: list[dict[str, Any]] = []
        mode = compatibility or (subject.compatibility if subject else "BACKWARD")
    else:
        mode = compatibility or subject.compatibility
        problems = incompatibilities(session, subject=subject, document=document, mode=mode)
    return {
        "compatible": not problems,
        "compatibility": mode,
        "errors": problems,
        "fingerprint": prepared.fingerprint,
        "dialect": prepared.schema.dialect.name,
        "capabilities": capability_report(document),
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


def _refuse_if_referenced(session: Session, *, versions: list[SchemaVersion], name: str) -> None:
    ids = {v.id for v in versions}
    users = [
        (ref, user, user_subject)
        for ref, user, user_subject in repository.referenced_by(session, version_ids=ids)
        if user.id not in ids
    ]
    if users:
        raise Conflict(
            f"Schema '{name}' is referenced by other schema versions; delete those first.",
            code="schema_referenced",
            errors=[
                {
                    "path": f"/references/{ref.name}",
                    "message": f"'{user_subject.name}' version {user.version} references it "
                    f"as {ref.name!r}",
                }
                for ref, user, user_subject in users
            ],
        )


def delete_subject(session: Session, *, team: Team, name: str, permanent: bool) -> list[int]:
    subject = get_subject(session, team=team, name=name, deleted=True)
    versions = repository.list_versions(session, subject_id=subject.id, deleted=True)
    _refuse_if_referenced(session, versions=versions, name=name)
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
    _refuse_if_referenced(session, versions=[found], name=f"{name}' version '{version}")
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
    repository.delete_references(session, version_id=version.id)
    session.delete(version)


def references(session: Session, *, version: SchemaVersion) -> list[dict[str, Any]]:
    """The references a version pins, as the team wrote them."""
    return [
        {"name": ref.name, "subject": target_subject.name, "version": target.version}
        for ref, target, target_subject in repository.references_with_subjects(
            session, version_id=version.id
        )
    ]


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
