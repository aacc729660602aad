from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from service.models.base import created_at_field, json_field, optional_time_field


class Subject(SQLModel, table=True):
    """A named schema of one team; its versions count 1, 2, 3..."""

    __tablename__ = "subjects"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, nullable=False)
    name: str = Field(max_length=128, nullable=False)
    compatibility: str = Field(default="BACKWARD", max_length=32, nullable=False)
    mode: str = Field(default="READWRITE", max_length=16, nullable=False)
    instructions: str | None = Field(default=None)
    # Versions are never reused, even after a permanent delete.
    last_version: int = Field(default=0, nullable=False)
    created_at: datetime = created_at_field()
    deleted_at: datetime | None = optional_time_field()


class SchemaVersion(SQLModel, table=True):
    """An immutable registered schema; `id` is global and never reused.

    `body` is the document exactly as the team registered it (key order included) and is what
    the API returns. `document` is the registry's internal form of it (Draft 2020-12, every
    reference resolved and bundled, the author's key order kept): everything that generates or
    reasons about the schema reads `document` (grammars, prompts, few-shot answers, training
    targets, validation of outputs, compatibility). `fingerprint` is the identity: sorted keys,
    plus the pinned references.
    """

    __tablename__ = "schema_versions"
    # AUTOINCREMENT: SQLite would otherwise hand a deleted max id to the next row.
    __table_args__ = (UniqueConstraint("subject_id", "version"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subjects.id", index=True, nullable=False)
    version: int = Field(nullable=False)
    body: dict[str, Any] = json_field()
    document: dict[str, Any] = json_field()
    dialect: str = Field(default="2020-12", max_length=16, nullable=False)
    fingerprint: str = Field(max_length=80, index=True, nullable=False)
    description: str | None = Field(default=None)
    capabilities: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    deleted_at: datetime | None = optional_time_field()


class SchemaReference(SQLModel, table=True):
    """A version's pinned reference to another registered version (`$ref` name -> version)."""

    __tablename__ = "schema_references"
    __table_args__ = (UniqueConstraint("schema_version_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    schema_version_id: int = Field(foreign_key="schema_versions.id", index=True, nullable=False)
    # The URI exactly as the schema writes it in "$ref".
    name: str = Field(max_length=2048, nullable=False)
    referenced_id: int = Field(foreign_key="schema_versions.id", index=True, nullable=False)


class Example(SQLModel, table=True):
    """A labeled pair, or an unlabeled input (output is None) waiting for a teacher."""

    __tablename__ = "examples"
    __table_args__ = (UniqueConstraint("schema_version_id", "dedup_key"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, nullable=False)
    schema_version_id: int = Field(foreign_key="schema_versions.id", index=True, nullable=False)
    input: str = Field(nullable=False)
    output: Any = json_field(nullable=True)
    labeled: bool = Field(nullable=False)
    # Pinned to the evaluation set: held out of training and scored by every job.
    eval: bool = Field(default=False, nullable=False)
    source: str = Field(default="human", max_length=16, nullable=False)
    dedup_key: str = Field(max_length=64, nullable=False)
    created_at: datetime = created_at_field()
