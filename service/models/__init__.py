"""Every table, importable without FastAPI (workers/ and alembic/env.py use these)."""

from service.models.base import utcnow
from service.models.evaluations import Evaluation
from service.models.jobs import ACTIVE_STATES, FINAL_STATES, Adapter, Job, JobEvent, RequestLog
from service.models.registry import Example, SchemaVersion, Subject
from service.models.teams import ApiKey, AuditEvent, Team, UiSession

__all__ = [
    "ACTIVE_STATES",
    "FINAL_STATES",
    "Adapter",
    "ApiKey",
    "AuditEvent",
    "Evaluation",
    "Example",
    "Job",
    "JobEvent",
    "RequestLog",
    "SchemaVersion",
    "Subject",
    "Team",
    "UiSession",
    "utcnow",
]
