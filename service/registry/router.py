from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from schemas.canonical import document_key
from service.bodies import VERSION_REF, Page, Pagination, pagination
from service.deps import SessionDep, TeamDep
from service.models import SchemaVersion, Subject
from service.registry import service
from service.registry.bodies import (
    CompatibilityResult,
    Deleted,
    SchemaCheck,
    SchemaCreate,
    SchemaVersionPublic,
    SubjectConfig,
    SubjectConfigPublic,
    SubjectPublic,
    VersionSummary,
)

router = APIRouter(prefix="/v1", tags=["registry"])


def grammar_check(request: Request) -> service.GrammarCheck | None:
    """The engine's grammar compiler, once the model is loaded (it owns the tokenizer)."""
    inference = getattr(request.app.state, "inference", None)
    runtime = getattr(inference, "runtime", None)
    if runtime is None or not runtime.ready:
        return None
    return lambda document: runtime.grammar(document, schema_fingerprint=document_key(document))


GrammarDep = Annotated[service.GrammarCheck | None, Depends(grammar_check)]


def public(session: SessionDep, version: SchemaVersion, subject: Subject) -> SchemaVersionPublic:
    refs = service.references(session, version=version)
    return SchemaVersionPublic.of(version, subject, refs)


Name = Annotated[str, Path(max_length=128)]
VersionRef = Annotated[str, Path(pattern=VERSION_REF)]


@router.post("/schemas", response_model=SchemaVersionPublic, status_code=201)
def register_schema(
    body: SchemaCreate, response: Response, session: SessionDep, team: TeamDep, grammar: GrammarDep
) -> SchemaVersionPublic:
    """Register a schema version; the same content again returns the existing version (200)."""
    found = service.register(
        session,
        team=team,
        name=body.name,
        schema=body.schema_,
        description=body.description,
        references=[r.domain() for r in body.references],
        grammar=grammar,
    )
    if not found.created:
        response.status_code = 200
    return public(session, found.version, found.subject)


@router.get("/schemas", response_model=Page[SubjectPublic])
def list_schemas(
    session: SessionDep,
    team: TeamDep,
    page: Annotated[Pagination, Depends(pagination)],
    deleted: bool = False,
) -> Page[SubjectPublic]:
    """List the team's schemas, by name."""
    rows, total = service.list_subjects(
        session, team=team, deleted=deleted, offset=page.offset, limit=page.limit
    )
    return Page(data=[SubjectPublic(**r) for r in rows], count=total)


@router.get("/schemas/{name}", response_model=SubjectPublic)
def get_schema(name: Name, session: SessionDep, team: TeamDep, deleted: bool = False):
    """One schema: its latest version, version count and compatibility settings."""
    subject = service.get_subject(session, team=team, name=name, deleted=deleted)
    return SubjectPublic(**service.summarize(session, subject=subject, deleted=deleted))


@router.get("/schemas/{name}/versions", response_model=Page[VersionSummary])
def list_versions(name: Name, session: SessionDep, team: TeamDep, deleted: bool = False):
    """Every version of a schema, oldest first."""
    versions = service.list_versions(session, team=team, name=name, deleted=deleted)
    data = [
        VersionSummary(
            version=v.version,
            id=v.id,
            fingerprint=v.fingerprint,
            created_at=v.created_at,
            deleted=v.deleted_at is not None,
        )
        for v in versions
    ]
    return Page(data=data, count=len(data))


@router.get("/schemas/{name}/versions/{version}", response_model=SchemaVersionPublic)
def get_version(name: Name, version: VersionRef, session: SessionDep, team: TeamDep):
    """One version by number, or `latest`."""
    found, subject = service.resolve_version(session, team=team, name=name, version=version)
    return public(session, found, subject)


@router.get("/schema-ids/{id}", response_model=SchemaVersionPublic)
def get_by_id(id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep, team: TeamDep):
    """A version by its global id; soft-deleted versions still resolve."""
    found, subject = service.get_by_id(session, team=team, id=id)
    return public(session, found, subject)


@router.post("/schemas/{name}/compatibility", response_model=CompatibilityResult)
def check_compatibility(name: Name, body: SchemaCheck, session: SessionDep, team: TeamDep):
    """Check a schema against the registered versions without registering it."""
    mode = body.compatibility.value if body.compatibility else None
    return service.check(
        session,
        team=team,
        name=name,
        schema=body.schema_,
        compatibility=mode,
        references=[r.domain() for r in body.references],
    )


@router.get("/schemas/{name}/config", response_model=SubjectConfigPublic)
def get_config(name: Name, session: SessionDep, team: TeamDep):
    """A schema's compatibility mode, read/write mode and prompt instructions."""
    return SubjectConfigPublic.of(service.get_subject(session, team=team, name=name))


@router.put("/schemas/{name}/config", response_model=SubjectConfigPublic)
def set_config(name: Name, body: SubjectConfig, session: SessionDep, team: TeamDep):
    """Set compatibility (NONE, BACKWARD, ... FULL_TRANSITIVE), mode or instructions."""
    subject = service.set_config(
        session,
        team=team,
        name=name,
        compatibility=body.compatibility.value if body.compatibility else None,
        mode=body.mode,
        instructions=body.instructions,
    )
    return SubjectConfigPublic.of(subject)


@router.delete("/schemas/{name}", response_model=Deleted)
def delete_schema(name: Name, session: SessionDep, team: TeamDep, permanent: bool = False):
    """Soft-delete a schema (ids still resolve); `permanent=true` after a soft delete."""
    versions = service.delete_subject(session, team=team, name=name, permanent=permanent)
    return Deleted(name=name, versions=versions, permanent=permanent)


@router.delete("/schemas/{name}/versions/{version}", response_model=Deleted)
def delete_version(
    name: Name,
    version: Annotated[int, Path(ge=1, le=10**9)],
    session: SessionDep,
    team: TeamDep,
    permanent: bool = False,
):
    """Soft-delete one version; `permanent=true` after a soft delete."""
    found = service.delete_version(
        session, team=team, name=name, version=version, permanent=permanent
    )
    return Deleted(name=name, versions=[found.version], permanent=permanent)
