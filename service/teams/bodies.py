from datetime import datetime

from pydantic import BaseModel, ConfigDict

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
    created_at: datetime

    @classmethod
    def of(cls, team: Team) -> "TeamPublic":
        return cls.model_validate(team, from_attributes=True)


class TeamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_payloads: bool
