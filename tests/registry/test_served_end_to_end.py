"""Schemas the registry now accepts, answered end to end through the API (tiny random model):
a recursive tree, a draft-07 document with definitions, and a cross-subject reference."""

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.fixtures.app import TeamClient, make_team

TREE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 6},
        "children": {"type": "array", "items": {"$ref": "#"}, "maxItems": 2},
    },
    "required": ["name", "children"],
    "additionalProperties": False,
}
ADDRESS_07 = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"city": {"$ref": "#/definitions/short"}},
    "required": ["city"],
    "additionalProperties": False,
    "definitions": {"short": {"type": "string", "maxLength": 8}},
}
ORDER = {
    "type": "object",
    "properties": {
        "qty": {"type": "integer", "minimum": 1, "maximum": 9},
        "to": {"$ref": "a.json"},
    },
    "required": ["qty", "to"],
    "additionalProperties": False,
}


@pytest.fixture
def alice(settings, engine, tiny_runtime):
    app = create_app(settings, db_engine=engine, runtime=tiny_runtime)
    with TestClient(app) as client:
        yield TeamClient(client, make_team(engine, "alice"), "alice")


def generate(team: TeamClient, name: str) -> dict:
    r = team.post(f"/v1/schemas/{name}/generate", json={"input": "anything", "max_tokens": 160})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_recursive_schema_is_answered_with_valid_json(alice):
    assert alice.post("/v1/schemas", json={"name": "tree", "schema": TREE}).status_code == 201
    body = generate(alice, "tree")
    assert body["valid"] is True, body
    assert set(body["output"]) == {"name", "children"}


def test_a_draft_07_schema_and_a_cross_subject_reference_are_answered(alice):
    r = alice.post("/v1/schemas", json={"name": "address", "schema": ADDRESS_07})
    assert r.status_code == 201, r.text
    body = generate(alice, "address")
    assert body["valid"] is True, body
    assert len(body["output"]["city"]) <= 8
    refs = [{"name": "a.json", "subject": "address", "version": 1}]
    r = alice.post("/v1/schemas", json={"name": "order", "schema": ORDER, "references": refs})
    assert r.status_code == 201, r.text
    body = generate(alice, "order")
    assert body["valid"] is True, body
    assert list(body["output"]) == ["qty", "to"]
    assert len(body["output"]["to"]["city"]) <= 8


def test_a_schema_no_backend_compiles_is_refused_at_registration_with_the_reason(
    settings, engine, tiny_model_dir
):
    from runtime import ModelRuntime

    runtime = ModelRuntime(model_path=tiny_model_dir, backends=["outlines_core"])
    runtime.load()
    app = create_app(settings, db_engine=engine, runtime=runtime)
    with TestClient(app) as client:
        alice = TeamClient(client, make_team(engine, "alice"), "alice")
        beyond = {"type": "object", "properties": {"x": {"not": {"type": "string"}}}}
        r = alice.post("/v1/schemas", json={"name": "x", "schema": beyond})
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "grammar_unsupported"
        assert "outlines_core" in r.json()["errors"][0]["message"]
        assert alice.get("/v1/schemas/x").status_code == 404
        r = alice.post("/v1/schemas", json={"name": "tree", "schema": TREE})
        assert r.status_code == 201, r.text
