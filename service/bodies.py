"""API models shared by every domain: pages and pagination parameters."""

from typing import Annotated, Generic, TypeVar

from annotated_types import Ge, Le
from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")

# Every id, version and count a client sends is compared with a 64-bit column: a larger number
# must be a 422, not the driver's OverflowError. Use these in paths, queries and bodies alike.
DB_INT_MAX = 2**63 - 1
Id = Annotated[int, Ge(1), Le(DB_INT_MAX)]
# A version in a path or a model name: ASCII digits only (str.isdigit also takes "²" and "١").
VERSION_REF = r"^(latest|[1-9][0-9]{0,8})$"


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int


class Pagination(BaseModel):
    offset: int
    limit: int


def pagination(
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Pagination:
    return Pagination(offset=offset, limit=limit)
