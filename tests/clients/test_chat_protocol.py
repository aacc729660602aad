"""The OpenAI-compatible endpoint with the official `openai` SDK over real HTTP (tiny model):
conversations, tools, response_format, strict, streaming, and the 422s for what it cannot do.

The tiny model's words are random; what these tests check is what a client relies on: the
shape of every answer, that arguments and content validate, and which requests are refused.
"""

from __future__ import annotations

import json
import time

import httpx
import jsonschema
import openai
import pytest
from sqlmodel import Session, select

from service.models import RequestLog
from tests.clients.conftest import WEATHER

USER = {"role": "user", "content": "will it snow in Oslo tomorrow?"}
FORECAST = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 20}, "days": {"enum": [1, 2, 3]}},
    "required": ["city", "days"],
    "additionalProperties": False,
}
# uniqueItems is checked after generation only (schemas/capabilities.py).
TAGS = {
    "type": "object",
    "properties": {
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2, "uniqueItems": True}
    },
    "required": ["tags"],
    "additionalProperties": False,
}


def tool(name: str, parameters: dict | None = None) -> dict:
    function: dict = {"name": name, "description": "Report the weather."}
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


def inline(schema: dict, **extra) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, **extra}}


def refused(live, body: dict) -> dict:
    r = live.post("/v1/chat/completions", {"max_tokens": 40, **body})
    assert r.status_code == 422, r.text
    return r.json()


# --- conversations ------------------------------------------------------------------------


def test_the_whole_conversation_is_the_prompt(tiny_live):
    client = tiny_live.openai()
    alone = client.chat.completions.create(model="weather", messages=[USER], max_tokens=40)
    history = [
        {"role": "system", "content": "Cities in English."},
        {"role": "user", "content": "is it sunny in Rome today?"},
        {"role": "assistant", "content": '{"city":"Rome","condition":"sun","when":"today"}'},
        USER,
    ]
    reply = client.chat.completions.create(model="weather", messages=history, max_tokens=40)
    # The earlier turns reached the model: the prompt grew by (at least) their tokens.
    assert reply.usage.prompt_tokens > alone.usage.prompt_tokens + 20
    jsonschema.validate(json.loads(reply.choices[0].message.content), WEATHER)


def test_a_history_longer_than_the_limit_is_422_with_the_limit(tiny_live):
    turn = "rain and wind in Bergen all week, and snow in the mountains. " * 3
    messages = [{"role": "user", "content": turn}, {"role": "assistant", "content": "{}"}] * 6
    body = refused(tiny_live, {"model": "weather", "messages": [*messages, USER]})
    assert body["error"] == "input_too_long"
    assert "200" in body["detail"]
    assert body["errors"][0]["path"] == "/messages"


def test_a_conversation_must_end_with_a_user_turn(tiny_live):
    body = refused(
        tiny_live, {"model": "weather", "messages": [USER, {"role": "assistant", "content": "{}"}]}
    )
    assert body["error"] == "no_input"


def test_non_text_content_is_refused(tiny_live):
    image = {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/x.png"}}
    body = refused(
        tiny_live, {"model": "weather", "messages": [{"role": "user", "content": [image]}]}
    )
    assert body["errors"][0]["path"] == "/messages/0/content/0"


# --- tools --------------------------------------------------------------------------------


def test_a_named_tool_answers_with_a_tool_call_whose_arguments_validate(tiny_live):
    reply = tiny_live.openai().chat.completions.create(
        model=tiny_live.base_model,
        messages=[USER],
        tools=[tool("forecast", FORECAST), tool("other", WEATHER)],
        tool_choice={"type": "function", "function": {"name": "forecast"}},
        parallel_tool_calls=False,
        max_tokens=40,
    )
    choice = reply.choices[0]
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "forecast"
    assert call.id
    jsonschema.validate(json.loads(call.function.arguments), FORECAST)
    assert choice.finish_reason == "stop"  # as OpenAI answers a named tool_choice


@pytest.mark.parametrize("tool_choice", ["auto", "required", None])
def test_one_tool_is_called_when_the_choice_is_open(tiny_live, tool_choice):
    extra = {} if tool_choice is None else {"tool_choice": tool_choice}
    reply = tiny_live.openai().chat.completions.create(
        model=tiny_live.base_model,
        messages=[USER],
        tools=[tool("forecast", FORECAST)],
        max_tokens=40,
        **extra,
    )
    assert reply.choices[0].finish_reason == "tool_calls"
    (call,) = reply.choices[0].message.tool_calls
    jsonschema.validate(json.loads(call.function.arguments), FORECAST)


def test_a_registered_schema_is_a_tool_by_name(tiny_live):
    reply = tiny_live.openai().chat.completions.create(
        model=tiny_live.base_model,
        messages=[USER],
        tools=[{"type": "function", "function": {"name": "weather"}}],
        tool_choice="required",
        max_tokens=40,
    )
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER)
    assert reply.model_extra["formwright"]["schema"]["name"] == "weather"


def test_a_tool_retry_conversation_is_accepted(tiny_live):
    # instructor's re-ask in TOOLS mode: its invalid call, then the error as a tool message.
    call = {"id": "call_1", "type": "function", "function": {"name": "forecast", "arguments": "{}"}}
    messages = [
        USER,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "days: Field required"},
    ]
    reply = tiny_live.openai().chat.completions.create(
        model=tiny_live.base_model,
        messages=messages,
        tools=[tool("forecast", FORECAST)],
        tool_choice={"type": "function", "function": {"name": "forecast"}},
        max_tokens=40,
    )
    arguments = reply.choices[0].message.tool_calls[0].function.arguments
    jsonschema.validate(json.loads(arguments), FORECAST)


NAMED_A = {"type": "function", "function": {"name": "a"}}
NAMED_ZZZ = {"type": "function", "function": {"name": "zzz"}}


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"tool_choice": "auto"}, "/tool_choice"),
        ({"tool_choice": "required", "parallel_tool_calls": False}, "/tool_choice"),
        ({"tool_choice": NAMED_A, "parallel_tool_calls": True}, "/parallel_tool_calls"),
        ({"tool_choice": NAMED_ZZZ}, "/tool_choice/function/name"),
    ],
)
def test_unsupported_tool_combinations_are_422(tiny_live, extra, path):
    tools = [tool("a", FORECAST), tool("b", WEATHER)]
    body = {"model": tiny_live.base_model, "messages": [USER], "tools": tools, **extra}
    body = refused(tiny_live, body)
    assert body["errors"][0]["path"] == path


def test_tool_parameters_that_differ_from_the_registered_schema_are_422(tiny_live):
    body = refused(
        tiny_live,
        {"model": "weather", "messages": [USER], "tools": [tool("weather", FORECAST)]},
    )
    assert body["error"] == "schema_mismatch"
    assert body["errors"][0]["path"] == "/tools/0/function/parameters"


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"n": 2}, "/n"),
        ({"top_p": 0.5}, "/top_p"),
        ({"stop": ["}"]}, "/stop"),
        ({"logprobs": True}, "/logprobs"),
        ({"frequency_penalty": 0.3}, "/frequency_penalty"),
        ({"functions": [{"name": "f"}]}, "/functions"),
        ({"stream_options": {"include_usage": True}}, "/stream_options"),
        ({"tool_choice": "required"}, "/tool_choice"),
        ({"best_of": 3}, "/best_of"),
    ],
)
def test_fields_that_would_change_the_answer_are_refused_not_ignored(tiny_live, extra, path):
    body = refused(tiny_live, {"model": "weather", "messages": [USER], **extra})
    assert path in [e["path"] for e in body["errors"]], body


def test_neutral_values_and_bookkeeping_fields_are_accepted(tiny_live):
    r = tiny_live.post(
        "/v1/chat/completions",
        {
            "model": "weather",
            "messages": [USER],
            "max_tokens": 40,
            "top_p": 1,
            "n": 1,
            "stream": False,
            "logprobs": False,
            "user": "u-1",
            "metadata": {"ticket": "42"},
            "store": False,
        },
    )
    assert r.status_code == 200, r.text


# --- response_format and strict -------------------------------------------------------------


def test_response_format_may_restate_or_name_the_registered_schema(tiny_live):
    client = tiny_live.openai()
    annotated = {**WEATHER, "title": "Weather", "description": "What the sky does."}
    for response_format in (
        inline(annotated),
        {"type": "json_schema", "json_schema": {"name": "weather"}},
        {"type": "json_object"},
    ):
        reply = client.chat.completions.create(
            model="weather", messages=[USER], response_format=response_format, max_tokens=40
        )
        jsonschema.validate(json.loads(reply.choices[0].message.content), WEATHER)


def test_response_format_with_another_schema_is_422_for_a_registered_model(tiny_live):
    body = refused(
        tiny_live, {"model": "weather", "messages": [USER], "response_format": inline(FORECAST)}
    )
    assert body["error"] == "schema_mismatch"
    assert body["errors"][0]["path"] == "/response_format/json_schema/schema"


def test_strict_is_refused_when_a_keyword_cannot_be_enforced(tiny_live):
    body = refused(
        tiny_live,
        {
            "model": tiny_live.base_model,
            "messages": [USER],
            "response_format": inline(TAGS, strict=True),
        },
    )
    assert body["error"] == "strict_unsupported"
    assert "uniqueItems" in body["detail"]
    assert {"path": "/properties/tags/uniqueItems", "keyword": "uniqueItems"}.items() <= (
        body["errors"][1].items()
    )
    # Fully enforceable: strict is honoured.
    reply = tiny_live.openai().chat.completions.create(
        model=tiny_live.base_model,
        messages=[USER],
        response_format=inline(FORECAST, strict=True),
        max_tokens=40,
    )
    jsonschema.validate(json.loads(reply.choices[0].message.content), FORECAST)


# --- streaming ----------------------------------------------------------------------------


def collect(stream) -> tuple[list, str, list]:
    chunks = list(stream)
    pieces = []
    for chunk in chunks:
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                pieces.append(delta.content)
            for call in delta.tool_calls or []:
                if call.function and call.function.arguments:
                    pieces.append(call.function.arguments)
    return chunks, "".join(pieces), pieces


def test_an_enforced_schema_streams_token_by_token_with_usage_last(tiny_live):
    stream = tiny_live.openai().chat.completions.create(
        model="weather",
        messages=[USER],
        max_tokens=40,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks, text, pieces = collect(stream)
    jsonschema.validate(json.loads(text), WEATHER)
    assert len(pieces) > 3, pieces  # as decoded, not in one piece
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks[:-1]][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


# Free text the random model goes on writing: it outruns a small budget.
STORY = {"type": "object", "properties": {"story": {"type": "string"}, "n": {"type": "integer"}},
         "required": ["story", "n"], "additionalProperties": False}  # fmt: skip


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_that_outruns_max_tokens_is_closed_valid_with_finish_reason_length(
    tiny_live, stream
):
    request = {
        "model": tiny_live.base_model,
        "messages": [USER],
        "response_format": inline(STORY),
        "max_tokens": 24,
    }
    client = tiny_live.openai()
    if stream:
        chunks, text, _ = collect(client.chat.completions.create(**request, stream=True))
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        reply = client.chat.completions.create(**request)
        text, finish = reply.choices[0].message.content, reply.choices[0].finish_reason
        assert reply.usage.completion_tokens <= 24
    jsonschema.validate(json.loads(text), STORY)
    assert finish == "length"


def test_a_schema_not_fully_enforced_streams_the_validated_answer_whole(tiny_live):
    stream = tiny_live.openai().chat.completions.create(
        model=tiny_live.base_model,
        messages=[USER],
        response_format=inline(TAGS),
        max_tokens=40,
        stream=True,
    )
    chunks, text, pieces = collect(stream)
    assert len(pieces) == 1
    jsonschema.validate(json.loads(text), TAGS)
    assert all(c.usage is None for c in chunks)


def test_a_tool_call_streams_its_arguments(tiny_live):
    stream = tiny_live.openai().chat.completions.create(
        model=tiny_live.base_model,
        messages=[USER],
        tools=[tool("forecast", FORECAST)],
        max_tokens=40,
        stream=True,
    )
    chunks, text, _ = collect(stream)
    first = chunks[0].choices[0].delta.tool_calls[0]
    assert first.function.name == "forecast"
    assert first.id
    jsonschema.validate(json.loads(text), FORECAST)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_a_refused_stream_is_a_plain_422(tiny_live):
    with pytest.raises(openai.UnprocessableEntityError):
        tiny_live.openai().chat.completions.create(
            model="weather", messages=[USER], stream=True, n=2
        )


# A long string under a big budget: hundreds of tokens if nobody stops it.
LONG = {"type": "object", "properties": {"text": {"type": "string", "minLength": 900}},
        "required": ["text"]}  # fmt: skip


def test_a_client_that_disconnects_stops_the_decoding(tiny_live):
    body = {
        "model": tiny_live.base_model,
        "messages": [USER],
        "response_format": inline(LONG),
        "max_tokens": 1000,
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {tiny_live.key}"}
    before = last_chat_log(tiny_live)
    with httpx.stream(
        "POST", tiny_live.url + "/v1/chat/completions", json=body, headers=headers, timeout=60
    ) as response:
        assert response.status_code == 200
        assert next(response.iter_lines()).startswith("data: ")
    # Closed after the first chunk: the row stops, and the log says so.
    assert_cancelled_after(tiny_live, before, fewer_than=200)


def test_a_client_that_gives_up_waiting_stops_the_decoding(tiny_live):
    body = {
        "model": tiny_live.base_model,
        "messages": [USER],
        "response_format": inline(LONG),
        "max_tokens": 1000,
    }
    headers = {"Authorization": f"Bearer {tiny_live.key}"}
    before = last_chat_log(tiny_live)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(tiny_live.url + "/v1/chat/completions", json=body, headers=headers, timeout=0.5)
    # Stopped before its budget (how far it got in 0.5 s depends on the machine).
    assert_cancelled_after(tiny_live, before, fewer_than=body["max_tokens"])


def assert_cancelled_after(live, before: RequestLog | None, *, fewer_than: int) -> None:
    deadline = time.monotonic() + 60
    logged = before
    while time.monotonic() < deadline and (
        logged is None or logged.id == getattr(before, "id", None)
    ):
        time.sleep(0.2)
        logged = last_chat_log(live)
    assert logged is not None
    assert logged.id != getattr(before, "id", None)
    assert logged.error == "cancelled"
    assert logged.status_code == 499
    assert logged.completion_tokens < fewer_than


def last_chat_log(live) -> RequestLog | None:
    with Session(live.db) as session:
        query = select(RequestLog).where(RequestLog.endpoint == "chat")
        return session.exec(query.order_by(RequestLog.id.desc())).first()


def test_a_hostile_restated_schema_is_a_422_not_a_crash(tiny_live):
    deep: dict = {"type": "object"}
    for _ in range(400):  # past the registry's depth limits, within the client's json encoder
        deep = {"type": "object", "properties": {"a": deep}}
    body = refused(
        tiny_live, {"model": "weather", "messages": [USER], "response_format": inline(deep)}
    )
    assert body["error"] != "schema_mismatch"


def test_an_answer_that_fails_mid_stream_ends_with_an_error_event(tiny_live):
    # Three tokens cannot hold the object: the stream has started, so the 422 comes as an
    # error event, which the SDK raises from the iterator.
    stream = tiny_live.openai().chat.completions.create(
        model="weather", messages=[USER], max_tokens=3, stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert "max_tokens ran out" in caught.value.message
