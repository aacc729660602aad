from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from service.models.base import UTCDateTime, created_at_field, json_field, optional_time_field


class Team(SQLModel, table=True):
    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, nullable=False)
    log_payloads: bool = Field(default=True, nullable=False)
    max_concurrent_jobs: int = Field(default=2, nullable=False)
    # An eval-only run whose served field accuracy falls more than this below the adapter's
    # figure at promotion raises a drift warning.
    drift_margin: float = Field(default=0.05, nullable=False)
    created_at: datetime = created_at_field()


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, nullable=False)
    # Only a keyed digest is stored (service.teams.keys): a leaked database without the
    # server secret neither leaks usable keys nor lets anyone test guesses offline.
    key_hash: str = Field(max_length=64, unique=True, nullable=False)
    prefix: str = Field(max_length=16, index=True, nullable=False)
    created_at: datetime = created_at_field()
    last_used_at: datetime | None = optional_time_field()
    revoked_at: datetime | None = optional_time_field()


class UiSession(SQLModel, table=True):
    """A dashboard sign-in: the cookie holds a random token, the table its digest."""

    __tablename__ = "ui_sessions"

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="api_keys.id", index=True, nullable=False)
    token_hash: str = Field(max_length=64, unique=True, nullable=False)
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = optional_time_field()


class AuditEvent(SQLModel, table=True):
    """Who (key prefix, `cli` for the operator, `worker` for a job's promotion) changed what,
    on which resource."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, nullable=False)
    actor: str = Field(max_length=32, nullable=False)
    action: str = Field(max_length=64, nullable=False)
    resource: str = Field(max_length=512, nullable=False)
    detail: dict[str, Any] | None = json_field(nullable=True)
    created_at: datetime = created_at_field()
