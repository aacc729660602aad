from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from service.jobs.states import ACTIVE_STATES, FINAL_STATES, STAGES, JobState
from service.models.base import created_at_field, json_field, optional_time_field

__all__ = ["ACTIVE_STATES", "FINAL_STATES", "Adapter", "Job", "JobEvent", "RequestLog"]


class Job(SQLModel, table=True):
    """A training job: synthesize -> validate -> finetune -> evaluate -> promote (its state
    machine: service/jobs/states.py)."""

    __tablename__ = "jobs"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, nullable=False)
    schema_version_id: int = Field(foreign_key="schema_versions.id", index=True, nullable=False)
    state: str = Field(default=JobState.QUEUED, max_length=16, index=True, nullable=False)
    stage: str = Field(default=STAGES[0], max_length=16, nullable=False)
    progress: float = Field(default=0.0, nullable=False)
    step: int = Field(default=0, nullable=False)
    total_steps: int = Field(default=0, nullable=False)
    loss: float | None = Field(default=None)
    tokens_per_s: float | None = Field(default=None)
    eta_s: float | None = Field(default=None)
    params: dict[str, Any] = json_field()
    data: dict[str, Any] | None = json_field(nullable=True)
    metrics: dict[str, Any] | None = json_field(nullable=True)
    error: str | None = Field(default=None)
    cancel_requested: bool = Field(default=False, nullable=False)
    attempts: int = Field(default=0, nullable=False)
    # The lease: at most one running attempt per job, whatever the broker redelivers.
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_expires_at: datetime | None = optional_time_field()
    dispatched_at: datetime | None = optional_time_field()
    adapter_id: int | None = Field(default=None)
    created_at: datetime = created_at_field()
    started_at: datetime | None = optional_time_field()
    finished_at: datetime | None = optional_time_field()


class JobEvent(SQLModel, table=True):
    __tablename__ = "job_events"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="jobs.id", index=True, nullable=False)
    kind: str = Field(max_length=32, nullable=False)
    message: str = Field(nullable=False)
    data: dict[str, Any] | None = json_field(nullable=True)
    created_at: datetime = created_at_field()


class Adapter(SQLModel, table=True):
    """A trained LoRA adapter of one schema version, in PEFT format under the artifact store."""

    __tablename__ = "adapters"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, nullable=False)
    schema_version_id: int = Field(foreign_key="schema_versions.id", index=True, nullable=False)
    job_id: int | None = Field(default=None, foreign_key="jobs.id")
    path: str = Field(nullable=False)
    base_fingerprint: str = Field(max_length=80, nullable=False)
    manifest: dict[str, Any] = json_field()
    evaluation: dict[str, Any] | None = json_field(nullable=True)
    active: bool = Field(default=False, nullable=False)
    # The adapter that was active before this one was promoted: what rollback restores.
    replaced_id: int | None = Field(default=None)
    promoted_at: datetime | None = optional_time_field()
    created_at: datetime = created_at_field()


class RequestLog(SQLModel, table=True):
    """One generation: the raw material for metrics and for turning traffic into examples."""

    __tablename__ = "request_logs"
    __table_args__ = (Index("ix_request_logs_version_time", "schema_version_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, nullable=False)
    schema_version_id: int | None = Field(default=None, index=True)
    adapter_id: int | None = Field(default=None)
    endpoint: str = Field(max_length=32, nullable=False)
    mode: str = Field(max_length=16, nullable=False)
    decoding: str | None = Field(default=None, max_length=48)
    status_code: int = Field(nullable=False)
    error: str | None = Field(default=None, max_length=48)
    valid: bool = Field(default=False, nullable=False)
    first_attempt_valid: bool | None = Field(default=None)
    attempts: int = Field(default=0, nullable=False)
    errors: list[dict[str, Any]] | None = json_field(nullable=True)
    latency_ms: float = Field(default=0.0, nullable=False)
    prompt_tokens: int = Field(default=0, nullable=False)
    completion_tokens: int = Field(default=0, nullable=False)
    input: str | None = Field(default=None)
    output: Any = json_field(nullable=True)
    raw: str | None = Field(default=None)
    created_at: datetime = created_at_field()
