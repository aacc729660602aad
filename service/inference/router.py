import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from runtime import RowWatch
from service.deps import SessionDep, TeamDep
from service.inference import openai_compat, service, streaming
from service.inference.bodies import ChatCompletionBody, GenerateBody, GeneratePublic
from service.registry.service import list_subjects

router = APIRouter(tags=["inference"])


def inference(request: Request) -> service.Inference:
    return request.app.state.inference


InferenceDep = Annotated[service.Inference, Depends(inference)]


@router.get("/readyz", tags=["health"])
def readyz(inf: InferenceDep) -> JSONResponse:
    """200 once the base model is loaded, 503 before (or if loading failed)."""
    if inf.runtime.ready:
        return JSONResponse({"status": "ready", "model": inf.settings.base_model_name})
    body = {"error": "model_loading", "detail": inf.runtime.error or "loading", "errors": []}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


async def unless_gone(request: Request, respond: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """`respond(*args, watch=..., **kw)` in the thread pool; a client that goes away before the
    answer cancels its row, so decoding stops within a step (the log says 499 "cancelled")."""
    watch = RowWatch()
    task = asyncio.ensure_future(run_in_threadpool(respond, *args, watch=watch, **kw))
    while not (await asyncio.wait({task}, timeout=0.25))[0]:
        if await request.is_disconnected():
            watch.cancel()
            break
    return await task


@router.post("/v1/schemas/{name}/generate", response_model=GeneratePublic)
async def generate(
    name: Annotated[str, Path(max_length=128)],
    body: GenerateBody,
    request: Request,
    session: SessionDep,
    team: TeamDep,
    inf: InferenceDep,
):
    """Answer `input` with JSON that validates against the schema (or a 422 that says why)."""
    target = await run_in_threadpool(
        service.registered_target, session, team=team, name=name, version=body.version
    )
    result = await unless_gone(
        request,
        service.respond,
        inf,
        session,
        team=team,
        target=target,
        input=body.input,
        mode=body.mode,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        seed=body.seed,
        endpoint="generate",
    )
    return service.public_result(result, target)


@router.post("/v1/chat/completions")
async def chat_completions(
    body: ChatCompletionBody,
    request: Request,
    session: SessionDep,
    team: TeamDep,
    inf: InferenceDep,
):
    """OpenAI-compatible: `model` is a schema name (`name@version`), or the base model with
    an inline `response_format` json_schema or a tool; conversations, tools and streaming
    as the OpenAI API has them."""
    plan = await run_in_threadpool(
        openai_compat.chat_plan, session, team=team, body=body, settings=inf.settings
    )
    options = {
        "max_tokens": body.max_completion_tokens or body.max_tokens,
        "temperature": body.temperature or 0.0,
        "seed": body.seed,
    }
    if plan.stream and plan.enforced:
        return await streaming.stream_as_decoded(
            inf, request.app.state.db_engine, team=team, plan=plan, **options
        )
    result = await unless_gone(
        request,
        service.respond,
        inf,
        session,
        team=team,
        target=plan.target,
        input=plan.conversation,
        mode="auto",
        endpoint="chat",
        **options,
    )
    if plan.stream:
        return streaming.stream_whole(result, plan)
    return openai_compat.chat_completion(result, plan)


@router.get("/v1/models")
def list_models(session: SessionDep, team: TeamDep, inf: InferenceDep) -> dict[str, Any]:
    """The base model and the team's schemas, as OpenAI models."""
    subjects, _ = list_subjects(session, team=team, deleted=False, offset=0, limit=10_000)
    created = int(time.time())
    models = [
        {
            "id": inf.settings.base_model_name,
            "object": "model",
            "created": created,
            "owned_by": "formwright",
        }
    ]
    models += [
        {
            "id": s["name"],
            "object": "model",
            "created": int(s["created_at"].timestamp()),
            "owned_by": team.name,
        }
        for s in subjects
    ]
    return {"object": "list", "data": models}
