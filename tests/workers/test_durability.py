"""Durable jobs with real worker and API processes: a SIGKILLed worker's job resumes from its
checkpoint on another worker; a job whose attempts keep dying fails after the attempt limit;
cancel is final across restarts; killing the API loses nothing."""

import os
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from service.config import Settings
from service.db import make_engine
from service.models import FINAL_STATES, Job
from tests.workers.conftest import Processes, wait_for_job
from tests.workers.test_pipeline import SCHEMA, examples

ENDED = set(FINAL_STATES)


def checkpoints(settings, job_id: int) -> list:
    folder = settings.resolved_artifacts_dir / "jobs" / str(job_id) / "checkpoints"
    return sorted(folder.glob("checkpoint-*")) if folder.exists() else []


def start_training(team, **params) -> int:
    team.post("/v1/schemas", json={"name": "tickets", "schema": SCHEMA})
    team.post("/v1/schemas/tickets/examples", json=examples())
    r = team.post(
        "/v1/schemas/tickets/jobs",
        json={"epochs": 50, "max_steps": 400, "checkpoint_every": 5, "batch_size": 1, **params},
    )
    assert r.status_code == 202, r.text
    return r.json()["id"]


def attempts(job: dict, stage: str | None = None) -> list[dict]:
    """The job's `attempt` events (of one stage), oldest first."""
    return [
        e
        for e in job["events"]
        if e["kind"] == "attempt" and (stage is None or e["data"]["stage"] == stage)
    ]


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
    job = wait_for_job(team, job_id, states=ENDED, timeout=500)
    assert job["state"] == "succeeded", (job["error"], workers.logs())
    assert [e["data"]["attempt"] for e in attempts(job, "finetune")] == [1, 2]
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
    job = wait_for_job(team, job_id, states=ENDED, timeout=60)
    assert job["state"] == "cancelled", job
    assert checkpoints(live_settings, job_id)  # the last checkpoint is kept
    workers.kill(worker)
    workers.start()
    time.sleep(6)  # lease expiry + sweeps: nothing may bring it back
    assert team.get(f"/v1/jobs/{job_id}").json()["state"] == "cancelled"
    assert team.get("/v1/schemas/tickets/adapters").json()["data"] == []


def trained_in_attempt(team, job_id: int, attempt: int) -> bool:
    """The finetune stage's `attempt`-th attempt has started and logged a training step."""
    job = team.get(f"/v1/jobs/{job_id}").json()
    started = attempts(job, "finetune")
    if len(started) < attempt:
        return False
    after = job["events"][job["events"].index(started[attempt - 1]) + 1 :]
    return any(e["kind"] == "step" for e in after)


@pytest.mark.timeout(240)
def test_a_job_whose_attempts_keep_dying_fails_after_the_attempt_limit(
    live_app, live_settings, workers
):
    team, _ = live_app
    limit = 2
    job_id = start_training(team, max_steps=200)
    for attempt in range(1, limit + 1):
        worker = workers.start(FORMWRIGHT_JOB_MAX_ATTEMPTS=str(limit))
        wait_until(lambda n=attempt: trained_in_attempt(team, job_id, n), timeout=90)
        workers.kill(worker)
    workers.start(FORMWRIGHT_JOB_MAX_ATTEMPTS=str(limit))
    job = wait_for_job(team, job_id, states=ENDED, timeout=60)
    assert job["state"] == "failed", (job, workers.logs())
    assert job["error"] == f"stage finetune died {limit} times (worker crash or kill)"
    assert job["events"][-1]["kind"] == "failed"
    assert job["events"][-1]["message"] == f"gave up after {limit} attempts at stage finetune"
    assert [e["data"]["attempt"] for e in attempts(job, "finetune")] == [1, 2]
    assert len([e for e in job["events"] if e["kind"] == "lease_expired"]) == limit
    assert team.get("/v1/schemas/tickets/adapters").json()["data"] == []
    assert not (live_settings.resolved_artifacts_dir / "adapters" / f"job-{job_id}").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Api(Processes):
    """`formwright serve` as a subprocess (without its embedded worker unless asked)."""

    port: int = field(default_factory=free_port)
    kind = "api"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, worker: bool = False) -> httpx.Client:
        """Start the API, wait until it answers; a client with team `default`'s key."""
        flag = "--worker" if worker else "--no-worker"
        self.spawn(["serve", flag, "--port", str(self.port)])
        wait_until(self.up, timeout=90)
        key = (Path(self.env["FORMWRIGHT_DATA_DIR"]) / "default-team.key").read_text().strip()
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )

    def up(self) -> bool:
        assert self.procs[-1].poll() is None, self.logs()
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False


@pytest.fixture
def api(live_env: dict[str, str], tmp_path: Path) -> Iterator[Api]:
    server = Api(env=live_env, log_dir=tmp_path)
    yield server
    server.stop_all()


@pytest.mark.timeout(240)
def test_killing_the_api_mid_job_loses_nothing(api, workers, live_env):
    client = api.start()
    workers.start()
    assert client.post("/v1/schemas", json={"name": "tickets", "schema": SCHEMA}).is_success
    assert client.post("/v1/schemas/tickets/examples", json=examples()).is_success
    r = client.post(
        "/v1/schemas/tickets/jobs", json={"epochs": 20, "max_steps": 60, "learning_rate": 0.01}
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]

    def training() -> bool:
        job = client.get(f"/v1/jobs/{job_id}").json()
        return job["state"] == "training" and job["step"] > 0

    wait_until(training, timeout=90)
    api.kill(api.procs[-1])
    client.close()
    with pytest.raises(httpx.TransportError):
        httpx.get(api.url + "/healthz", timeout=2)

    # The worker carries on alone: the database shows the job through to its end.
    db = make_engine(Settings(data_dir=Path(live_env["FORMWRIGHT_DATA_DIR"])).resolved_database_url)

    def state() -> str:
        with Session(db) as session:
            job = session.get(Job, job_id)
            assert job is not None
            return job.state

    try:
        assert state() not in FINAL_STATES
        wait_until(lambda: state() in FINAL_STATES, timeout=150)
        assert state() == "succeeded", workers.logs()
    finally:
        db.dispose()

    client = api.start()
    with client:
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["state"] == "succeeded", job
        assert job["step"] == job["total_steps"] == 60
        assert [e["data"]["attempt"] for e in attempts(job)] == [1] * 5
        adapters = client.get("/v1/schemas/tickets/adapters").json()["data"]
        assert [a["id"] for a in adapters] == [job["adapter_id"]]
        assert adapters[0]["active"] is True, job["data"]["promotion"]
        wait_until(lambda: client.get("/readyz").status_code == 200, timeout=90)
        answer = client.post("/v1/schemas/tickets/generate", json={"input": "my parcel to Oslo"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["adapter"] == job["adapter_id"]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.timeout(120)
def test_the_embedded_worker_does_not_outlive_a_killed_serve(api):
    api.start(worker=True)
    serve = api.procs[-1]
    children = Path(f"/proc/{serve.pid}/task/{serve.pid}/children").read_text().split()
    assert len(children) == 1  # the embedded worker
    worker = int(children[0])
    os.kill(serve.pid, signal.SIGKILL)  # not the group: only `serve` dies
    serve.wait(10)
    wait_until(lambda: not alive(worker), timeout=60)
