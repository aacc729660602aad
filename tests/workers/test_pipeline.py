"""register -> examples -> job -> succeeded -> promoted -> generate with the adapter, through a
real worker process and the embedded SQLite broker."""

from pathlib import Path

import pytest

from tests.workers.conftest import wait_for_job
from training.modeling import cpu_bf16_dot

SCHEMA = {
    "type": "object",
    "properties": {
        "team": {"enum": ["billing", "shipping", "returns", "other"]},
        "city": {"type": ["string", "null"], "maxLength": 20},
    },
    "required": ["team", "city"],
    "additionalProperties": False,
}
CITIES = ["Oslo", "Lima", "Pune", "Kyiv", "Doha", "Riga", "Baku", "Rome", "Nice", "Bonn"]


def examples() -> list[dict]:
    rows = []
    for i, city in enumerate(CITIES * 2):
        text = f"order {i}: my parcel to {city} is late" if i % 2 else f"where is my parcel {i}"
        rows.append(
            {"input": text, "output": {"team": "shipping", "city": city if i % 2 else None}}
        )
    return rows


@pytest.mark.timeout(400)
def test_a_job_trains_evaluates_promotes_and_serves_its_adapter(live_app, workers):
    team, _ = live_app
    assert team.post("/v1/schemas", json={"name": "tickets", "schema": SCHEMA}).status_code == 201
    rows = examples()
    for row in rows[:4]:
        row["eval"] = True  # pinned: the evaluation set, whatever the split would hold out
    assert team.post("/v1/schemas/tickets/examples", json=rows).json()["added"] == 20
    workers.start()
    r = team.post(
        "/v1/schemas/tickets/jobs", json={"epochs": 20, "max_steps": 30, "learning_rate": 0.01}
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    again = team.post("/v1/schemas/tickets/jobs", json={})
    assert again.status_code == 409
    assert again.json()["error"] == "job_in_progress"

    job = wait_for_job(team, job_id, states={"succeeded", "failed", "cancelled"})
    assert job["state"] == "succeeded", (job, workers.logs())
    assert job["progress"] == 1.0
    assert job["step"] == job["total_steps"] == 30
    # the tiny random model's loss stays far above converged_loss: every planned step ran
    training = job["data"]["training"]
    assert (training["steps"], training["planned_steps"], training["converged"]) == (30, 30, False)
    assert job["data"]["dataset"]["eval"] == 4
    assert job["data"]["dataset"]["eval_set"] == "pinned"
    assert job["data"]["validation"]["train_pairs"] >= job["data"]["dataset"]["train_real"]
    # the job says what it trained in: bf16 only on a CPU that multiplies bf16
    assert job["data"]["training"]["precision"] == ("bf16" if cpu_bf16_dot() else "fp32")
    kinds = [e["kind"] for e in job["events"]]
    assert kinds[0] == "queued"
    assert kinds[-1] == "succeeded"
    assert "promotion" in kinds
    evaluation = job["data"]["evaluation"]
    assert set(evaluation) >= {"base", "adapter_unconstrained", "adapter_served"}
    # The job's metrics: both figures on the same 4 examples, per path, and the verdict.
    metrics = job["metrics"]
    assert metrics["eval_examples"] == evaluation["n"] == 4
    assert metrics["adapter_served"] == {
        k: evaluation["adapter_served"][k]
        for k in ("conformance", "exact_match", "field_accuracy", "per_path")
    }
    assert metrics["base"]["per_path"]
    assert metrics["promoted"] is job["data"]["promotion"]["promoted"]

    adapters = team.get("/v1/schemas/tickets/adapters").json()["data"]
    assert len(adapters) == 1
    adapter = adapters[0]
    assert adapter["id"] == job["adapter_id"]
    # The listing says where the adapter is: a PEFT directory a user can load elsewhere.
    assert (Path(adapter["path"]) / "adapter_config.json").is_file()
    promotion = job["data"]["promotion"]
    assert adapter["active"] is promotion["promoted"]
    assert promotion["promoted"], (
        promotion,
        evaluation,
    )  # learning a constant team beats a random base
    promoted = [e for e in team.get("/v1/audit").json()["data"] if e["action"] == "promote"]
    assert [(e["actor"], e["resource"]) for e in promoted] == [
        ("worker", f"/v1/adapters/{adapter['id']}/promote")
    ]
    answer = team.post("/v1/schemas/tickets/generate", json={"input": "my parcel to Oslo is late"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["adapter"] == adapter["id"]
    assert answer.json()["valid"] is True

    # Rollback: the base model serves again, without a restart.
    assert team.post(f"/v1/adapters/{adapter['id']}/rollback").status_code == 200
    answer = team.post("/v1/schemas/tickets/generate", json={"input": "my parcel to Oslo is late"})
    assert answer.json()["adapter"] is None
    assert team.post(f"/v1/jobs/{job_id}/cancel").status_code == 409


def test_cancel_a_queued_job_is_final(live_app):
    team, _ = live_app
    team.post("/v1/schemas", json={"name": "tickets", "schema": SCHEMA})
    team.post("/v1/schemas/tickets/examples", json=examples())
    job_id = team.post("/v1/schemas/tickets/jobs", json={"max_steps": 5}).json()["id"]
    cancelled = team.post(f"/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert team.post(f"/v1/jobs/{job_id}/cancel").status_code == 409


def test_not_enough_examples_is_422(live_app):
    team, _ = live_app
    team.post("/v1/schemas", json={"name": "tickets", "schema": SCHEMA})
    r = team.post("/v1/schemas/tickets/jobs", json={})
    assert r.status_code == 422
    assert r.json()["error"] == "not_enough_examples"
