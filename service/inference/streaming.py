"""Streamed chat completions: `chat.completion.chunk` server-sent events, as OpenAI sends them.

Tokens stream as decoded only when decoding enforces every keyword of the schema; otherwise
the stream carries the validated answer in one piece (README, "Calling it from code").
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.engine import Engine
from starlette.responses import StreamingResponse

from runtime import GenerateResult, RowWatch
from service.db import session_scope
from service.errors import FormwrightError
from service.inference.openai_compat import ChatPlan, finish_reason, tool_call_id, usage_json
from service.inference.service import Inference, dumps, respond
from service.models import Team

log = logging.getLogger(__name__)
NO_BUFFERING = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ChunkWriter:
    """The `chat.completion.chunk` server-sent events of one streamed answer."""

    def __init__(self, plan: ChatPlan) -> None:
        self.plan = plan

    def event(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        chunk = {
            "id": self.plan.id,
            "object": "chat.completion.chunk",
            "created": self.plan.created,
            "model": self.plan.model,
            "choices": choices,
            **extra,
        }
        if self.plan.include_usage:
            chunk.setdefault("usage", None)
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    def delta(self, delta: dict[str, Any], finish: str | None = None) -> str:
        return self.event([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])

    def start(self) -> str:
        if self.plan.tool:
            call = {
                "index": 0,
                "id": tool_call_id(),
                "type": "function",
                "function": {"name": self.plan.tool, "arguments": ""},
            }
            return self.delta({"role": "assistant", "content": None, "tool_calls": [call]})
        return self.delta({"role": "assistant", "content": ""})

    def text(self, piece: str) -> str:
        if self.plan.tool:
            return self.delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        return self.delta({"content": piece})

    def end(self, result: GenerateResult) -> str:
        events = self.delta({}, finish_reason(result, self.plan))
        if self.plan.include_usage:
            events += self.event([], usage=usage_json(result))
        return events + "data: [DONE]\n\n"

    def error(self, exc: FormwrightError) -> str:
        """An error after the stream started, as OpenAI sends one (the SDKs raise it from the
        iterator), with our `detail` and itemized `errors` beside it."""
        error = {"message": exc.detail, "type": exc.code, "code": exc.code, "param": None}
        event = {"error": error, "detail": exc.detail, "errors": exc.errors}
        return f"data: {json.dumps(event, ensure_ascii=False)}\n\n"


async def stream_as_decoded(
    inference: Inference,
    db_engine: Engine,
    *,
    team: Team,
    plan: ChatPlan,
    max_tokens: int | None,
    temperature: float,
    seed: int | None,
) -> StreamingResponse:
    """Stream the answer's text as the grammar lets the model write it.

    Only for schemas whose every keyword decoding enforces (`plan.enforced`): constrained
    decoding (with the adapter, if any) cannot produce an answer that fails validation, except
    by running out of `max_tokens`, which ends the stream with an error event. Errors before
    the first token (queue full, model loading, limits) are plain HTTP errors. A client that
    goes away cancels the row: decoding stops within a step.
    """
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def put(kind: str, value: Any) -> None:
        loop.call_soon_threadsafe(events.put_nowait, (kind, value))

    watch = RowWatch(on_text=lambda piece: put("text", piece))

    def work() -> None:
        # Its own session: the request's closes when the response starts.
        try:
            with session_scope(db_engine) as session:
                result = respond(
                    inference,
                    session,
                    team=team,
                    target=plan.target,
                    input=plan.conversation,
                    mode="constrained",
                    max_tokens=max_tokens,
                    temperature=temperature,
                    seed=seed,
                    endpoint="chat",
                    watch=watch,
                )
            put("done", result)
        except FormwrightError as exc:
            put("error", exc)
        except Exception as exc:  # noqa: BLE001 - a bug, reported to the client as a 500
            log.exception("streaming a chat completion failed")
            put("error", FormwrightError(str(exc), status_code=500, code="internal_error"))

    threading.Thread(target=work, name="chat-stream", daemon=True).start()
    first = await events.get()
    if first[0] == "error":
        watch.cancel()  # a 504 leaves its row decoding otherwise
        raise first[1]
    writer = ChunkWriter(plan)

    async def body() -> AsyncIterator[str]:
        kind, value = first
        sent = ""
        try:
            yield writer.start()
            while True:
                if kind == "text":
                    sent += value
                    yield writer.text(value)
                elif kind == "done":
                    rest = value.raw[len(sent) :] if value.raw.startswith(sent) else ""
                    if rest:
                        yield writer.text(rest)
                    yield writer.end(value)
                    return
                else:
                    yield writer.error(value)
                    return
                kind, value = await events.get()
        finally:
            watch.cancel()  # the client went away (or the answer is complete: no-op)

    return StreamingResponse(body(), media_type="text/event-stream", headers=NO_BUFFERING)


def stream_whole(result: GenerateResult, plan: ChatPlan) -> StreamingResponse:
    """The validated answer as a stream of one content chunk (schemas decoding does not
    fully enforce: their tokens could still turn out invalid)."""
    writer = ChunkWriter(plan)
    events = [writer.start(), writer.text(dumps(result.output)), writer.end(result)]
    return StreamingResponse(iter(events), media_type="text/event-stream", headers=NO_BUFFERING)
