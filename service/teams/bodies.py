from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from service.models import ApiKey, Team


class KeyPublic(BaseModel):
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> "KeyPublic":
        return cls.model_validate(key, from_attributes=True)


class KeyCreated(KeyPublic):
    key: str


class TeamPublic(BaseModel):
    name: str
    log_payloads: bool
    drift_margin: float
    created_at: datetime

    @classmethod
    def of(cls, team: Team) -> "TeamPublic":
        return cls.model_validate(team, from_attributes=True)


class TeamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_payloads: bool | None = Field(default=None, description="Store request payloads.")
    drift_margin: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="An evaluation run whose served field accuracy is more than this below the "
        "adapter's at promotion raises a drift warning.",
    )
