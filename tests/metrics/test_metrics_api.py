"""The metrics API: counts, rates, percentiles and buckets over logged requests; isolation; the
traffic review; Prometheus."""

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, select

from service.metrics import prom
from service.models import Adapter, Example, Job, RequestLog, Team
from tests.fixtures.app import TeamClient, sign_in

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": ["string", "null"]},
        "unit": {"enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
    "additionalProperties": False,
}
NOW = datetime.now(UTC).replace(microsecond=0)
# Percentiles and buckets are computed in Python: the same numbers on both databases.
pytestmark = pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def register(team: TeamClient, name: str = "weather", schema: dict | None = None) -> dict:
    r = team.post("/v1/schemas", json={"name": name, "schema": schema or WEATHER})
    assert r.status_code in (200, 201), r.text
    return r.json()


def team_id(engine, name: str) -> int:
    with Session(engine) as session:
        return session.exec(select(Team).where(Team.name == name)).one().id


def log(engine, *, team: str, version_id: int | None, ago: timedelta = timedelta(minutes=5), **f):
    """One logged generation; by default a valid, first-try constrained answer."""
    row = RequestLog(
        team_id=team_id(engine, team),
        schema_version_id=version_id,
        endpoint="generate",
        mode=f.pop("mode", "auto"),
        decoding=f.pop("decoding", "constrained:xgrammar"),
        status_code=f.pop("status_code", 200),
        valid=f.pop("valid", True),
        first_attempt_valid=f.pop("first_attempt_valid", True),
        attempts=f.pop("attempts", 1),
        latency_ms=f.pop("latency_ms", 100.0),
        completion_tokens=f.pop("completion_tokens", 10),
        prompt_tokens=20,
        input=f.pop("input", "weather in Paris"),
        output=f.pop("output", {"city": "Paris"}),
        created_at=NOW - ago,
        **f,
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()
        return row.id


def test_counts_rates_and_percentiles_of_a_window(alice, engine):
    v1 = register(alice)
    # 10 answers: latency 100..1000 ms; 2 needed a fallback; 1 of those first attempts failed.
    for i in range(10):
        log(
            engine,
            team="alice",
            version_id=v1["id"],
            latency_ms=100.0 * (i + 1),
            completion_tokens=50,
            attempts=2 if i < 2 else 1,
            first_attempt_valid=i != 0,
        )
    log(
        engine,
        team="alice",
        version_id=v1["id"],
        status_code=422,
        error="unconformant_output",
        valid=False,
        first_attempt_valid=False,
        output=None,
    )
    log(
        engine,
        team="alice",
        version_id=v1["id"],
        status_code=504,
        error="timeout",
        attempts=0,
        valid=False,
        first_attempt_valid=None,
        decoding=None,
        output=None,
    )

    r = alice.get("/v1/schemas/weather/metrics")
    assert r.status_code == 200, r.text
    body = r.json()
    overall = body["overall"]
    assert overall["requests"] == 12
    assert overall["succeeded"] == 10
    # 10 valid of 11 answers generated in auto mode (the 422 is the invalid one).
    assert overall["conformance"] == pytest.approx(10 / 11, abs=1e-4)
    assert overall["first_attempt_conformance"] == pytest.approx(9 / 11, abs=1e-4)
    assert overall["fallback_rate"] == pytest.approx(2 / 11, abs=1e-4)
    assert overall["rejected"] == {"unconformant_output": 1}
    assert overall["failed"] == {"timeout": 1}
    # Latency percentiles over the answered requests, interpolated between ranks.
    assert overall["latency_ms"]["p50"] == pytest.approx(550.0)
    assert overall["latency_ms"]["p95"] == pytest.approx(955.0)
    assert overall["latency_ms"]["p99"] == pytest.approx(991.0)
    assert overall["tokens_per_s"] > 0
    assert [g["version"] for g in body["groups"]] == [1]
    assert body["groups"][0]["adapter_id"] is None
    assert body["groups"][0]["stats"]["requests"] == 12


def test_groups_split_versions_and_adapters(alice, engine):
    v1 = register(alice)
    v2 = register(alice, schema={**WEATHER, "properties": {**WEATHER["properties"], "day": {}}})
    with Session(engine) as session:
        adapter = Adapter(
            team_id=team_id(engine, "alice"),
            schema_version_id=v2["id"],
            path="/nowhere",
            base_fingerprint="x",
            manifest={},
            active=True,
            evaluation={
                "base": {
                    "conformance": 0.9,
                    "exact_match": 0.2,
                    "field_accuracy": {"overall": 0.5, "per_path": {"/city": 0.6}},
                },
                "adapter_unconstrained": {
                    "conformance": 0.98,
                    "exact_match": 0.7,
                    "field_accuracy": {"overall": 0.9, "per_path": {"/city": 0.95}},
                },
            },
        )
        session.add(adapter)
        session.commit()
        adapter_id = adapter.id
    log(engine, team="alice", version_id=v1["id"])
    log(engine, team="alice", version_id=v2["id"])
    log(engine, team="alice", version_id=v2["id"], adapter_id=adapter_id)
    log(engine, team="alice", version_id=v2["id"], adapter_id=adapter_id)

    body = alice.get("/v1/schemas/weather/metrics").json()
    groups = [(g["version"], g["adapter_id"], g["stats"]["requests"]) for g in body["groups"]]
    assert groups == [(2, None, 1), (2, adapter_id, 2), (1, None, 1)]
    (evaluation,) = body["evaluations"]
    assert evaluation["adapter_id"] == adapter_id
    assert evaluation["base"]["field_accuracy"] == 0.5
    assert evaluation["adapter"]["field_accuracy"] == 0.9
    assert evaluation["adapter_constrained"] is None
    assert evaluation["fields"] == [
        {"path": "/city", "base": 0.6, "adapter": 0.95, "adapter_constrained": None}
    ]


def test_series_has_every_bucket_and_puts_rows_in_theirs(alice, engine):
    v1 = register(alice)
    until = NOW.replace(minute=0, second=0)
    log(engine, team="alice", version_id=v1["id"], ago=NOW - until + timedelta(minutes=30))
    log(engine, team="alice", version_id=v1["id"], ago=NOW - until + timedelta(minutes=30))
    log(engine, team="alice", version_id=v1["id"], ago=NOW - until + timedelta(hours=2, minutes=1))
    since = until - timedelta(hours=4)
    r = alice.get(
        "/v1/schemas/weather/metrics",
        params={"since": since.isoformat(), "until": until.isoformat(), "bucket": "1h"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["bucket"] == "1h"
    assert [p["requests"] for p in body["series"]] == [0, 1, 0, 2]
    assert body["series"][0]["conformance"] is None  # no data is not 0%
    assert body["series"][3]["conformance"] == 1.0


def test_a_window_outside_the_rows_is_empty(alice, engine):
    v1 = register(alice)
    log(engine, team="alice", version_id=v1["id"], ago=timedelta(days=3))
    body = alice.get("/v1/schemas/weather/metrics").json()  # default: the last day
    assert body["overall"]["requests"] == 0
    assert body["overall"]["conformance"] is None
    assert body["overall"]["latency_ms"] == {"p50": None, "p95": None, "p99": None}


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"bucket": "5x"}, "/bucket"),
        ({"bucket": "10s"}, "/bucket"),
        ({"bucket": "1m", "since": "2020-01-01T00:00:00Z"}, "/bucket"),  # too many buckets
        ({"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}, "/since"),
        ({"since": "yesterday"}, "/since"),
    ],
)
def test_bad_window_is_422_naming_the_parameter(alice, params, path):
    register(alice)
    r = alice.get("/v1/schemas/weather/metrics", params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["detail"]
    assert any(e["path"] == path for e in body["errors"]), body


def test_metrics_are_per_team(alice, bob, engine):
    a = register(alice)
    register(bob)
    log(engine, team="alice", version_id=a["id"])
    assert alice.get("/v1/schemas/weather/metrics").json()["overall"]["requests"] == 1
    assert bob.get("/v1/schemas/weather/metrics").json()["overall"]["requests"] == 0
    assert bob.get("/v1/schemas/nope/metrics").status_code == 404
    assert bob.get("/v1/schemas/weather/requests").json()["count"] == 0


def test_schemas_health_lists_last_day(alice, engine):
    ok = register(alice)
    bad = register(alice, name="broken")
    for _ in range(3):
        log(engine, team="alice", version_id=ok["id"])
    log(
        engine,
        team="alice",
        version_id=bad["id"],
        status_code=422,
        error="unconformant_output",
        valid=False,
        first_attempt_valid=False,
    )
    register(alice, name="quiet")
    rows = {r["name"]: r for r in alice.get("/v1/metrics/schemas").json()["data"]}
    assert rows["weather"]["health"] == "green"
    assert rows["weather"]["requests"] == 3
    assert rows["weather"]["conformance"] == 1.0
    assert rows["broken"]["health"] == "red"
    assert rows["quiet"]["health"] == "grey"


def test_requests_are_listed_newest_first_and_paginated(alice, engine):
    v1 = register(alice)
    ids = [
        log(
            engine,
            team="alice",
            version_id=v1["id"],
            ago=timedelta(minutes=10 - i),
            input=f"question {i}",
        )
        for i in range(5)
    ]
    page = alice.get("/v1/schemas/weather/requests", params={"limit": 2}).json()
    assert page["count"] == 5
    assert [r["id"] for r in page["data"]] == [ids[4], ids[3]]
    assert page["data"][0]["input"] == "question 4"
    assert page["data"][0]["version"] == 1
    nxt = alice.get("/v1/schemas/weather/requests", params={"limit": 2, "offset": 2}).json()
    assert [r["id"] for r in nxt["data"]] == [ids[2], ids[1]]


def test_accept_stores_the_request_as_a_traffic_example(alice, engine):
    v1 = register(alice)
    rid = log(
        engine, team="alice", version_id=v1["id"], input="Paris weather", output={"city": "Paris"}
    )
    r = alice.post(f"/v1/requests/{rid}/accept", json={})
    assert r.status_code == 201, r.text
    assert r.json()["added"] == 1
    examples = alice.get("/v1/schemas/weather/examples").json()["data"]
    assert [(e["input"], e["output"], e["source"]) for e in examples] == [
        ("Paris weather", {"city": "Paris"}, "traffic")
    ]
    again = alice.post(f"/v1/requests/{rid}/accept")
    assert again.status_code == 200
    assert again.json()["added"] == 0


def test_accept_with_a_correction_validates_it(alice, engine):
    v1 = register(alice)
    rid = log(engine, team="alice", version_id=v1["id"], input="Lyon in F", output={"city": "Lyon"})
    bad = alice.post(f"/v1/requests/{rid}/accept", json={"output": {"city": "Lyon", "unit": "K"}})
    assert bad.status_code == 422
    assert any(e["path"] == "/output/unit" for e in bad.json()["errors"]), bad.json()
    good = alice.post(
        f"/v1/requests/{rid}/accept", json={"output": {"city": "Lyon", "unit": "fahrenheit"}}
    )
    assert good.status_code == 201, good.text
    with Session(engine) as session:
        (example,) = session.exec(select(Example)).all()
    assert example.output == {"city": "Lyon", "unit": "fahrenheit"}
    assert example.source == "traffic"


def test_accept_an_invalid_answer_needs_a_correction(alice, engine):
    v1 = register(alice)
    rid = log(
        engine,
        team="alice",
        version_id=v1["id"],
        status_code=422,
        valid=False,
        error="unconformant_output",
        output=None,
    )
    r = alice.post(f"/v1/requests/{rid}/accept")
    assert r.status_code == 422
    assert r.json()["errors"][0]["path"] == "/output"


def test_another_teams_request_is_404(alice, bob, engine):
    v1 = register(alice)
    rid = log(engine, team="alice", version_id=v1["id"])
    r = bob.post(f"/v1/requests/{rid}/accept", json={})
    assert r.status_code == 404
    assert r.json()["error"] == "request_not_found"
    assert alice.post("/v1/requests/999999/accept").status_code == 404


def test_cookie_mutations_need_the_ui_header(alice, client):
    register(alice)
    sign_in(client, alice.key)
    try:
        assert client.get("/v1/schemas/weather").status_code == 200
        r = client.post("/v1/schemas/weather/examples", json={"input": "x"})
        assert r.status_code == 403
        assert r.json()["error"] == "csrf_header_missing"
        ok = client.post(
            "/v1/schemas/weather/examples", json={"input": "x"}, headers={"X-Formwright-UI": "1"}
        )
        assert ok.status_code == 201, ok.text
    finally:
        client.cookies.clear()


def test_prometheus_exposes_requests_latency_jobs_and_queue(alice, client, engine):
    v1 = register(alice)
    with Session(engine) as session:
        session.add(
            Job(
                team_id=team_id(engine, "alice"),
                schema_version_id=v1["id"],
                state="training",
                params={},
            )
        )
        session.commit()
    prom.observe_generation(
        team="alice",
        schema="weather",
        version=1,
        decoding="constrained:xgrammar",
        status=200,
        latency_s=0.42,
        completion_tokens=12,
    )
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }
    labels = {"team": "alice", "schema": "weather", "version": "1"}
    labels["decoding"] = "constrained:xgrammar"

    def value(name: str, **extra: str) -> float | None:
        return samples.get((name, tuple(sorted({**labels, **extra}.items()))))

    assert value("formwright_generate_requests_total", status="200") >= 1
    assert value("formwright_generate_latency_seconds_bucket", le="0.5") >= 1
    assert value("formwright_generate_completion_tokens_total") >= 12
    assert samples[("formwright_generate_queue_depth", ())] == 0
    assert samples[("formwright_jobs_active", ())] == 1
    assert samples[("formwright_jobs", (("state", "training"), ("team", "alice")))] == 1
    assert samples[("formwright_jobs", (("state", "succeeded"), ("team", "alice")))] == 0
