import json
import socket
import threading

import pytest
from sqlmodel import Session, select

from service.models import Team
from service.registry import service as registry
from tests.fixtures.app import TeamClient

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": ["string", "null"]},
        "unit": {"enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
    "additionalProperties": False,
}


def register(team: TeamClient, name: str = "weather", schema: dict | None = None, **extra):
    return team.post("/v1/schemas", json={"name": name, "schema": schema or WEATHER, **extra})


def test_register_returns_version_id_fingerprint_and_capabilities(alice):
    r = register(alice, description="Weather questions")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "weather"
    assert body["version"] == 1
    assert body["fingerprint"].startswith("sha256:")
    assert body["schema"] == WEATHER
    assert body["description"] == "Weather questions"
    caps = body["capabilities"]
    assert set(caps) >= {"enforced", "validated_after", "refused"}
    assert {c["keyword"] for c in caps["enforced"]} >= {"type", "enum", "properties"}


def test_same_content_in_another_order_is_the_same_version(alice):
    first = register(alice).json()
    reordered = json.loads(json.dumps(WEATHER, sort_keys=True))
    reordered = dict(reversed(list(reordered.items())))
    again = register(alice, schema=reordered)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["version"] == 1


def test_versions_count_per_subject_and_ids_are_global(alice, bob):
    a1 = register(alice).json()
    b1 = register(bob).json()
    v2 = {**WEATHER, "properties": {**WEATHER["properties"], "date": {"type": "string"}}}
    a2 = register(alice, schema=v2).json()
    assert (a1["version"], a2["version"], b1["version"]) == (1, 2, 1)
    assert len({a1["id"], a2["id"], b1["id"]}) == 3
    assert alice.get("/v1/schemas/weather/versions/latest").json()["version"] == 2
    assert alice.get("/v1/schemas/weather/versions/1").json()["id"] == a1["id"]
    assert alice.get(f"/v1/schema-ids/{a2['id']}").json()["version"] == 2


def test_incompatible_registration_is_409_with_path_and_version(alice):
    register(alice)
    narrowed = {**WEATHER, "properties": {**WEATHER["properties"], "unit": {"enum": ["celsius"]}}}
    r = register(alice, schema=narrowed)
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "incompatible_schema"
    assert body["errors"], body
    assert all(e["version"] == 1 for e in body["errors"])
    assert any("/properties/unit" in e["path"] for e in body["errors"])
    assert alice.get("/v1/schemas/weather").json()["latest_version"] == 1


def test_compatibility_check_registers_nothing(alice):
    register(alice)
    narrowed = {**WEATHER, "properties": {**WEATHER["properties"], "unit": {"enum": ["celsius"]}}}
    r = alice.post("/v1/schemas/weather/compatibility", json={"schema": narrowed})
    assert r.status_code == 200
    assert r.json()["compatible"] is False
    assert r.json()["errors"]
    r = alice.post(
        "/v1/schemas/weather/compatibility", json={"schema": narrowed, "compatibility": "NONE"}
    )
    assert r.json()["compatible"] is True
    assert alice.get("/v1/schemas/weather/versions").json()["count"] == 1


def test_config_none_allows_breaking_change_and_readonly_refuses(alice):
    register(alice)
    r = alice.put("/v1/schemas/weather/config", json={"compatibility": "NONE"})
    assert r.json()["compatibility"] == "NONE"
    breaking = {"type": "object", "properties": {"x": {"type": "integer"}}}
    assert register(alice, schema=breaking).status_code == 201
    alice.put("/v1/schemas/weather/config", json={"mode": "READONLY"})
    r = register(alice, schema={"type": "object", "properties": {"y": {"type": "integer"}}})
    assert r.status_code == 409
    assert r.json()["error"] == "subject_read_only"
    # Idempotent re-registration still answers in read-only mode.
    assert register(alice, schema=breaking).status_code == 200


def test_config_rejects_unknown_mode(alice):
    r = alice.put("/v1/schemas/weather/config", json={"compatibility": "SIDEWAYS"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "/compatibility"


def test_list_is_paginated(alice):
    for i in range(5):
        register(alice, name=f"s{i}")
    page = alice.get("/v1/schemas", params={"limit": 2, "offset": 2}).json()
    assert page["count"] == 5
    assert [s["name"] for s in page["data"]] == ["s2", "s3"]
    assert alice.get("/v1/schemas", params={"limit": 0}).status_code == 422


def test_soft_delete_then_permanent_delete(alice):
    v1 = register(alice).json()
    assert alice.delete("/v1/schemas/weather", params={"permanent": True}).status_code == 409
    assert alice.delete("/v1/schemas/weather").status_code == 200
    assert alice.get("/v1/schemas/weather").status_code == 404
    assert alice.get("/v1/schemas").json()["count"] == 0
    listed = alice.get("/v1/schemas", params={"deleted": True}).json()
    assert [s["name"] for s in listed["data"]] == ["weather"]
    still = alice.get(f"/v1/schema-ids/{v1['id']}")
    assert still.status_code == 200
    assert still.json()["deleted"] is True
    assert alice.delete("/v1/schemas/weather", params={"permanent": True}).status_code == 200
    assert alice.get(f"/v1/schema-ids/{v1['id']}").status_code == 404
    # The id is never handed out again.
    assert register(alice).json()["id"] > v1["id"]


def test_delete_one_version(alice):
    register(alice)
    alice.put("/v1/schemas/weather/config", json={"compatibility": "NONE"})
    register(alice, schema={"type": "object"})
    assert alice.delete("/v1/schemas/weather/versions/2").status_code == 200
    assert alice.get("/v1/schemas/weather/versions/latest").json()["version"] == 1
    assert alice.get("/v1/schemas/weather/versions/2").status_code == 404
    versions = alice.get("/v1/schemas/weather/versions", params={"deleted": True}).json()
    assert [(v["version"], v["deleted"]) for v in versions["data"]] == [(1, False), (2, True)]
    r = alice.delete("/v1/schemas/weather/versions/2", params={"permanent": True})
    assert r.status_code == 200
    # Versions are not reused after a permanent delete.
    assert register(alice, schema={"type": "object", "title": "again"}).json()["version"] == 3


def test_requests_without_a_valid_key_are_401(client):
    r = client.get("/v1/schemas")
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    r = client.get("/v1/schemas", headers={"Authorization": "Bearer fw_nope"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/v1/schemas/weather", None),
        ("get", "/v1/schemas/weather/versions", None),
        ("get", "/v1/schemas/weather/versions/1", None),
        ("get", "/v1/schemas/weather/versions/latest", None),
        ("get", "/v1/schemas/weather/config", None),
        ("put", "/v1/schemas/weather/config", {"mode": "READONLY"}),
        ("post", "/v1/schemas/weather/compatibility", {"schema": WEATHER}),
        ("delete", "/v1/schemas/weather/versions/1", None),
        ("delete", "/v1/schemas/weather", None),
        ("get", "/v1/schemas/weather/examples", None),
        ("post", "/v1/schemas/weather/examples", {"input": "x", "output": {"city": None}}),
        ("delete", "/v1/schemas/weather/examples/1", None),
        ("get", "/v1/schema-ids/{id}", None),
    ],
)
def test_another_teams_schema_is_404_on_every_route(alice, bob, method, path, body):
    created = register(alice).json()
    alice.post("/v1/schemas/weather/examples", json={"input": "x", "output": {"city": None}})
    kwargs = {"json": body} if body is not None else {}
    r = getattr(bob, method)(path.format(id=created["id"]), **kwargs)
    if method == "put" and r.status_code == 200:
        # PUT config may create bob's own subject; alice's must be untouched.
        assert alice.get("/v1/schemas/weather/config").json()["mode"] == "READWRITE"
        return
    if method == "post" and path.endswith("compatibility"):
        # Bob has no such subject: the check runs against nothing, never alice's versions.
        assert r.status_code == 200
        assert r.json()["errors"] == []
        return
    assert r.status_code == 404, r.text
    assert "weather" not in bob.get("/v1/schemas").text
    assert alice.get("/v1/schemas/weather").status_code == 200


def test_invalid_names_are_refused(alice):
    r = register(alice, name="has space")
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "/name"
    assert register(alice, name="model@2").status_code == 422


def _register_concurrently(engine, team_id: int, count: int) -> list[tuple[int, int]]:
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def one(i: int) -> None:
        barrier.wait()
        try:
            with Session(engine, expire_on_commit=False) as session:
                team = session.get(Team, team_id)
                found = registry.register(
                    session, team=team, name="busy", schema={"type": "object", "title": f"v{i}"}
                )
                session.commit()
                results.append((found.version.version, found.version.id))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


@pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_fifty_concurrent_registrations_count_1_to_50(engine, alice):
    with Session(engine) as session:
        team = session.exec(select(Team).where(Team.name == "alice")).one()
        registry.set_config(session, team=team, name="busy", compatibility="NONE", mode=None)
        session.commit()
        team_id = team.id
    results = _register_concurrently(engine, team_id, 50)
    assert sorted(v for v, _ in results) == list(range(1, 51))
    assert len({i for _, i in results}) == 50


def test_no_connection_is_attempted_for_remote_refs(alice, monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for ref in [
        "http://example.com/s.json",
        "https://10.0.0.1/x",
        "file:///etc/passwd",
        "other.json",
    ]:
        r = register(alice, schema={"type": "object", "properties": {"a": {"$ref": ref}}})
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "remote_ref"
    assert attempts == []


@pytest.mark.parametrize(
    ("schema", "code", "status"),
    [
        ({"type": "strin"}, "invalid_schema", 422),
        ({"type": "object", "properties": {"a": {"minimum": "3"}}}, "invalid_schema", 422),
        (
            {
                "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                "$ref": "#/$defs/a",
            },
            "ref_cycle",
            422,
        ),
        ({"type": "string", "pattern": "^(a)\\1$"}, "unsafe_pattern", 422),
        ({"type": "string", "enum": [f"v{i}" for i in range(5000)]}, "schema_too_large", None),
    ],
)
def test_hostile_schemas_get_a_clear_4xx(alice, schema, code, status):
    r = register(alice, schema=schema)
    assert 400 <= r.status_code < 500, r.text
    if status:
        assert r.status_code == status
    body = r.json()
    assert set(body) == {"error", "detail", "errors"}
    assert body["detail"]
    if code != "schema_too_large":
        assert body["error"] == code


def test_deep_nesting_is_refused_without_a_crash(alice):
    depth = 3000
    # Written by hand: json.dumps itself cannot encode this deep.
    schema = '{"type":"object","properties":{"a":' * depth + "{}" + "}}" * depth
    r = alice.post(
        "/v1/schemas",
        content='{"name":"deep","schema":' + schema + "}",
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= r.status_code < 500
    assert r.json()["error"] in {"schema_too_large", "invalid_json", "invalid_body"}


def test_oversized_body_is_413(alice):
    big = {"name": "big", "schema": {"type": "object", "description": "x" * (5 * 1024 * 1024)}}
    r = register(alice, name="big", schema=big["schema"])
    assert r.status_code == 413
    assert r.json()["error"] == "body_too_large"


def test_malformed_json_is_422_not_500(alice):
    r = alice.post(
        "/v1/schemas", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_json"


def test_unknown_route_uses_the_error_shape(client):
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert set(r.json()) == {"error", "detail", "errors"}
