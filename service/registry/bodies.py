from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.compat import Compatibility
from service.models import SchemaVersion, Subject
from service.registry.service import Reference


class ReferenceIn(BaseModel):
    """A `$ref` URI used in the schema, pinned to a version of another schema of the team."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=2048)
    subject: str = Field(max_length=128)
    version: int = Field(ge=1, le=10**9)

    def domain(self) -> Reference:
        return Reference(name=self.name, subject=self.subject, version=self.version)


class ReferencePublic(BaseModel):
    name: str
    subject: str
    version: int


class SchemaCreate(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    name: str = Field(max_length=128)
    schema_: Any = Field(alias="schema")
    description: str | None = Field(default=None, max_length=10_000)
    references: list[ReferenceIn] = Field(default_factory=list, max_length=100)


class SchemaCheck(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    schema_: Any = Field(alias="schema")
    compatibility: Compatibility | None = None
    references: list[ReferenceIn] = Field(default_factory=list, max_length=100)


class SubjectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    compatibility: Compatibility | None = None
    mode: Literal["READWRITE", "READONLY"] | None = None
    instructions: str | None = Field(default=None, max_length=10_000)


class SubjectConfigPublic(BaseModel):
    name: str
    compatibility: str
    mode: str
    instructions: str | None

    @classmethod
    def of(cls, subject: Subject) -> "SubjectConfigPublic":
        return cls(
            name=subject.name,
            compatibility=subject.compatibility,
            mode=subject.mode,
            instructions=subject.instructions,
        )


class SchemaVersionPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    version: int
    id: int
    fingerprint: str
    # The document exactly as registered, key order included.
    schema_: dict[str, Any] = Field(alias="schema")
    dialect: str
    references: list[ReferencePublic]
    description: str | None
    capabilities: dict[str, Any]
    created_at: datetime
    deleted: bool

    @classmethod
    def of(
        cls,
        version: SchemaVersion,
        subject: Subject,
        references: list[dict[str, Any]] | None = None,
    ) -> "SchemaVersionPublic":
        return cls(
            name=subject.name,
            version=version.version,
            id=version.id,
            fingerprint=version.fingerprint,
            schema_=version.body,
            dialect=version.dialect,
            references=[ReferencePublic(**r) for r in references or []],
            description=version.description,
            capabilities=version.capabilities,
            created_at=version.created_at,
            deleted=version.deleted_at is not None,
        )


class VersionSummary(BaseModel):
    version: int
    id: int
    fingerprint: str
    created_at: datetime
    deleted: bool


class SubjectPublic(BaseModel):
    name: str
    latest_version: int | None
    versions: int
    compatibility: str
    mode: str
    created_at: datetime
    deleted: bool


class CompatibilityResult(BaseModel):
    compatible: bool
    compatibility: str
    errors: list[dict[str, Any]]
    fingerprint: str
    dialect: str
    capabilities: dict[str, Any]


class Deleted(BaseModel):
    name: str
    versions: list[int]
    permanent: bool
