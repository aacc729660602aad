import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from service.deps import SessionDep, TeamDep
from service.inference import service
from service.inference.schemas import ChatCompletionBody, GenerateBody, GeneratePublic
from service.registry.service import list_subjects

router = APIRouter(tags=["inference"])


def runtime(request: Request) -> service.Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[service.Runtime, Depends(runtime)]


@router.get("/readyz", tags=["health"])
def readyz(rt: RuntimeDep) -> JSONResponse:
    """200 once the base model is loaded, 503 before (or if loading failed)."""
    if rt.engine.ready:
        return JSONResponse({"status": "ready", "model": rt.settings.base_model_name})
    body = {"error": "model_loading", "detail": rt.engine.error or "loading", "errors": []}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


@router.post("/v1/schemas/{name}/generate", response_model=GeneratePublic)
def generate(
    name: Annotated[str, Path(max_length=128)],
    body: GenerateBody,
    session: SessionDep,
    team: TeamDep,
    rt: RuntimeDep,
):
    """Answer `input` with JSON that validates against the schema (or a 422 that says why)."""
    target = service.registered_target(session, team=team, name=name, version=body.version)
    result = service.respond(
        rt,
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
def chat_completions(body: ChatCompletionBody, session: SessionDep, team: TeamDep, rt: RuntimeDep):
    """OpenAI-compatible: `model` is a schema name (`name@version`), or the base model with
    an inline `response_format` json_schema."""
    target, text = service.chat_target(session, team=team, body=body, settings=rt.settings)
    result = service.respond(
        rt,
        session,
        team=team,
        target=target,
        input=text,
        mode="auto",
        max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature or 0.0,
        seed=body.seed,
        endpoint="chat",
    )
    usage = result.usage
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": service.dumps(result.output),
                    "refusal": None,
                },
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        },
        "formwright": service.public_result(result, target).model_dump(by_alias=True),
    }


@router.get("/v1/models")
def list_models(session: SessionDep, team: TeamDep, rt: RuntimeDep) -> dict[str, Any]:
    """The base model and the team's schemas, as OpenAI models."""
    subjects, _ = list_subjects(session, team=team, deleted=False, offset=0, limit=10_000)
    created = int(time.time())
    models = [
        {
            "id": rt.settings.base_model_name,
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
