"""The OpenAI-compatible surface: what a chat request asks for, and the completion it gets.

A request becomes a `ChatPlan`: the target schema (a registered version, an inline
`response_format` schema, or a tool's `parameters`), the conversation that is the prompt, and
how to answer (content or one tool call, whole or streamed). Everything the server cannot do
as asked is a 422 naming the field, never a silent drop.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from runtime import GenerateResult
from schemas.canonical import fingerprint
from schemas.capabilities import ANNOTATIONS, capability_report
from schemas.walk import SCHEMA_KEYWORDS, SCHEMA_LIST_KEYWORDS, SCHEMA_MAP_KEYWORDS
from service.bodies import VERSION_REF
from service.config import Settings
from service.errors import NotFound, Unprocessable
from service.inference.bodies import (
    NEUTRAL_PARAMETERS,
    ChatCompletionBody,
    ChatMessage,
    FunctionTool,
    NamedToolChoice,
)
from service.inference.service import (
    Target,
    dumps,
    inline_target,
    public_result,
    registered_target,
)
from service.models import Team
from service.registry.service import prepare_schema


@dataclass
class ChatPlan:
    """How one chat request is answered."""

    target: Target
    conversation: list[dict[str, str]]  # user/assistant turns, the prompt after the few shots
    model: str
    tool: str | None = None  # answer with a call of this function instead of content
    named_tool: bool = False  # tool_choice named it (finish_reason "stop", as OpenAI does)
    stream: bool = False
    include_usage: bool = False
    # Every keyword of the schema is enforced while decoding: tokens may be streamed as they
    # are decoded, the answer cannot turn invalid on the way.
    enforced: bool = False
    id: str = field(default_factory=lambda: "chatcmpl-" + uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))


def refuse(detail: str, path: str, message: str, *, code: str = "unsupported_parameter"):
    return Unprocessable(detail, code=code, errors=[{"path": path, "message": message}])


# --- the request --------------------------------------------------------------------------


def check_parameters(body: ChatCompletionBody) -> None:
    for name, neutral in NEUTRAL_PARAMETERS.items():
        value = getattr(body, name)
        if value not in neutral:
            raise refuse(
                f"{name} is not supported: Formwright answers with the schema's JSON and "
                "would not honour it.",
                f"/{name}",
                f"must be omitted (or {neutral[-1]!r})",
            )
    if body.n != 1:
        raise refuse("n must be 1: one answer per request.", "/n", f"{body.n} > 1")
    if body.stream_options is not None and not body.stream:
        raise refuse(
            "stream_options is only allowed with stream: true.", "/stream_options", "no stream"
        )


def message_text(message: ChatMessage, index: int) -> str:
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for j, part in enumerate(content):
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise refuse(
                "Only text content is supported.",
                f"/messages/{index}/content/{j}",
                f"part type {part.get('type')!r}",
            )
        texts.append(part["text"])
    return "\n".join(texts)


def read_messages(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """(instructions, conversation): system/developer text joins the instructions; user and
    tool messages are user turns (the model knows no other), an assistant's tool call is the
    JSON it answered."""
    instructions, conversation = [], []
    for i, message in enumerate(messages):
        text = message_text(message, i)
        if message.role in ("system", "developer"):
            instructions.append(text)
        elif message.role == "assistant":
            calls = [c.function.arguments for c in message.tool_calls or []]
            text = "\n".join(filter(None, [text, *calls]))
            if text.strip():
                conversation.append({"role": "assistant", "content": text})
        else:
            conversation.append({"role": "user", "content": text})
    if not conversation or conversation[-1]["role"] != "user" or not conversation[-1]["content"]:
        raise refuse(
            "The conversation must end with a user (or tool) message with text: it is what "
            "the answer responds to.",
            "/messages",
            "no final user message with text",
            code="no_input",
        )
    return "\n".join(filter(None, instructions)).strip(), conversation


def without_annotations(schema: Any) -> Any:
    """`schema` without annotation keywords (title, description, ...), which do not change
    what validates: two schemas that differ only there are the same schema to a client."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ANNOTATIONS and key not in ("$defs", "definitions", "$id", "$schema"):
            continue
        if key in SCHEMA_KEYWORDS:
            out[key] = without_annotations(value)
        elif key in SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            out[key] = [without_annotations(v) for v in value]
        elif key in SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            out[key] = {k: without_annotations(v) for k, v in value.items()}
        else:
            out[key] = value
    return out


def same_schema(a: Any, b: Any) -> bool:
    return fingerprint(without_annotations(a)) == fingerprint(without_annotations(b))


def check_same(target: Target, schema: dict[str, Any] | None, path: str) -> None:
    """A request naming a registered schema may restate it, not change it."""
    if schema is not None:
        prepare_schema(schema)  # a 422 for a hostile document before anything walks it
    registered: list[Any] = [target.schema]
    if target.version is not None:  # as registered, and the registry's internal form
        registered += [target.version.body, getattr(target.version, "document", None)]
    if schema is not None and not any(same_schema(schema, r) for r in registered if r):
        ref = target.ref or {}
        raise refuse(
            f"This schema differs from {ref.get('name')} version {ref.get('version')}, which "
            "answers the request: send it unchanged (annotations aside), only its name, or "
            "register the new schema as the next version.",
            path,
            "differs from the registered schema",
            code="schema_mismatch",
        )


def parse_model(model: str) -> tuple[str, str | None]:
    name, at, version = model.partition("@")
    if at and not re.fullmatch(VERSION_REF, version):
        raise refuse(
            "A model is a schema name, optionally with @version (e.g. weather@2).",
            "/model",
            repr(model),
            code="invalid_model",
        )
    return name, version or None


def lookup(session: Session, *, team: Team, model: str) -> Target | None:
    """The registered target `model` names, or None when no such schema exists."""
    name, version = parse_model(model)
    try:
        return registered_target(session, team=team, name=name, version=version)
    except NotFound:
        return None


def choose_tool(body: ChatCompletionBody) -> tuple[int, FunctionTool, bool] | None:
    """(index, function, named) of the tool to call, or None to answer with content."""
    tools = body.tools or []
    choice = body.tool_choice
    if not tools:
        if choice not in (None, "none"):
            raise refuse("tool_choice needs tools.", "/tool_choice", "no tools given")
        return None
    for i, tool in enumerate(tools):
        if tool.type != "function" or tool.function is None:
            raise refuse("Only function tools are supported.", f"/tools/{i}/type", repr(tool.type))
    if choice == "none":
        return None
    if body.parallel_tool_calls and len(tools) > 1:
        raise refuse(
            "parallel_tool_calls with several tools is not supported: Formwright answers "
            "with one call. Set parallel_tool_calls to false and name the function in "
            "tool_choice.",
            "/parallel_tool_calls",
            "must be false with several tools",
        )
    if isinstance(choice, NamedToolChoice):
        for i, tool in enumerate(tools):
            if tool.function is not None and tool.function.name == choice.function.name:
                return i, tool.function, True
        raise refuse(
            f"tool_choice names {choice.function.name!r}, which is not among the tools.",
            "/tool_choice/function/name",
            "no such tool",
        )
    if len(tools) > 1:
        raise refuse(
            f"tool_choice {choice or 'auto'!r} with several tools is not supported: "
            "Formwright does not pick among tools. Name the function in tool_choice.",
            "/tool_choice",
            "name one function",
        )
    function = tools[0].function
    assert function is not None
    return 0, function, False


def tool_target(
    session: Session,
    *,
    team: Team,
    model_target: Target | None,
    function: FunctionTool,
    index: int,
) -> Target:
    """The schema of a tool call: the model's registered schema, the registered schema the
    tool is named after, or the tool's own `parameters`."""
    path = f"/tools/{index}/function/parameters"
    target = model_target or lookup(session, team=team, model=function.name)
    if target is not None:
        check_same(target, function.parameters, path)
        return target
    if function.parameters is None:
        raise refuse(
            f"The tool {function.name!r} has no parameters and names no registered schema.",
            path,
            "a JSON Schema is required",
            code="schema_required",
        )
    return inline_target(function.parameters, description=function.description)


def format_target(
    body: ChatCompletionBody, *, model_target: Target | None, settings: Settings
) -> Target:
    fmt = body.response_format
    json_schema = fmt.json_schema if fmt is not None and fmt.type == "json_schema" else None
    if model_target is not None:
        if json_schema is not None:
            check_same(model_target, json_schema.schema_, "/response_format/json_schema/schema")
        return model_target
    if fmt is None or fmt.type == "text":
        raise refuse(
            "Ask the base model with response_format json_schema (or json_object, or a tool), "
            "or use a registered schema's name as the model.",
            "/response_format",
            "a JSON schema is required",
            code="schema_required",
        )
    if fmt.type == "json_object":
        return inline_target({"type": "object"})
    if json_schema is None or json_schema.schema_ is None:
        raise refuse(
            "response_format.json_schema.schema is required.",
            "/response_format/json_schema/schema",
            "missing",
            code="schema_required",
        )
    return inline_target(json_schema.schema_, description=json_schema.description)


def unenforced(target: Target) -> list[dict[str, str]]:
    """Keyword occurrences decoding does not enforce (checked only after generation)."""
    if target.version is not None and target.version.capabilities:
        report = target.version.capabilities
    else:
        report = capability_report(target.schema)
    return [*report.get("validated_after", []), *report.get("refused", [])]


def chat_plan(
    session: Session, *, team: Team, body: ChatCompletionBody, settings: Settings
) -> ChatPlan:
    """Everything a chat request asks for, checked; a 422 for what cannot be done as asked."""
    check_parameters(body)
    system, conversation = read_messages(body.messages)
    model_target = None
    if body.model != settings.base_model_name:
        name, version = parse_model(body.model)
        model_target = registered_target(session, team=team, name=name, version=version)
    chosen = choose_tool(body)
    strict = False
    if chosen is not None:
        index, function, named = chosen
        target = tool_target(
            session, team=team, model_target=model_target, function=function, index=index
        )
        strict = bool(function.strict)
        strict_path = f"/tools/{index}/function/strict"
    else:
        target = format_target(body, model_target=model_target, settings=settings)
        fmt = body.response_format
        strict = bool(fmt and fmt.json_schema and fmt.json_schema.strict)
        strict_path = "/response_format/json_schema/strict"
    missing = unenforced(target)
    if strict and missing:
        raise Unprocessable(
            "strict: true, but decoding cannot enforce every keyword of this schema; these "
            "are only checked after generation: "
            + ", ".join(sorted({m["keyword"] for m in missing}))
            + ". Send strict: false to accept that (the answer is still validated).",
            code="strict_unsupported",
            errors=[{"path": strict_path, "message": "not every keyword can be enforced"}]
            + [
                {"path": m["path"], "message": m.get("note", ""), "keyword": m["keyword"]}
                for m in missing
            ],
        )
    if system:
        target.instructions = "\n".join(filter(None, [target.instructions, system]))
    return ChatPlan(
        target=target,
        conversation=conversation,
        model=body.model,
        tool=chosen[1].name if chosen else None,
        named_tool=bool(chosen and chosen[2]),
        stream=bool(body.stream),
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
        enforced=not missing,
    )


# --- the answer ---------------------------------------------------------------------------


def usage_json(result: GenerateResult) -> dict[str, int]:
    usage = result.usage
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def finish_reason(result: GenerateResult, plan: ChatPlan) -> str:
    """ "length" when max_tokens ended the answer (closed early: still valid, a string may be
    cut short), else what OpenAI says for a complete one."""
    if result.finish_reason == "length":
        return "length"
    return "tool_calls" if plan.tool and not plan.named_tool else "stop"


def tool_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def chat_completion(result: GenerateResult, plan: ChatPlan) -> dict[str, Any]:
    """The OpenAI chat completion object of an answer, with our own details under `formwright`."""
    content = dumps(result.output)
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if plan.tool:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": tool_call_id(),
                "type": "function",
                "function": {"name": plan.tool, "arguments": content},
            }
        ]
    return {
        "id": plan.id,
        "object": "chat.completion",
        "created": plan.created,
        "model": plan.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason(result, plan),
                "logprobs": None,
            }
        ],
        "usage": usage_json(result),
        "formwright": public_result(result, plan.target).model_dump(by_alias=True),
    }
