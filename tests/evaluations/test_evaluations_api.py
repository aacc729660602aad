"""Eval-only runs: the active adapter (and the base model) scored on the pinned set or on
accepted traffic, kept over time, and a drift warning past the team's margin."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from service.app import create_app
from service.models import Adapter, Team
from tests.fixtures.app import TeamClient, add_active_adapter, make_team, sign_in

CITIES = ["Oslo", "Lima", "Pune", "Rome"]
SCHEMA = {
    "type": "object",
    "properties": {"city": {"enum": CITIES}},
    "required": ["city"],
    "additionalProperties": False,
}
FIGURES = ("conformance", "exact_match", "field_accuracy", "per_path", "n", "errors")


@pytest.fixture
def team(settings, engine: Engine, tiny_runtime):
    with TestClient(create_app(settings, db_engine=engine, runtime=tiny_runtime)) as client:
        yield TeamClient(client, make_team(engine, "alice"), "alice")


@pytest.fixture
def adapter_id(team, engine: Engine, tiny_runtime, tmp_path: Path) -> int:
    version = team.post("/v1/schemas", json={"name": "weather", "schema": SCHEMA}).json()
    rows = [
        {"input": f"weather in {city} please ({i})", "output": {"city": city}, "eval": i < 1}
        for i in range(3)
        for city in CITIES
    ]
    assert team.post("/v1/schemas/weather/examples", json=rows).json()["added"] == 12
    return add_active_adapter(
        engine,
        team="alice",
        version_id=version["id"],
        runtime=tiny_runtime,
        dest=tmp_path / "adapter",
        seed=5,
    )


def set_promoted_accuracy(engine: Engine, adapter_id: int, value: float) -> None:
    """The served field accuracy the adapter's job measured when it was promoted."""
    with Session(engine) as session:
        adapter = session.get(Adapter, adapter_id)
        assert adapter is not None
        adapter.evaluation = {"adapter_served": {"field_accuracy": value}}
        session.add(adapter)
        session.commit()


def test_runs_are_kept_and_a_drop_past_the_margin_warns(team, engine, adapter_id, cli):
    first = team.post("/v1/schemas/weather/evaluations", json={"base": True})
    assert first.status_code == 201, first.text
    run = first.json()
    assert (run["adapter_id"], run["eval_set"], run["n"]) == (adapter_id, "pinned", 4)
    assert set(run["results"]) == {"base", "adapter_unconstrained", "adapter_served"}
    assert run["results"]["adapter_served"]["n"] == 4
    assert run["drop"] is None  # nothing to compare with: no figure at promotion, no earlier run
    served = run["results"]["adapter_served"]["field_accuracy"]

    # The adapter had been promoted at a figure 0.3 higher; the team tolerates 0.1.
    set_promoted_accuracy(engine, adapter_id, served + 0.3)
    assert team.patch("/v1/team", json={"drift_margin": 0.1}).json()["drift_margin"] == 0.1
    second = team.post("/v1/schemas/weather/evaluations", json={}).json()
    # The same adapter on the same set: the same figures.
    assert {k: second["results"]["adapter_served"][k] for k in FIGURES} == {
        k: run["results"]["adapter_served"][k] for k in FIGURES
    }
    assert "base" not in second["results"]
    assert second["drop"] == pytest.approx(0.3)
    assert "fell from" in second["warning"]

    listed = team.get("/v1/schemas/weather/evaluations", params={"version": 1}).json()
    assert [r["id"] for r in listed["data"]] == [second["id"], run["id"]]
    scrape = team.client.get("/metrics").text
    assert (
        'formwright_evaluation_drift_warning{schema="weather",team="alice",version="1"} 1.0'
        in scrape
    )
    assert 'formwright_evaluation_drop{schema="weather",team="alice",version="1"} 0.3' in scrape

    shown = cli(team.client, team.key, "evaluations", "run", "weather")
    assert shown.exit_code == 0, shown.output
    assert "4 pinned examples: served field accuracy" in shown.stdout
    assert "warning: Served field accuracy fell from" in shown.stdout
    listed = cli(team.client, team.key, "evaluations", "list", "weather")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count("DRIFT") == 2

    sign_in(team.client, team.key)
    page = team.client.get("/ui/schemas/weather/adapters").text
    assert "Evaluation runs" in page
    assert page.count('class="pill bad" title="Served field accuracy fell from') == 2


def test_traffic_since_a_date_is_an_eval_set(team, adapter_id):
    before = datetime.now(UTC) - timedelta(seconds=1)
    answer = team.post("/v1/schemas/weather/generate", json={"input": "is it warm in Pune?"})
    assert answer.status_code == 200, answer.text
    [logged] = team.get("/v1/schemas/weather/requests").json()["data"]
    accepted = team.post(f"/v1/requests/{logged['id']}/accept", json={"output": {"city": "Pune"}})
    assert accepted.status_code == 201, accepted.text

    run = team.post(
        "/v1/schemas/weather/evaluations", json={"set": "traffic", "since": before.isoformat()}
    )
    assert run.status_code == 201, run.text
    assert (run.json()["eval_set"], run.json()["n"]) == ("traffic", 1)

    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    empty = team.post("/v1/schemas/weather/evaluations", json={"set": "traffic", "since": later})
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["path"] == "/since"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"set": "everything"}, "/set"),
        ({"set": "traffic"}, "/since"),
        ({"set": "traffic", "since": "2026-01-01T00:00:00"}, "/since"),  # no time zone
        ({"base": "maybe"}, "/base"),
        ({"version": 0}, "/version"),
    ],
)
def test_bad_input_is_422_with_the_offending_path(team, adapter_id, body, path):
    r = team.post("/v1/schemas/weather/evaluations", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["path"] == path


def test_without_pinned_examples_or_with_a_stale_adapter_it_says_why(team, engine, adapter_id):
    team.post("/v1/schemas", json={"name": "empty", "schema": SCHEMA})
    none = team.post("/v1/schemas/empty/evaluations", json={})
    assert none.status_code == 422
    assert none.json()["error"] == "no_eval_set"
    assert team.post("/v1/schemas/nope/evaluations", json={}).status_code == 404
    with Session(engine) as session:
        adapter = session.get(Adapter, adapter_id)
        assert adapter is not None
        adapter.base_fingerprint = "sha256:another-base"
        session.add(adapter)
        session.commit()
    stale = team.post("/v1/schemas/weather/evaluations", json={})
    assert stale.status_code == 409
    assert stale.json()["error"] == "adapter_stale"


def test_a_team_runs_one_evaluation_at_a_time(team, engine, adapter_id):
    from service.evaluations.service import one_run_per_team

    with Session(engine) as session:
        alice = session.exec(select(Team).where(Team.name == "alice")).one()
    with one_run_per_team(alice):  # a run of the same team is scoring
        busy = team.post("/v1/schemas/weather/evaluations", json={})
        assert busy.status_code == 409
        assert busy.json()["error"] == "evaluation_in_progress"
    assert team.post("/v1/schemas/weather/evaluations", json={}).status_code == 201
