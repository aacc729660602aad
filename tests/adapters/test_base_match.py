"""A base-model upgrade: adapters trained for the old base are stale (API, CLI, dashboard,
/metrics), and the schemas they served fall back, visibly, to constrained decoding on the new
base. Two tiny base models of different widths; one database."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from runtime import ModelRuntime
from service.app import create_app
from service.config import Settings
from tests.fixtures.app import TeamClient, add_active_adapter, make_team, sign_in

SCHEMA = {
    "type": "object",
    "properties": {"city": {"enum": ["Oslo", "Lima"]}},
    "required": ["city"],
    "additionalProperties": False,
}


@pytest.fixture
def key(engine: Engine) -> str:
    return make_team(engine, "alice")


def serving(settings: Settings, engine: Engine, runtime: ModelRuntime) -> TestClient:
    return TestClient(create_app(settings, db_engine=engine, runtime=runtime))


@pytest.fixture
def adapter_id(
    settings: Settings, engine: Engine, key: str, tiny_runtime: ModelRuntime, tmp_path: Path
) -> int:
    """An active adapter of 'weather' v1, trained for the tiny base model."""
    with serving(settings, engine, tiny_runtime) as client:
        team = TeamClient(client, key, "alice")
        version = team.post("/v1/schemas", json={"name": "weather", "schema": SCHEMA}).json()
    return add_active_adapter(
        engine,
        team="alice",
        version_id=version["id"],
        runtime=tiny_runtime,
        dest=tmp_path / "adapter",
        seed=3,
    )


def test_the_same_adapter_matches_one_base_and_is_stale_on_the_other(
    settings, engine, key, adapter_id, tiny_runtime, wider_tiny_runtime, cli
):
    with serving(settings, engine, tiny_runtime) as client:
        team = TeamClient(client, key, "alice")
        listed = team.get("/v1/schemas/weather/adapters").json()["data"]
        assert [(a["id"], a["base_status"]) for a in listed] == [(adapter_id, "matches")]
        r = team.post("/v1/schemas/weather/generate", json={"input": "rain in Oslo"})
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["adapter"] == adapter_id
        assert answer["fallback"] is None
        assert not answer["decoding"].startswith("fallback")

    # The operator restarts on a wider base model: same database, same adapter rows.
    with serving(settings, engine, wider_tiny_runtime) as client:
        team = TeamClient(client, key, "alice")
        shown = team.get(f"/v1/adapters/{adapter_id}").json()
        assert shown["base_status"] == "stale"
        assert shown["active"] is True

        answer = team.post("/v1/schemas/weather/generate", json={"input": "rain in Oslo"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["adapter"] is None
        assert body["fallback"] == {"adapter": adapter_id, "reason": "stale"}
        assert body["decoding"].startswith("fallback:constrained")
        assert body["valid"] is True

        # The schema's metrics count the fallback path by name.
        metrics = team.get("/v1/schemas/weather/metrics").json()
        decodings = metrics["overall"]["decoding"]
        assert any(k.startswith("fallback:") for k in decodings), decodings
        scrape = client.get("/metrics").text
        assert 'formwright_active_adapters{base_status="stale",team="alice"} 1.0' in scrape
        assert 'formwright_active_adapters{base_status="matches",team="alice"} 0.0' in scrape
        assert 'decoding="fallback:constrained' in scrape

        result = cli(client, key, "adapters", "list", "weather")
        assert result.exit_code == 0, (result.output, result.exception)
        assert "stale" in result.stdout
        assert "adapters retrain --all" in result.stdout

        sign_in(client, key)
        page = client.get("/ui/schemas/weather/adapters").text
        assert "stale: other base model" in page
        assert "active, not serving" in page


def test_an_unloaded_base_says_unknown(settings, engine, key, adapter_id):
    with TestClient(create_app(settings, db_engine=engine)) as client:  # load_model=False
        listed = TeamClient(client, key, "alice").get("/v1/schemas/weather/adapters").json()
        assert listed["data"][0]["base_status"] == "unknown"
