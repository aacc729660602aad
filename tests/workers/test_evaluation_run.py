"""An eval-only run gives the same figures as the job's evaluation on the same set: a real
worker trains and evaluates; the API then scores the promoted adapter and the base model on
the pinned set with the same code."""

import pytest

from tests.workers.conftest import wait_for_job
from tests.workers.test_pipeline import SCHEMA, examples
from tests.workers.test_retrain import FINAL, PARAMS

FIGURES = ("n", "conformance", "exact_match", "field_accuracy", "per_path", "errors")


@pytest.mark.timeout(400)
def test_an_evaluation_run_matches_the_jobs_evaluation(live_app, workers):
    team, _ = live_app
    team.post("/v1/schemas", json={"name": "tickets", "schema": SCHEMA})
    rows = examples()
    for row in rows[:4]:
        row["eval"] = True
    team.post("/v1/schemas/tickets/examples", json=rows)
    workers.start()
    job = team.post("/v1/schemas/tickets/jobs", json=PARAMS).json()
    job = wait_for_job(team, job["id"], states=FINAL)
    assert job["state"] == "succeeded", (job, workers.logs())
    assert job["metrics"]["promoted"], job["metrics"]

    r = team.post("/v1/schemas/tickets/evaluations", json={"base": True})
    assert r.status_code == 201, r.text
    run = r.json()
    assert run["adapter_id"] == job["adapter_id"]
    evaluation = job["data"]["evaluation"]
    for key in ("base", "adapter_unconstrained", "adapter_served"):
        assert {f: run["results"][key][f] for f in FIGURES} == {
            f: evaluation[key][f] for f in FIGURES
        }, key
    # Measured against the figure at promotion, which it equals: no drop, no warning.
    assert run["baseline"] == evaluation["adapter_served"]["field_accuracy"]
    assert run["drop"] == 0
    assert run["warning"] is None
