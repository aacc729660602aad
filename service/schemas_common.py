"""API models shared by every domain: pages and pagination parameters."""

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")


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
