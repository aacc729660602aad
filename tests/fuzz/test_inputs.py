"""Each class of bad input the fuzzers target, pinned by one readable case through HTTP."""

import json

import pytest

from tests.fixtures.app import TeamClient
from tests.fuzz.conftest import NAME, Fuzzed

HUGE = 2**64  # SQLite's OverflowError started at 2**63


def error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail", "errors"}
    if code:
        assert body["error"] == code, body
    return body


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", f"/v1/schemas/{NAME}/examples?version={HUGE}", None),
        ("post", f"/v1/schemas/{NAME}/examples?version={HUGE}", {"input": "x"}),
        ("delete", f"/v1/schemas/{NAME}/examples/{HUGE}", None),
        ("get", f"/v1/schemas/{NAME}/requests?version={HUGE}", None),
        ("get", f"/v1/jobs/{HUGE}", None),
        ("get", f"/v1/adapters/{HUGE}", None),
        ("get", f"/v1/schema-ids/{HUGE}", None),
        ("post", f"/v1/schemas/{NAME}/jobs", {"version": HUGE}),
        ("post", f"/v1/requests/{HUGE}/accept", None),
    ],
)
def test_numbers_past_64_bits_are_a_422(fz: TeamClient, method, path, body):
    kwargs = {"json": body} if body is not None else {}
    error(getattr(fz, method)(path, **kwargs), 422)


def test_a_generate_version_past_64_bits_is_a_422(fuzzed: Fuzzed):
    r = fuzzed.alice.post(f"/v1/schemas/{NAME}/generate", json={"input": "x", "version": HUGE})
    error(r, 422)


@pytest.mark.parametrize("model", [f"{NAME}@١", f"{NAME}@²", f"{NAME}@{HUGE}", f"{NAME}@"])
def test_model_versions_are_ascii_numbers_that_fit(fuzzed: Fuzzed, model):
    r = fuzzed.alice.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "x"}]},
    )
    assert 400 <= r.status_code < 500, r.text
    assert set(r.json()) == {"error", "detail", "errors"}


@pytest.mark.parametrize("text", [5, None, ["a"], {"t": 1}])
def test_a_content_part_text_must_be_a_string(fuzzed: Fuzzed, text):
    message = {"role": "user", "content": [{"type": "text", "text": text}]}
    r = fuzzed.alice.post("/v1/chat/completions", json={"model": NAME, "messages": [message]})
    error(r, 422)


def nested(depth: int) -> str:
    return '{"input": "deep", "output": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [300, 5000, 100_000])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_deep_nesting_is_refused_in_every_framing(fz: TeamClient, depth, content_type):
    body = nested(depth)
    if content_type == "application/json":
        body = "[" + body + "]"
    r = fz.post(
        f"/v1/schemas/{NAME}/examples", content=body, headers={"Content-Type": content_type}
    )
    body = error(r, 422)
    assert "nesting deeper" in json.dumps(body["errors"])
    # Also for the routes FastAPI parses itself.
    r = fz.post("/v1/schemas", content='{"name": "d", "schema": ' + "[" * depth + "]" * depth + "}")
    error(r, 422, "invalid_json")


def test_an_output_deep_enough_to_break_listing_is_never_stored(fz: TeamClient):
    """A few hundred levels validated and was stored; then the list answered 500 for good."""
    schema = {"type": "object"}
    assert fz.post("/v1/schemas", json={"name": "free", "schema": schema}).status_code == 201
    output: object = {}
    for _ in range(250):
        output = {"a": output}
    r = fz.post("/v1/schemas/free/examples", json={"input": "x", "output": output})
    error(r, 422, "invalid_json")
    assert fz.get("/v1/schemas/free/examples").status_code == 200


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_non_finite_numbers_are_refused(fz: TeamClient, token, content_type):
    row = '{"input": "x", "output": {"city": "Oslo", "days": [' + token + "]}}"
    r = fz.post(f"/v1/schemas/{NAME}/examples", content=row, headers={"Content-Type": content_type})
    error(r, 422)
    r = fz.post(
        f"/v1/schemas/{NAME}/generate", content='{"input": "x", "temperature": ' + token + "}"
    )
    error(r, 422, "invalid_json")


@pytest.mark.parametrize(
    "query",
    [
        {"since": "0001-01-01T00:00:00"},
        {"until": "0001-01-01T00:00:01Z"},
        {"until": "9999-12-31T23:59:59Z"},
        {"since": "9999-12-31T00:00:00-14:00", "until": "9999-12-31T23:59:59Z"},
        {"since": "0001-01-01T00:00:00+14:00", "bucket": "1d"},
    ],
)
def test_extreme_metrics_windows_are_a_422(fz: TeamClient, query):
    error(fz.get(f"/v1/schemas/{NAME}/metrics", params=query), 422, "invalid_window")


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c"])
def test_jsonl_records_end_only_at_a_newline(fz: TeamClient, separator):
    rows = [
        {"input": f"rain{separator}in Oslo", "output": {"city": f"Os{separator}lo"}},
        {"input": "sun\r\nin Rome"},
    ]
    body = "\r\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    r = fz.post(
        f"/v1/schemas/{NAME}/examples",
        content=body.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["added"] == 2
    stored = fz.get(f"/v1/schemas/{NAME}/examples", params={"limit": 200}).json()
    assert f"rain{separator}in Oslo" in [e["input"] for e in stored["data"]]


def chunks(size: int):
    block = b" " * 65536
    for _ in range(size // len(block) + 1):
        yield block


@pytest.mark.parametrize(
    "path",
    [
        "/v1/schemas",
        f"/v1/schemas/{NAME}/examples",
        f"/v1/schemas/{NAME}/generate",
        "/v1/chat/completions",
        f"/v1/schemas/{NAME}/config",
        "/v1/requests/1/accept",
        "/ui/login",
    ],
)
@pytest.mark.parametrize("chunked", [True, False])
def test_bodies_over_the_limit_are_413_however_they_are_sent(fz: TeamClient, path, chunked):
    limit = fz.client.app.state.settings.max_body_bytes
    method = fz.put if path.endswith("/config") else fz.post
    content = chunks(limit + 1) if chunked else b" " * (limit + 1)
    r = method(path, content=content, headers={"Content-Type": "application/json"})
    error(r, 413, "body_too_large")


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/v1/schemas", "application/json", {"name": "bom", "schema": {"type": "object"}}),
        (f"/v1/schemas/{NAME}/examples", "application/json", {"input": "bom"}),
        (f"/v1/schemas/{NAME}/examples", "application/x-ndjson", {"input": "bom jsonl"}),
    ],
)
def test_one_bom_rule_for_every_endpoint(fz: TeamClient, path, content_type, body):
    """RFC 8259 lets a reader ignore a leading BOM: every endpoint does."""
    content = "\ufeff".encode() + json.dumps(body).encode()
    r = fz.post(path, content=content, headers={"Content-Type": content_type})
    assert r.status_code == 201, r.text
