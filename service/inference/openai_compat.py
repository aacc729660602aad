"""The OpenAI-compatible surface: a chat request's target and input, and the chat completion."""

import time
import uuid
from typing import Any

from sqlmodel import Session

from runtime import GenerateResult
from service.config import Settings
from service.errors import Unprocessable
from service.inference.bodies import ChatCompletionBody
from service.inference.service import (
    Target,
    dumps,
    inline_target,
    public_result,
    registered_target,
)
from service.models import Team


def message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


def chat_target(
    session: Session, *, team: Team, body: ChatCompletionBody, settings: Settings
) -> tuple[Target, str]:
    """The target and the input of an OpenAI chat request.

    The input is the last user message; system/developer messages join the instructions.
    """
    users = [m for m in body.messages if m.role == "user"]
    if not users or not message_text(users[-1].content).strip():
        raise Unprocessable(
            "The messages need a user message with text: it is the input.",
            code="no_input",
            errors=[{"path": "/messages", "message": "no user message with text"}],
        )
    text = message_text(users[-1].content)
    system = "\n".join(
        message_text(m.content) for m in body.messages if m.role in ("system", "developer")
    ).strip()
    if body.stream:
        raise Unprocessable(
            "Streaming is not supported: the answer is validated whole before it is sent.",
            code="stream_unsupported",
            errors=[{"path": "/stream", "message": "must be false"}],
        )
    fmt = body.response_format
    if body.model == settings.base_model_name:
        if fmt is None or fmt.type == "text":
            raise Unprocessable(
                "Ask the base model with response_format json_schema (or json_object), or use "
                "a registered schema's name as the model.",
                code="schema_required",
                errors=[{"path": "/response_format", "message": "a JSON schema is required"}],
            )
        if fmt.type == "json_object":
            target = inline_target({"type": "object"})
        else:
            if fmt.json_schema is None or fmt.json_schema.schema_ is None:
                raise Unprocessable(
                    "response_format.json_schema.schema is required.",
                    code="schema_required",
                    errors=[{"path": "/response_format/json_schema/schema", "message": "missing"}],
                )
            target = inline_target(fmt.json_schema.schema_, description=fmt.json_schema.description)
    else:
        name, _, version = body.model.partition("@")
        if version and not version.isdigit():
            raise Unprocessable(
                "A model is a schema name, optionally with @version (e.g. weather@2).",
                code="invalid_model",
                errors=[{"path": "/model", "message": f"{body.model!r}"}],
            )
        target = registered_target(session, team=team, name=name, version=version or None)
    if system:
        target.instructions = "\n".join(filter(None, [target.instructions, system]))
    return target, text


def chat_completion(result: GenerateResult, target: Target, *, model: str) -> dict[str, Any]:
    """The OpenAI chat completion object of an answer, with our own details under `formwright`."""
    usage = result.usage
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": dumps(result.output),
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
        "formwright": public_result(result, target).model_dump(by_alias=True),
    }
