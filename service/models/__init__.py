"""Every table, importable without FastAPI (workers/ and alembic/env.py use these)."""

from service.models.base import utcnow
from service.models.registry import Example, SchemaVersion, Subject
from service.models.teams import ApiKey, Team

__all__ = ["ApiKey", "Example", "SchemaVersion", "Subject", "Team", "utcnow"]
