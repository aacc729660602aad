"""An app with the tiny model, two teams and a little of everything stored, for the fuzzers."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from tests.fixtures.app import TeamClient, make_team

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": ["string", "null"], "maxLength": 20},
        "days": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
        "mood": {"enum": ["sun", "rain"]},
    },
    "required": ["city"],
}
NAME = "fz"
ERROR_KEYS = {"error", "detail", "errors"}


@dataclass
class Fuzzed:
    client: TestClient
    alice: TeamClient
    ids: dict[str, int]


def assert_well_formed(status: int, body: Any, what: str) -> None:
    """The contract the fuzzers check on every answer: no 5xx, every 4xx in the error shape."""
    assert status < 500, f"{what} -> {status} {body!r}"
    if status >= 400:
        assert isinstance(body, dict), f"{what} -> {status} not JSON: {body!r}"
        assert set(body) == ERROR_KEYS, f"{what} -> {status} {body!r}"
        assert isinstance(body["error"], str)
        assert isinstance(body["detail"], str)
        assert isinstance(body["errors"], list)


@pytest.fixture
def fz(alice: TeamClient) -> TeamClient:
    """Team alice with the schema registered, on an app without a model: the quick fixture."""
    assert alice.post("/v1/schemas", json={"name": NAME, "schema": SCHEMA}).status_code == 201
    return alice


@pytest.fixture
def fuzzed(settings: Settings, engine, tiny_runtime) -> Iterator[Fuzzed]:
    # Short answers: the fuzz is about the inputs the server accepts, not the model's output.
    settings.max_output_tokens = 8
    settings.default_max_tokens = 8
    settings.max_body_bytes = 256 * 1024
    app = create_app(settings, db_engine=engine, runtime=tiny_runtime)
    with TestClient(app, raise_server_exceptions=False) as client:
        alice = TeamClient(client, make_team(engine, "alice"), "alice")
        make_team(engine, "bob")
        v1 = alice.post("/v1/schemas", json={"name": NAME, "schema": SCHEMA}).json()
        example = alice.post(
            f"/v1/schemas/{NAME}/examples",
            json=[{"input": "rain in Oslo", "output": {"city": "Oslo"}}, {"input": "hi"}],
        ).json()
        alice.post(f"/v1/schemas/{NAME}/generate", json={"input": "sun in Rome?"})
        job = alice.post(f"/v1/schemas/{NAME}/jobs", json={"max_steps": 1}).json()
        ids = {"schema_id": v1["id"], "example_id": example["ids"][0], "job_id": job.get("id", 1)}
        yield Fuzzed(client, alice, ids)
