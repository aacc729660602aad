"""Registering every draft, keeping the author's document, recursion and cross-subject references
through the HTTP API."""

import json

from tests.fixtures.app import TeamClient

# Properties deliberately not in alphabetical order: the order is part of what was registered.
COMMAND_07 = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "scenario": {"enum": ["weather", "music"]},
        "action": {"type": "string"},
        "entities": {"type": "array", "items": {"$ref": "#/definitions/entity"}},
    },
    "required": ["scenario", "action", "entities"],
    "additionalProperties": False,
    "definitions": {
        "entity": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
            "required": ["type", "text"],
        }
    },
}


def register(team: TeamClient, name: str, schema: dict, **extra):
    return team.post("/v1/schemas", json={"name": name, "schema": schema, **extra})


def examples(team: TeamClient, name: str, output: dict):
    return team.post(f"/v1/schemas/{name}/examples", json=[{"input": "x", "output": output}])


def test_a_draft_07_schema_is_stored_and_served_exactly_as_registered(alice):
    r = register(alice, "cmd", COMMAND_07)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["dialect"] == "draft-07"
    # Same keys in the same order at every level, not just equal dicts.
    assert json.dumps(body["schema"]) == json.dumps(COMMAND_07)
    again = alice.get("/v1/schemas/cmd/versions/1").json()
    assert json.dumps(again["schema"]) == json.dumps(COMMAND_07)
    ok = {"scenario": "music", "action": "play", "entities": [{"type": "artist", "text": "x"}]}
    assert examples(alice, "cmd", ok).status_code == 201
    bad = {**ok, "entities": [{"type": "artist"}]}
    r = examples(alice, "cmd", bad)
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"].endswith("/entities/0")


def test_draft_04_boolean_exclusive_maximum_is_honoured(alice):
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"p": {"type": "number", "maximum": 1, "exclusiveMaximum": True}},
    }
    assert register(alice, "prob", schema).status_code == 201
    assert examples(alice, "prob", {"p": 0.5}).status_code == 201
    assert examples(alice, "prob", {"p": 1}).status_code == 422


def test_unknown_dialect_is_refused_with_the_supported_ones(alice):
    r = register(alice, "x", {"$schema": "http://json-schema.org/draft-03/schema#"})
    assert r.status_code == 422
    assert r.json()["error"] == "unsupported_schema"
    assert "draft-07" in r.json()["detail"]


def test_compatibility_across_drafts_compares_meaning(alice):
    v1 = {k: v for k, v in COMMAND_07.items() if k != "$schema"}
    v1["$defs"] = v1.pop("definitions")
    v1["properties"] = {
        **v1["properties"],
        "entities": {"type": "array", "items": {"$ref": "#/$defs/entity"}},
    }
    assert register(alice, "cmd", v1).status_code == 201
    # The same meaning in draft-07 spelling, plus an optional property: BACKWARD compatible.
    v2 = json.loads(json.dumps(COMMAND_07))
    v2["properties"]["confidence"] = {"type": "number"}
    v2["additionalProperties"] = True
    r = register(alice, "cmd", v2)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2
    # Narrowing an enum in draft-04 spelling is refused with the path.
    v3 = json.loads(json.dumps(v2))
    v3["$schema"] = "http://json-schema.org/draft-04/schema#"
    v3["properties"]["scenario"] = {"enum": ["weather"]}
    r = register(alice, "cmd", v3)
    assert r.status_code == 409
    assert any("music" in e["message"] for e in r.json()["errors"])


TREE = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#"}, "maxItems": 3},
    },
    "required": ["name"],
}


def test_a_recursive_schema_is_registered_and_reports_its_recursion(alice):
    r = register(alice, "tree", TREE)
    assert r.status_code == 201, r.text
    recursion = r.json()["capabilities"]["recursion"]
    assert recursion["recursive"] is True
    assert recursion["nesting_limit"] > 0
    deep = {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}
    assert examples(alice, "tree", deep).status_code == 201
    assert examples(alice, "tree", {"name": "a", "children": [{"children": []}]}).status_code == 422
    # A recursive pair terminates in the compatibility check.
    wider = json.loads(json.dumps(TREE))
    wider["properties"]["children"]["maxItems"] = 5
    assert register(alice, "tree", wider).status_code == 201
    narrower = json.loads(json.dumps(wider))
    narrower["properties"]["children"]["maxItems"] = 2
    r = register(alice, "tree", narrower)
    assert r.status_code == 409
    assert "maxItems" in json.dumps(r.json()["errors"])


ADDRESS = {
    "type": "object",
    "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
    "required": ["city"],
}
ORDER = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "ship_to": {"$ref": "address.json"}},
    "required": ["id", "ship_to"],
}


def test_a_reference_across_subjects_is_pinned_served_and_protected(alice, bob):
    assert register(alice, "address", ADDRESS).status_code == 201
    ref = [{"name": "address.json", "subject": "address", "version": 1}]
    r = register(alice, "order", ORDER, references=ref)
    assert r.status_code == 201, r.text
    assert r.json()["references"] == ref
    assert json.dumps(r.json()["schema"]) == json.dumps(ORDER)
    # Served: outputs are validated through the reference.
    assert examples(alice, "order", {"id": 1, "ship_to": {"city": "Oslo"}}).status_code == 201
    r = examples(alice, "order", {"id": 1, "ship_to": {"street": "x"}})
    assert r.status_code == 422
    # The referenced version cannot be deleted, nor its schema.
    r = alice.delete("/v1/schemas/address/versions/1")
    assert r.status_code == 409
    assert r.json()["error"] == "schema_referenced"
    assert "order" in r.json()["errors"][0]["message"]
    assert alice.delete("/v1/schemas/address").status_code == 409
    # Another team cannot pin alice's schema.
    r = register(bob, "order", ORDER, references=ref)
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_reference"


def test_compatibility_follows_the_reference(alice):
    register(alice, "address", ADDRESS)
    changed = {**ADDRESS, "required": ["city", "street"]}
    assert register(alice, "address", changed, **{}).status_code == 409
    alice.put("/v1/schemas/address/config", json={"compatibility": "NONE"})
    assert register(alice, "address", changed).status_code == 201
    v1 = [{"name": "address.json", "subject": "address", "version": 1}]
    v2 = [{"name": "address.json", "subject": "address", "version": 2}]
    assert register(alice, "order", ORDER, references=v1).status_code == 201
    # Same document, the pin moved to a version that requires a street: old orders break.
    r = register(alice, "order", ORDER, references=v2)
    assert r.status_code == 409, r.text
    assert "street" in json.dumps(r.json()["errors"])
    r = alice.post("/v1/schemas/order/compatibility", json={"schema": ORDER, "references": v1})
    assert r.json()["compatible"] is True


def test_remote_refs_are_listed_with_how_to_register_them(alice):
    schema = {
        "type": "object",
        "properties": {
            "a": {"$ref": "https://example.com/a.json"},
            "b": {"$ref": "b.json#/definitions/x"},
        },
    }
    r = register(alice, "remote", schema)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "remote_ref"
    assert "references" in body["detail"]
    messages = " ".join(e["message"] for e in body["errors"])
    assert "https://example.com/a.json" in messages
    assert "b.json" in messages
    assert {e["path"] for e in body["errors"]} == {"/properties/a/$ref", "/properties/b/$ref"}
