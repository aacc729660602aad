"""A base-model upgrade, end to end: an adapter trained on one tiny base model is stale on a
wider one; `POST /v1/retrain` (and `formwright adapters retrain --all`) queues exactly the stale
ones, once; a real worker on the new base retrains them with the same data and options, and
the new adapters serve."""

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.db import make_engine
from tests.fixtures.app import TeamClient, make_team
from tests.workers.conftest import wait_for_job
from tests.workers.test_pipeline import SCHEMA, examples

PARAMS = {"epochs": 20, "max_steps": 30, "learning_rate": 0.01, "synthesis": {"enabled": False}}
FINAL = {"succeeded", "failed", "cancelled"}


@pytest.mark.timeout(600)
def test_retrain_all_replaces_exactly_the_stale_adapters(
    live_settings, tiny_runtime, wider_tiny_runtime, wider_tiny_model_dir, workers, cli
):
    db = make_engine(live_settings.resolved_database_url)
    key = make_team(db, "alice")
    rows = examples()
    for row in rows[:4]:
        row["eval"] = True

    # On the first base model: 'tickets' gets an adapter; 'orders' has examples, no adapter.
    with TestClient(create_app(live_settings, db_engine=db, runtime=tiny_runtime)) as client:
        team = TeamClient(client, key, "alice")
        for name in ("tickets", "orders"):
            created = team.post("/v1/schemas", json={"name": name, "schema": SCHEMA})
            assert created.status_code == 201, created.text
            assert team.post(f"/v1/schemas/{name}/examples", json=rows).status_code == 201
        workers.start()
        first = team.post("/v1/schemas/tickets/jobs", json=PARAMS).json()
        job = wait_for_job(team, first["id"], states=FINAL)
        assert job["state"] == "succeeded", (job, workers.logs())
        assert job["metrics"]["promoted"], job["metrics"]
        old = job["adapter_id"]
        workers.stop_all()

    # The operator upgrades the base model: the API and the worker restart on a wider one.
    with TestClient(create_app(live_settings, db_engine=db, runtime=wider_tiny_runtime)) as client:
        team = TeamClient(client, key, "alice")
        assert team.get(f"/v1/adapters/{old}").json()["base_status"] == "stale"

        dry = team.post("/v1/retrain", json={"dry_run": True}).json()
        assert [(r["name"], r["version"], r["adapter_id"], r["outcome"]) for r in dry["data"]] == [
            ("tickets", 1, old, "would_queue")
        ]
        assert dry["estimated_s"] > 0  # how long the old adapter's job took
        assert team.get("/v1/schemas/tickets/jobs").json()["count"] == 1  # nothing queued

        shown = cli(client, key, "adapters", "retrain", "--all", "--dry-run")
        assert shown.exit_code == 0, shown.output
        assert "would queue 1 jobs" in shown.stdout
        assert "tickets" in shown.stdout
        assert "orders" not in shown.stdout

        queued = cli(client, key, "adapters", "retrain", "--all", "--json")
        assert queued.exit_code == 0, queued.output
        team_jobs = team.get("/v1/schemas/tickets/jobs").json()["data"]
        assert len(team_jobs) == 2
        retrain_job = team_jobs[0]
        # The same data (the version's examples) and options; the version named explicitly.
        assert retrain_job["params"] == {**first["params"], "version": 1}

        # Idempotent: asked again while it waits, nothing more is queued.
        again = team.post("/v1/retrain", json={}).json()
        assert again["queued"] == 0
        assert [(r["outcome"], r["job_id"]) for r in again["data"]] == [
            ("in_progress", retrain_job["id"])
        ]
        assert team.get("/v1/schemas/orders/jobs").json()["count"] == 0

        workers.start(FORMWRIGHT_BASE_MODEL=str(wider_tiny_model_dir))
        job = wait_for_job(team, retrain_job["id"], states=FINAL)
        assert job["state"] == "succeeded", (job, workers.logs())
        assert "retrain" in [e["kind"] for e in job["events"]]
        # The old adapter cannot serve on this base: not scored; the base model is what to beat.
        assert job["data"]["evaluation"]["stale_adapter"] == {"id": old}
        assert job["metrics"]["against"] == f"base (adapter {old} stale)"
        assert job["metrics"]["promoted"], job["metrics"]

        new = team.get(f"/v1/adapters/{job['adapter_id']}").json()
        assert new["active"] is True
        assert new["base_status"] == "matches"
        assert new["replaced_id"] == old
        answer = team.post("/v1/schemas/tickets/generate", json={"input": "my parcel to Oslo"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["adapter"] == new["id"]
        assert answer.json()["fallback"] is None
        assert team.post("/v1/retrain", json={}).json()["data"] == []
    db.dispose()


def test_retrain_of_an_unknown_schema_is_404_and_bad_input_422(live_app):
    team, _ = live_app
    missing = team.post("/v1/retrain", json={"name": "nope"})
    assert missing.status_code == 404
    assert missing.json()["error"] == "schema_not_found"
    bad = team.post("/v1/retrain", json={"dry_run": "maybe"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "/dry_run"
