"""The generate, chat completions and models endpoints over the tiny random model."""

import threading
import time

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.models import RequestLog
from tests.fixtures.app import TeamClient, make_team

ORDER = {
    "type": "object",
    "properties": {
        "item": {"type": "string", "maxLength": 12},
        "size": {"enum": ["small", "large"]},
        "extras": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 2},
        "note": {"type": ["string", "null"], "maxLength": 10},
    },
    "required": ["item", "size", "extras", "note"],
    "additionalProperties": False,
}


@pytest.fixture
def served(settings, engine, tiny_runtime):
    """An app serving the tiny model, with team alice and a registered `order` schema."""
    app = create_app(settings, db_engine=engine, runtime=tiny_runtime)
    with TestClient(app) as client:
        alice = TeamClient(client, make_team(engine, "alice"), "alice")
        r = alice.post("/v1/schemas", json={"name": "order", "schema": ORDER})
        assert r.status_code == 201, r.text
        yield app, alice


def test_generate_returns_conformant_json(served, engine):
    _, alice = served
    r = alice.post("/v1/schemas/order/generate", json={"input": "a large tea", "max_tokens": 120})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["valid"] is True
    assert set(body["output"]) == {"item", "size", "extras", "note"}
    assert body["output"]["size"] in {"small", "large"}
    assert body["schema"]["name"] == "order"
    assert body["schema"]["version"] == 1
    assert body["decoding"].startswith("constrained:")
    assert body["adapter"] is None
    assert body["usage"]["completion_tokens"] > 0
    from sqlmodel import Session, select

    with Session(engine) as session:
        logged = session.exec(select(RequestLog)).all()
    assert len(logged) == 1
    assert logged[0].valid is True
    assert logged[0].input == "a large tea"


def test_unconstrained_reports_invalid_instead_of_failing(served):
    _, alice = served
    r = alice.post(
        "/v1/schemas/order/generate",
        json={"input": "a large tea", "mode": "unconstrained", "max_tokens": 16},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["decoding"] == "unconstrained"
    # Random weights cannot write this object freely: it says so.
    assert body["valid"] is False
    assert body["errors"]


def test_token_budget_too_small_is_422_with_raw_text(served):
    _, alice = served
    r = alice.post(
        "/v1/schemas/order/generate",
        json={"input": "a large tea", "mode": "constrained", "max_tokens": 3},
    )
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "unconformant_output"
    assert "max_tokens" in body["detail"]
    assert any("raw" in e for e in body["errors"])


def test_limits_are_checked_before_model_work(served):
    _, alice = served
    r = alice.post("/v1/schemas/order/generate", json={"input": "x", "max_tokens": 100_000})
    assert r.status_code == 422
    assert r.json()["error"] == "max_tokens_too_large"
    r = alice.post("/v1/schemas/order/generate", json={"input": "word " * 3000})
    assert r.status_code == 422
    assert r.json()["error"] == "input_too_long"
    r = alice.post("/v1/schemas/order/generate", json={"input": "x", "mode": "wild"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "/mode"


def test_unknown_schema_and_other_teams_schema_are_404(served, engine):
    app, alice = served
    bob = TeamClient(alice.client, make_team(engine, "bob"), "bob")
    assert alice.post("/v1/schemas/nope/generate", json={"input": "x"}).status_code == 404
    assert bob.post("/v1/schemas/order/generate", json={"input": "x"}).status_code == 404
    r = bob.post(
        "/v1/chat/completions",
        json={"model": "order", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.status_code == 404


def test_models_lists_base_and_schemas(served):
    app, alice = served
    ids = [m["id"] for m in alice.get("/v1/models").json()["data"]]
    assert ids[0] == app.state.settings.base_model_name
    assert "order" in ids


def test_chat_completions_with_a_schema_name(served):
    _, alice = served
    r = alice.post(
        "/v1/chat/completions",
        json={
            "model": "order@1",
            "messages": [{"role": "user", "content": "one small coffee"}],
            "max_tokens": 120,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion"
    import json

    content = json.loads(body["choices"][0]["message"]["content"])
    assert content["size"] in {"small", "large"}
    assert body["formwright"]["valid"] is True


def test_chat_with_inline_schema_and_hostile_inline_schema(served):
    app, alice = served
    base = app.state.settings.base_model_name
    schema = {
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": False,
    }
    r = alice.post(
        "/v1/chat/completions",
        json={
            "model": base,
            "messages": [{"role": "user", "content": "fine?"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": schema},
            },
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] in ('{"ok":true}', '{"ok":false}')
    hostile = {"type": "object", "properties": {"a": {"$ref": "http://example.com/x.json"}}}
    r = alice.post(
        "/v1/chat/completions",
        json={
            "model": base,
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": hostile},
            },
        },
    )
    assert r.status_code == 422
    assert r.json()["error"] == "remote_ref"
    r = alice.post(
        "/v1/chat/completions", json={"model": base, "messages": [{"role": "user", "content": "x"}]}
    )
    assert r.status_code == 422
    assert r.json()["error"] == "schema_required"


def test_model_not_loaded_yet_is_503_with_retry_after(settings, engine):
    from runtime import ModelRuntime

    app = create_app(
        settings, db_engine=engine, runtime=ModelRuntime(model_path=settings.data_dir / "none")
    )
    with TestClient(app) as client:
        alice = TeamClient(client, make_team(engine, "alice"), "alice")
        alice.post("/v1/schemas", json={"name": "order", "schema": ORDER})
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        r = alice.post("/v1/schemas/order/generate", json={"input": "x"})
        assert r.status_code == 503
        assert r.headers["Retry-After"]


def test_flooding_team_gets_429_while_another_team_is_served(
    settings, engine, tiny_runtime, monkeypatch
):
    settings.request_queue_size = 4
    settings.team_queue_share = 0.5
    gate = threading.Event()
    real_generate = tiny_runtime.generate

    def gated(request, adapter=None):
        gate.wait(30)  # hold the model so alice's requests pile up
        return real_generate(request, adapter=adapter)

    monkeypatch.setattr(tiny_runtime, "generate", gated)
    app = create_app(settings, db_engine=engine, runtime=tiny_runtime)
    with TestClient(app) as client:
        alice = TeamClient(client, make_team(engine, "alice"), "alice")
        bob = TeamClient(client, make_team(engine, "bob"), "bob")
        for team in (alice, bob):
            team.post("/v1/schemas", json={"name": "order", "schema": ORDER})
        statuses: list[int] = []
        retry_after: list[str] = []

        def flood() -> None:
            r = alice.post("/v1/schemas/order/generate", json={"input": "tea", "max_tokens": 40})
            statuses.append(r.status_code)
            if r.status_code == 429:
                retry_after.append(r.headers["Retry-After"])

        threads = [threading.Thread(target=flood) for _ in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(statuses) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        # Alice holds her share (2 places); the other 4 were refused at once.
        assert statuses == [429] * 4
        assert all(int(s) >= 1 for s in retry_after)
        answer: list = []
        bob_thread = threading.Thread(
            target=lambda: answer.append(
                bob.post("/v1/schemas/order/generate", json={"input": "tea", "max_tokens": 40})
            )
        )
        bob_thread.start()
        time.sleep(0.3)
        gate.set()
        bob_thread.join(30)
        for t in threads:
            t.join(30)
        assert answer[0].status_code == 200, answer[0].text
        assert sorted(statuses) == [200, 200, 429, 429, 429, 429]


def test_request_timeout_is_504_and_logged(settings, engine, tiny_runtime):
    settings.request_timeout_s = 0.001
    app = create_app(settings, db_engine=engine, runtime=tiny_runtime)
    with TestClient(app) as client:
        alice = TeamClient(client, make_team(engine, "alice"), "alice")
        alice.post("/v1/schemas", json={"name": "order", "schema": ORDER})
        r = alice.post("/v1/schemas/order/generate", json={"input": "tea", "max_tokens": 200})
        assert r.status_code == 504
        assert r.json()["error"] == "timeout"


def test_generations_are_counted_for_prometheus(served):
    app, alice = served
    alice.post("/v1/schemas/order/generate", json={"input": "tea", "max_tokens": 120})
    alice.post("/v1/schemas/order/generate", json={"input": "tea", "max_tokens": 3})
    text = alice.client.get("/metrics").text
    ok = [line for line in text.splitlines() if line.startswith("formwright_generate_requests")]
    assert any('schema="order"' in line and 'status="200"' in line for line in ok), ok
    assert any('schema="order"' in line and 'status="422"' in line for line in ok), ok
    assert "formwright_generate_latency_seconds_bucket" in text
