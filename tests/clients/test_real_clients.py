"""The client libraries backend teams use, against a live server with the real base model:
the `openai` SDK (plain and streaming), instructor (TOOLS and JSON_SCHEMA, with a re-ask) and
LangChain's `with_structured_output` (json_schema and function calling)."""

from __future__ import annotations

import json
from typing import Literal

import httpx
import jsonschema
import pytest
from pydantic import BaseModel, Field, field_validator

from tests.clients.conftest import WEATHER

pytestmark = pytest.mark.real_model

QUESTION = "Will it snow in Oslo tomorrow?"


class Weather(BaseModel):
    city: str | None = Field(max_length=40)
    condition: Literal["rain", "snow", "sun", "wind"] | None
    when: str | None = Field(max_length=40)


def test_openai_sdk_registered_schema_and_stream(real_live):
    client = real_live.openai()
    reply = client.chat.completions.create(
        model="weather", messages=[{"role": "user", "content": QUESTION}], max_tokens=80
    )
    answer = json.loads(reply.choices[0].message.content)
    jsonschema.validate(answer, WEATHER)
    assert answer["city"] == "Oslo"

    stream = client.chat.completions.create(
        model="weather",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=80,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text) == answer  # the same greedy answer, streamed as decoded
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3
    assert chunks[-1].usage.completion_tokens == reply.usage.completion_tokens


class Recorder:
    """The request bodies a client library sent (an httpx event hook)."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []

    def __call__(self, request: httpx.Request) -> None:
        self.bodies.append(json.loads(request.content))


def instructor_client(real_live, mode):
    import instructor

    recorder = Recorder()
    http = httpx.Client(event_hooks={"request": [recorder]}, timeout=120)
    return instructor.from_openai(real_live.openai(http_client=http), mode=mode), recorder


@pytest.mark.parametrize("mode_name", ["TOOLS", "JSON_SCHEMA"])
def test_instructor(real_live, mode_name):
    import instructor

    client, recorder = instructor_client(real_live, getattr(instructor.Mode, mode_name))
    weather = client.chat.completions.create(
        model=real_live.base_model,
        response_model=Weather,
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=80,
        max_retries=0,
    )
    assert weather.city == "Oslo"
    assert len(recorder.bodies) == 1


@pytest.mark.parametrize("mode_name", ["TOOLS", "JSON_SCHEMA"])
def test_instructor_reasks_with_the_whole_conversation(real_live, mode_name):
    import instructor

    rejected: list[str] = []

    class Checked(Weather):
        @field_validator("city")
        @classmethod
        def not_on_the_first_try(cls, city):
            # A rule the schema cannot say: instructor re-asks, sending the conversation so far.
            if not rejected:
                rejected.append(city)
                raise ValueError("spell the city in capital letters")
            return city

    client, recorder = instructor_client(real_live, getattr(instructor.Mode, mode_name))
    weather = client.chat.completions.create(
        model=real_live.base_model,
        response_model=Checked,
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=80,
        max_retries=1,
    )
    assert len(recorder.bodies) == 2
    retry = recorder.bodies[1]["messages"]
    assert retry[0]["content"] == QUESTION
    assert len(retry) == 3
    assert weather.condition in ("rain", "snow", "sun", "wind", None)


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_langchain_with_structured_output(real_live, method):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        base_url=real_live.url + "/v1",
        api_key=real_live.key,
        model=real_live.base_model,
        max_tokens=80,
        max_retries=0,
    )
    weather = llm.with_structured_output(Weather, method=method).invoke(QUESTION)
    assert isinstance(weather, Weather)
    assert weather.city == "Oslo"
