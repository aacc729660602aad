"""Durable jobs on a Redis broker whose visibility timeout is far shorter than training: Redis
hands the training message to a second worker while the first still trains, and the job lease
must keep that duplicate from running (celery#5935)."""

import re
import time
from collections.abc import Iterator

import pytest
import redis

from tests.workers.conftest import wait_for_job
from tests.workers.test_durability import ENDED, attempts, start_training, wait_until

VISIBILITY_TIMEOUT_S = 2

pytestmark = pytest.mark.redis


@pytest.fixture
def live_env(live_env: dict[str, str], redis_url: str) -> Iterator[dict[str, str]]:
    """The workers' and the test app's environment, on the test Redis database (flushed)."""
    broker = redis.Redis.from_url(redis_url)
    broker.flushdb()
    yield {
        **live_env,
        "FORMWRIGHT_BROKER_URL": redis_url,
        "FORMWRIGHT_JOB_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S),
        # No takeover on a busy machine: any second attempt here would be the duplicate's.
        "FORMWRIGHT_JOB_LEASE_S": "10",
    }
    broker.flushdb()
    broker.close()


def received(log: str, task: str) -> set[str]:
    """Ids of the `task` messages a worker log says it received."""
    return set(re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", log))


@pytest.mark.timeout(240)
def test_a_redelivered_training_message_backs_off_while_the_first_attempt_trains(
    live_app, live_settings, workers
):
    team, _ = live_app
    workers.start()
    # Long enough (~20 s with the tiny model) to still train when the second worker is up.
    job_id = start_training(team, max_steps=600)

    def training() -> bool:
        job = team.get(f"/v1/jobs/{job_id}").json()
        return job["state"] == "training" and job["step"] > 0

    wait_until(training, timeout=90)
    # Once the message has been unacked longer than the visibility timeout, the next worker
    # to start restores it to the queue and, being idle, takes it. (A running worker scans
    # only every unacked_restore_interval x throttle, ~100 s in kombu 5.7: too slow to wait
    # for here, hence a second worker rather than one with two processes.)
    time.sleep(VISIBILITY_TIMEOUT_S + 1)
    workers.start()
    second_log = workers.log_dir / "worker-1.log"
    wait_until(lambda: "backing off" in second_log.read_text(), timeout=90)
    during = team.get(f"/v1/jobs/{job_id}").json()
    assert during["state"] == "training", during
    assert [e["data"]["attempt"] for e in attempts(during, "finetune")] == [1]
    first_log = (workers.log_dir / "worker-0.log").read_text()
    duplicated = received(first_log, "training.finetune") & received(
        second_log.read_text(), "training.finetune"
    )
    assert duplicated, workers.logs()  # the same message, delivered to both workers

    job = wait_for_job(team, job_id, states=ENDED, timeout=150)
    assert job["state"] == "succeeded", (job["error"], workers.logs())
    started = [(e["data"]["stage"], e["data"]["attempt"]) for e in attempts(job)]
    assert started == [
        ("synthesize", 1),
        ("validate", 1),
        ("finetune", 1),
        ("evaluate", 1),
        ("promote", 1),
    ]
    assert not [e for e in job["events"] if e["kind"] == "lease_expired"]
    assert job["data"]["training"]["resumed_from"] is None  # trained once, start to end
    assert job["step"] == job["total_steps"] == 600
    assert not any("lease lost" in p.read_text() for p in workers.log_dir.glob("worker-*.log"))
    adapters = team.get("/v1/schemas/tickets/adapters").json()["data"]
    assert [a["id"] for a in adapters] == [job["adapter_id"]]
    adapters_dir = live_settings.resolved_artifacts_dir / "adapters"
    assert [p.name for p in adapters_dir.iterdir()] == [f"job-{job_id}"]
