from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from service.models.base import created_at_field, json_field, optional_time_field


class Evaluation(SQLModel, table=True):
    """An eval-only run: a version's active adapter (and/or the base model) scored on an eval
    set without training; kept to follow a version's figures over time (drift)."""

    __tablename__ = "evaluations"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="teams.id", index=True, nullable=False)
    schema_version_id: int = Field(foreign_key="schema_versions.id", index=True, nullable=False)
    adapter_id: int | None = Field(default=None)
    # "pinned" (the examples marked eval) or "traffic" (accepted traffic since `since`).
    eval_set: str = Field(max_length=16, nullable=False)
    since: datetime | None = optional_time_field()
    n: int = Field(nullable=False)
    # {"base"?, "adapter_unconstrained"?, "adapter_served"?}: the job's evaluation figures.
    results: dict[str, Any] = json_field()
    # The adapter's served field accuracy when it was promoted (its job's evaluation), what a
    # drop is measured from; the drop, and the warning when it exceeds the team's margin.
    baseline: float | None = Field(default=None)
    drop: float | None = Field(default=None)
    warning: str | None = Field(default=None)
    created_at: datetime = created_at_field()
