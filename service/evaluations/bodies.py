from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service.bodies import Id
from service.models import Evaluation


class EvaluationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    version: Id | None = Field(default=None, description="Schema version (default: latest).")
    set_: Literal["pinned", "traffic"] = Field(
        default="pinned",
        alias="set",
        description="The pinned eval examples, or accepted traffic since `since`.",
    )
    since: AwareDatetime | None = Field(
        default=None, description="With set 'traffic': accepted requests from this time on."
    )
    base: bool = Field(default=False, description="Score the base model few-shot too.")


class EvaluationPublic(BaseModel):
    id: int
    name: str
    version: int
    adapter_id: int | None
    eval_set: str
    since: datetime | None
    n: int
    results: dict[str, Any] = Field(
        description="base / adapter_unconstrained / adapter_served: conformance, exact match, "
        "field accuracy, per path; the same figures a job's evaluation gives on the same set."
    )
    baseline: float | None = Field(description="Served field accuracy at promotion.")
    drop: float | None
    warning: str | None = Field(description="Set when the drop exceeds the team's margin.")
    created_at: datetime

    @classmethod
    def of(cls, run: Evaluation, *, name: str, version: int) -> "EvaluationPublic":
        return cls(
            id=run.id,
            name=name,
            version=version,
            adapter_id=run.adapter_id,
            eval_set=run.eval_set,
            since=run.since,
            n=run.n,
            results=run.results,
            baseline=run.baseline,
            drop=run.drop,
            warning=run.warning,
            created_at=run.created_at,
        )
