from datetime import datetime
from typing import Any

from pydantic import BaseModel

from service.models import AuditEvent


class AuditEventPublic(BaseModel):
    id: int
    actor: str
    action: str
    resource: str
    detail: dict[str, Any] | None
    created_at: datetime

    @classmethod
    def of(cls, event: AuditEvent) -> "AuditEventPublic":
        return cls.model_validate(event, from_attributes=True)
