"""The endpoints with the real base model: the official openai client, and the 422 a budget
too small for the object gets."""

import json

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.clients.conftest import WEATHER
from tests.fixtures.app import TeamClient, make_team

pytestmark = pytest.mark.real_model


@pytest.fixture
def real_app(settings, engine, real_runtime):
    app = create_app(settings, db_engine=engine, runtime=real_runtime)
    with TestClient(app) as client:
        team = TeamClient(client, make_team(engine, "alice"), "alice")
        assert (
            team.post("/v1/schemas", json={"name": "weather", "schema": WEATHER}).status_code == 201
        )
        yield client, team


def test_openai_client_round_trip(real_app):
    from openai import OpenAI

    client, team = real_app
    openai = OpenAI(base_url="http://testserver/v1", api_key=team.key, http_client=client)
    reply = openai.chat.completions.create(
        model="weather",
        messages=[{"role": "user", "content": "will it snow in Oslo tomorrow?"}],
        max_tokens=80,
    )
    answer = json.loads(reply.choices[0].message.content)
    assert set(answer) == {"city", "condition", "when"}
    assert answer["condition"] in {"rain", "snow", "sun", "wind", None}
    inline = openai.chat.completions.create(
        model=client.app.state.settings.base_model_name,
        messages=[{"role": "user", "content": "is it sunny in Rome?"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "w", "schema": WEATHER, "strict": True},
        },
        max_tokens=80,
    )
    assert set(json.loads(inline.choices[0].message.content)) == {"city", "condition", "when"}
    assert [m.id for m in openai.models.list()][1:] == ["weather"]


def test_a_token_budget_too_small_for_the_object_is_422(real_app):
    _, team = real_app
    r = team.post(
        "/v1/schemas/weather/generate",
        json={"input": "will it snow in Oslo tomorrow?", "max_tokens": 6},
    )
    assert r.status_code == 422
    assert r.json()["error"] == "unconformant_output"
