from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), nullable=False)


def optional_time_field() -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=True)


def json_field(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))
