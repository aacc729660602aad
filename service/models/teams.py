from datetime import datetime

from sqlmodel import Field, SQLModel

from service.models.base import created_at_field, optional_time_field


class Team(SQLModel, table=True):
    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, nullable=False)
    log_payloads: bool = Field(default=True, nullable=False)
    max_concurrent_jobs: int = Field(default=2, nullable=False)
    created_at: datetime = created_at_field()


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, nullable=False)
    # Only a digest is stored: a leaked database does not leak usable keys.
    key_hash: str = Field(max_length=64, unique=True, nullable=False)
    prefix: str = Field(max_length=16, nullable=False)
    created_at: datetime = created_at_field()
    revoked_at: datetime | None = optional_time_field()
