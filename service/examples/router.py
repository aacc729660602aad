from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from service.bodies import Id, Page, Pagination, pagination
from service.deps import SessionDep, TeamDep
from service.errors import Unprocessable
from service.examples import service
from service.examples.bodies import CarryCreate, ExamplePublic, ExamplesAdded, ExamplesCarried
from service.jsonbody import decode_text, loads

router = APIRouter(prefix="/v1", tags=["examples"])

Name = Annotated[str, Path(max_length=128)]
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines", "text/")


async def example_rows(request: Request) -> tuple[list[Any], list[dict[str, Any]]]:
    """The rows of a body: one object, a JSON list, a JSONL body or a JSONL file upload."""
    content_type = request.headers.get("content-type", "application/json").lower()
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Unprocessable("Upload the JSONL file in the form field 'file'.", code="no_file")
        return service.parse_jsonl(decode_text(await upload.read()))
    raw = decode_text(await request.body())
    if content_type.startswith(JSONL_TYPES):
        return service.parse_jsonl(raw)
    body = loads(raw)
    return (body if isinstance(body, list) else [body]), []


@router.post("/schemas/{name}/examples", response_model=ExamplesAdded, status_code=201)
async def add_examples(
    name: Name,
    request: Request,
    response: Response,
    session: SessionDep,
    team: TeamDep,
    version: Id | None = None,
):
    """Add `{input, output, eval?}` pairs or `{input}` inputs: one, a JSON list, or JSONL."""
    rows, parse_errors = await example_rows(request)
    result = await run_in_threadpool(
        service.add_examples,
        session,
        team=team,
        name=name,
        rows=rows,
        version=version,
        parse_errors=parse_errors,
    )
    if not result["added"]:
        response.status_code = 200
    return result


@router.post("/schemas/{name}/examples/carry", response_model=ExamplesCarried)
def carry_examples(name: Name, body: CarryCreate, session: SessionDep, team: TeamDep):
    """Copy the examples of one version that validate against another (schema evolution); each
    one that does not is reported with its path and reason. Carrying twice adds nothing."""
    return service.carry_examples(
        session, team=team, name=name, source=body.from_version, target=body.to_version
    )


@router.get("/schemas/{name}/examples", response_model=Page[ExamplePublic])
def list_examples(
    name: Name,
    session: SessionDep,
    team: TeamDep,
    page: Annotated[Pagination, Depends(pagination)],
    version: Id | None = None,
    labeled: bool | None = None,
    source: str | None = None,
):
    """A schema's examples, oldest first, filtered by version, labeled and source."""
    rows, total = service.list_examples(
        session,
        team=team,
        name=name,
        version=version,
        labeled=labeled,
        source=source,
        offset=page.offset,
        limit=page.limit,
    )
    return Page(data=[ExamplePublic.of(e) for e in rows], count=total)


@router.delete("/schemas/{name}/examples/{id}", status_code=204)
def delete_example(name: Name, id: Id, session: SessionDep, team: TeamDep):
    """Delete one example."""
    service.delete_example(session, team=team, name=name, id=id)
