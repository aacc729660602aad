"""Durable jobs with real worker processes: a SIGKILLed worker's job resumes from its
checkpoint on another worker; cancel is final across restarts."""

import time

import pytest

from tests.workers.conftest import wait_for_job
from tests.workers.test_pipeline import SCHEMA, examples


def checkpoints(settings, job_id: int) -> list:
    folder = settings.resolved_artifacts_dir / "jobs" / str(job_id) / "checkpoints"
    return sorted(folder.glob("checkpoint-*")) if folder.exists() else []


def start_training(team) -> int:
    team.post("/v1/schemas", json={"name": "tickets", "schema": SCHEMA})
    team.post("/v1/schemas/tickets/examples", json=examples())
    r = team.post(
        "/v1/schemas/tickets/jobs",
        json={"epochs": 50, "max_steps": 400, "checkpoint_every": 5, "batch_size": 1},
    )
    assert r.status_code == 202, r.text
    return r.json()["id"]


def wait_until(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.timeout(600)
def test_killed_worker_resumes_from_its_checkpoint(live_app, live_settings, workers):
    team, _ = live_app
    first = workers.start()
    job_id = start_training(team)
    wait_until(lambda: checkpoints(live_settings, job_id))
    workers.kill(first)
    killed_at = team.get(f"/v1/jobs/{job_id}").json()
    assert killed_at["state"] == "training"
    workers.start()
    job = wait_for_job(team, job_id, states={"succeeded", "failed", "cancelled"}, timeout=500)
    assert job["state"] == "succeeded", (job["error"], workers.logs())
    attempts = [e for e in job["events"] if e["kind"] == "attempt"]
    finetune = [e for e in attempts if e["data"]["stage"] == "finetune"]
    assert [e["data"]["attempt"] for e in finetune] == [1, 2]
    assert any(e["kind"] == "lease_expired" for e in job["events"])
    resumed = job["data"]["training"]["resumed_from"]
    assert resumed is not None
    assert resumed >= 5
    assert resumed % 5 == 0
    assert job["step"] == job["total_steps"] == 400
    assert len(team.get("/v1/schemas/tickets/adapters").json()["data"]) == 1
    adapters_dir = live_settings.resolved_artifacts_dir / "adapters"
    assert [p.name for p in adapters_dir.iterdir()] == [f"job-{job_id}"]


@pytest.mark.timeout(300)
def test_cancel_during_training_stays_cancelled_after_restart(live_app, live_settings, workers):
    team, _ = live_app
    worker = workers.start()
    job_id = start_training(team)
    wait_until(lambda: checkpoints(live_settings, job_id))
    r = team.post(f"/v1/jobs/{job_id}/cancel")
    assert r.status_code == 200
    job = wait_for_job(team, job_id, states={"cancelled", "failed", "succeeded"}, timeout=60)
    assert job["state"] == "cancelled", job
    assert checkpoints(live_settings, job_id)  # the last checkpoint is kept
    workers.kill(worker)
    workers.start()
    time.sleep(6)  # lease expiry + sweeps: nothing may bring it back
    assert team.get(f"/v1/jobs/{job_id}").json()["state"] == "cancelled"
    assert team.get("/v1/schemas/tickets/adapters").json()["data"] == []
