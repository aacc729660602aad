from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from service.bodies import Page, Pagination, pagination
from service.deps import SessionDep, TeamDep, check_scrape_token
from service.metrics import prom, service
from service.metrics.bodies import (
    AcceptBody,
    Accepted,
    RequestPublic,
    SchemaHealth,
    SchemaMetrics,
)

router = APIRouter(tags=["metrics"])

Name = Annotated[str, Path(max_length=128)]


@router.get("/v1/schemas/{name}/metrics", response_model=SchemaMetrics)
def schema_metrics(
    name: Name,
    session: SessionDep,
    team: TeamDep,
    since: Annotated[datetime | None, Query(description="ISO-8601; default until - 1 day")] = None,
    until: Annotated[datetime | None, Query(description="ISO-8601; default now")] = None,
    bucket: Annotated[str | None, Query(max_length=16, description="5m, 1h, 1d...")] = None,
):
    """Conformance, fallback, 422s, latency and tokens/s per version and adapter, over time,
    with each adapter's held-out evaluation next to the base model's."""
    return service.schema_metrics(
        session, team=team, name=name, since=since, until=until, bucket=bucket
    )


@router.get("/v1/metrics/schemas", response_model=Page[SchemaHealth])
def schemas_health(session: SessionDep, team: TeamDep):
    """Every schema with its last day's volume, conformance, fallback rate and health colour."""
    rows = service.schema_health(session, team=team)
    return Page(data=[SchemaHealth(**r) for r in rows], count=len(rows))


@router.get("/v1/schemas/{name}/requests", response_model=Page[RequestPublic])
def list_requests(
    name: Name,
    session: SessionDep,
    team: TeamDep,
    page: Annotated[Pagination, Depends(pagination)],
    version: Annotated[int | None, Query(ge=1, le=10**9)] = None,
    valid: bool | None = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
):
    """A schema's logged requests, newest first: the traffic to review."""
    rows, total = service.list_requests(
        session,
        team=team,
        name=name,
        version=version,
        valid=valid,
        status_code=status,
        offset=page.offset,
        limit=page.limit,
    )
    return Page(data=[RequestPublic.of(r, name=name, version=v) for r, v in rows], count=total)


@router.post("/v1/requests/{id}/accept", response_model=Accepted, status_code=201)
def accept_request(
    id: Annotated[int, Path(ge=1, le=2**62)],
    response: Response,
    session: SessionDep,
    team: TeamDep,
    body: AcceptBody | None = None,
):
    """Store a logged request (optionally with a corrected `output`) as a training example;
    200 when it is already one."""
    corrected = {"output": body.output} if body and "output" in body.model_fields_set else {}
    result = service.accept_request(session, team=team, id=id, **corrected)
    if not result["added"]:
        response.status_code = 200
    return result


@router.get(
    "/metrics",
    tags=["health"],
    include_in_schema=False,
    dependencies=[Depends(check_scrape_token)],
)
def prometheus(request: Request) -> Response:
    """Prometheus text exposition: requests, latency, tokens, queue depth, jobs by state."""
    inference = request.app.state.inference
    body = prom.render(
        request.app.state.db_engine,
        queue_depth=inference.scheduler.depth,
        base_fingerprint=inference.runtime.model_fingerprint,
        side=inference.side_fingerprints,
    )
    return Response(body, media_type=prom.CONTENT_TYPE)
