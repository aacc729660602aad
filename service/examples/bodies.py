from datetime import datetime
from typing import Any

from pydantic import BaseModel

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
