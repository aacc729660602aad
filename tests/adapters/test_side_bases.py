"""Several base models side by side (FORMWRIGHT_BASE_MODELS): an adapter trained on a base
loaded beside the default one keeps serving on it, while the team moves schema by schema;
without that base it falls back, visibly, to the default base."""

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from tests.adapters.test_base_match import SCHEMA
from tests.fixtures.app import TeamClient, add_active_adapter, make_team


def test_settings_list_the_side_base_models():
    settings = Settings(base_models=" /models/a, /models/b ,")
    assert settings.side_base_models == ["/models/a", "/models/b"]
    assert Settings().side_base_models == []


@pytest.mark.timeout(300)
def test_an_adapter_serves_on_the_side_base_it_was_trained_for(
    settings, engine, tiny_runtime, wider_tiny_runtime, tmp_path
):
    key = make_team(engine, "alice")
    # The default base is the wider model; the narrow one stays loaded beside it.
    app = create_app(
        settings, db_engine=engine, runtime=wider_tiny_runtime, side_runtimes=[tiny_runtime]
    )
    with TestClient(app) as client:
        team = TeamClient(client, key, "alice")
        old = team.post("/v1/schemas", json={"name": "old", "schema": SCHEMA}).json()
        new = team.post("/v1/schemas", json={"name": "new", "schema": SCHEMA}).json()
        on_side = add_active_adapter(
            engine,
            team="alice",
            version_id=old["id"],
            runtime=tiny_runtime,
            dest=tmp_path / "side",
            seed=4,
        )
        on_default = add_active_adapter(
            engine,
            team="alice",
            version_id=new["id"],
            runtime=wider_tiny_runtime,
            dest=tmp_path / "default",
            seed=4,
        )

        assert team.get(f"/v1/adapters/{on_side}").json()["base_status"] == "side_base"
        assert team.get(f"/v1/adapters/{on_default}").json()["base_status"] == "matches"
        for name, adapter in (("old", on_side), ("new", on_default)):
            answer = team.post(f"/v1/schemas/{name}/generate", json={"input": "rain in Lima"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["adapter"] == adapter
            assert answer.json()["fallback"] is None

        # Moving on: retraining lists what is not on the default base, side ones included.
        dry = team.post("/v1/retrain", json={"dry_run": True}).json()
        assert [(r["name"], r["base_status"]) for r in dry["data"]] == [("old", "side_base")]
        scrape = client.get("/metrics").text
        assert 'formwright_active_adapters{base_status="side_base",team="alice"} 1.0' in scrape

    # Restarted without the side base: the adapter falls back, visibly.
    with TestClient(create_app(settings, db_engine=engine, runtime=wider_tiny_runtime)) as client:
        team = TeamClient(client, key, "alice")
        assert team.get(f"/v1/adapters/{on_side}").json()["base_status"] == "stale"
        answer = team.post("/v1/schemas/old/generate", json={"input": "rain in Lima"}).json()
        assert answer["fallback"] == {"adapter": on_side, "reason": "stale"}
        assert answer["decoding"].startswith("fallback:")
