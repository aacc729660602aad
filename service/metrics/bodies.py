from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.models import RequestLog


class Latency(BaseModel):
    p50: float | None
    p95: float | None
    p99: float | None


class Stats(BaseModel):
    requests: int
    succeeded: int
    conformance: float | None = Field(
        description="Share of generated answers (outside `unconstrained` mode) that validated."
    )
    first_attempt_conformance: float | None = Field(
        description="Share of first attempts, before any fallback, that validated."
    )
    fallback_rate: float | None = Field(description="Share of generations needing a fallback.")
    error_rate: float | None
    rejected: dict[str, int] = Field(description="422 answers by reason.")
    failed: dict[str, int] = Field(description="Other 4xx/5xx answers by reason.")
    latency_ms: Latency
    tokens_per_s: float | None
    completion_tokens: int
    decoding: dict[str, int] = Field(description="Generations by decoding path.")


class Point(Stats):
    start: datetime


class GroupMetrics(BaseModel):
    version: int | None
    schema_version_id: int | None
    adapter_id: int | None
    stats: Stats
    series: list[Point]


class EvalView(BaseModel):
    conformance: float | None
    exact_match: float | None
    field_accuracy: float | None
    per_path: dict[str, float]
    n: int | None


class FieldComparison(BaseModel):
    path: str
    base: float | None
    adapter: float | None
    adapter_constrained: float | None


class AdapterEvaluation(BaseModel):
    adapter_id: int
    version: int | None
    job_id: int | None
    active: bool
    created_at: datetime
    base: EvalView | None
    adapter: EvalView | None
    adapter_constrained: EvalView | None
    fields: list[FieldComparison]


class SchemaMetrics(BaseModel):
    name: str
    since: datetime
    until: datetime
    bucket: str
    rows_read: int
    truncated: bool = Field(description="True when the window held more rows than were read.")
    overall: Stats
    series: list[Point]
    groups: list[GroupMetrics] = Field(description="Per schema version and adapter.")
    evaluations: list[AdapterEvaluation]


class SchemaHealth(BaseModel):
    name: str
    latest_version: int | None
    active_adapter_id: int | None
    requests: int
    conformance: float | None
    fallback_rate: float | None
    error_rate: float | None
    latency_p95_ms: float | None
    health: str


class RequestPublic(BaseModel):
    id: int
    name: str
    version: int | None
    adapter_id: int | None
    endpoint: str
    mode: str
    decoding: str | None
    status_code: int
    error: str | None
    valid: bool
    first_attempt_valid: bool | None
    attempts: int
    errors: list[dict[str, Any]] | None
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    input: str | None
    output: Any
    raw: str | None
    created_at: datetime

    @classmethod
    def of(cls, log: RequestLog, *, name: str, version: int | None) -> "RequestPublic":
        return cls(
            id=log.id,
            name=name,
            version=version,
            adapter_id=log.adapter_id,
            endpoint=log.endpoint,
            mode=log.mode,
            decoding=log.decoding,
            status_code=log.status_code,
            error=log.error,
            valid=log.valid,
            first_attempt_valid=log.first_attempt_valid,
            attempts=log.attempts,
            errors=log.errors,
            latency_ms=round(log.latency_ms, 1),
            prompt_tokens=log.prompt_tokens,
            completion_tokens=log.completion_tokens,
            input=log.input,
            output=log.output,
            raw=log.raw,
            created_at=log.created_at,
        )


class AcceptBody(BaseModel):
    """Accept a logged request as an example; `output` corrects the logged answer."""

    model_config = ConfigDict(extra="forbid")

    output: Any = None


class Accepted(BaseModel):
    request_id: int
    name: str
    version: int
    added: int
    duplicates: int
    ids: list[int]
