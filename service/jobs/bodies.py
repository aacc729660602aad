from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.bodies import Id
from service.models import Job, JobEvent


class SynthesisOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    target: int | None = Field(default=None, ge=0, le=20_000, description="Synthetic pairs.")
    teacher: str | None = Field(
        default=None, pattern="^(base|external)$", description="Label unlabeled inputs."
    )
    agree_samples: int = Field(default=1, ge=1, le=2)


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Id | None = None
    epochs: float | None = Field(default=None, gt=0, le=50)
    max_steps: int | None = Field(default=None, ge=1, le=100_000)
    lora_rank: int | None = Field(default=None, ge=1, le=256)
    learning_rate: float | None = Field(default=None, gt=0, le=1)
    batch_size: int | None = Field(default=None, ge=1, le=256)
    checkpoint_every: int | None = Field(default=None, ge=1, le=100_000)
    seed: int | None = Field(default=None, ge=0, le=2**31)
    synthesis: SynthesisOptions = Field(default_factory=SynthesisOptions)


class RetrainCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(default=False, description="List what would be retrained; queue none.")
    name: str | None = Field(
        default=None, min_length=1, max_length=128, description="Only this schema."
    )


class RetrainItemPublic(BaseModel):
    name: str
    version: int
    adapter_id: int
    base_status: str
    outcome: str = Field(
        description="queued, would_queue (dry run), in_progress (not queued twice), or the "
        "error code that kept it from being queued (job_quota_exceeded, not_enough_examples)."
    )
    job_id: int | None
    estimated_s: float | None = Field(description="How long the old adapter's job took.")
    detail: str | None = None


class RetrainPublic(BaseModel):
    dry_run: bool
    base_fingerprint: str
    data: list[RetrainItemPublic]
    count: int
    queued: int
    estimated_s: float | None = Field(description="Sum of the known estimates.")


class JobEventPublic(BaseModel):
    kind: str
    message: str
    data: dict[str, Any] | None
    created_at: datetime

    @classmethod
    def of(cls, event: JobEvent) -> "JobEventPublic":
        return cls(
            kind=event.kind, message=event.message, data=event.data, created_at=event.created_at
        )


class JobPublic(BaseModel):
    id: int
    name: str
    version: int
    state: str
    stage: str
    progress: float
    step: int
    total_steps: int
    loss: float | None
    tokens_per_s: float | None
    eta_s: float | None
    attempts: int
    params: dict[str, Any]
    data: dict[str, Any] | None
    metrics: dict[str, Any] | None
    error: str | None
    adapter_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    events: list[JobEventPublic] | None = None

    @classmethod
    def of(
        cls, job: Job, *, name: str, version: int, events: list[JobEvent] | None = None
    ) -> "JobPublic":
        return cls(
            id=job.id,
            name=name,
            version=version,
            state=job.state,
            stage=job.stage,
            progress=job.progress,
            step=job.step,
            total_steps=job.total_steps,
            loss=job.loss,
            tokens_per_s=job.tokens_per_s,
            eta_s=job.eta_s,
            attempts=job.attempts,
            params=job.params,
            data=job.data,
            metrics=job.metrics,
            error=job.error,
            adapter_id=job.adapter_id,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            events=[JobEventPublic.of(e) for e in events] if events is not None else None,
        )
