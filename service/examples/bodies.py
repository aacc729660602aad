from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.bodies import Id
from service.models import Example


class ExamplePublic(BaseModel):
    id: int
    input: str
    output: Any
    labeled: bool
    eval: bool
    source: str
    schema_version_id: int
    created_at: datetime

    @classmethod
    def of(cls, example: Example) -> "ExamplePublic":
        return cls(
            id=example.id,
            input=example.input,
            output=example.output,
            labeled=example.labeled,
            eval=example.eval,
            source=example.source,
            schema_version_id=example.schema_version_id,
            created_at=example.created_at,
        )


class ExamplesAdded(BaseModel):
    name: str
    version: int
    added: int
    duplicates: int
    ids: list[int]


class CarryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_version: Id = Field(alias="from", description="The version whose examples to carry.")
    to_version: Id | None = Field(
        default=None, alias="to", description="The version to carry them to (default: latest)."
    )


class CarryError(BaseModel):
    example_id: int
    index: int
    path: str
    message: str


class ExamplesCarried(BaseModel):
    name: str
    from_version: int
    to_version: int
    examined: int
    carried: int
    already_present: int = Field(description="Already in the target version: not added again.")
    rejected: int = Field(description="Examples that do not validate against the target.")
    ids: list[int]
    errors: list[CarryError] = Field(description="Why each rejected example does not validate.")
