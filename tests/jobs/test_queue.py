"""Jobs are sent after the commit that asked for them, never on rollback; stalled jobs again."""

import pytest

from service.db import session_scope
from service.jobs import queue
from service.jobs.states import Stage
from service.models import Job
from tests.jobs.conftest import NOW, later


def test_a_stage_is_sent_after_the_commit(engine, job_id, broker, load):
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        queue.send_stage(session, job=job, stage=Stage.SYNTHESIZE)
        assert broker() == []  # not before the commit: a worker would not find the row yet
    assert broker() == [("training.synthesize", [job_id])]
    assert load(job_id)[0].dispatched_at is not None


def test_a_rolled_back_request_sends_nothing(engine, job_id, broker, load):
    def failing_request() -> None:
        with session_scope(engine) as session:
            job = session.get(Job, job_id)
            queue.send_stage(session, job=job, stage=Stage.SYNTHESIZE)
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError, match="the request failed"):
        failing_request()
    assert broker() == []
    assert load(job_id)[0].dispatched_at is None


def test_creating_a_job_through_the_api_sends_its_first_stage(alice, broker):
    alice.post("/v1/schemas", json={"name": "w", "schema": {"type": "object"}})
    rows = [{"input": f"text {i}", "output": {}} for i in range(4)]
    r = alice.post("/v1/schemas/w/examples", json=rows)
    assert r.status_code == 201, r.text
    r = alice.post("/v1/schemas/w/jobs", json={"synthesis": {"enabled": False}})
    assert r.status_code == 202, r.text
    assert broker() == [("training.synthesize", [r.json()["id"]])]


def test_only_stalled_jobs_are_sent_again(engine, job_id, broker):
    def stalled(**columns) -> list[int]:
        with session_scope(engine) as session:
            job = session.get(Job, job_id)
            fresh = {
                "state": "queued",
                "cancel_requested": False,
                "dispatched_at": None,
                "lease_owner": None,
                "lease_expires_at": None,
            }
            for key, value in {**fresh, **columns}.items():
                setattr(job, key, value)
            session.add(job)
        with session_scope(engine) as session:
            return [j.id for j in queue.repository.stalled(session, redispatch_after_s=60, now=NOW)]

    assert stalled() == [job_id]  # never sent
    assert stalled(dispatched_at=later(-61)) == [job_id]  # sent long ago, nobody took it
    assert stalled(dispatched_at=later(-59)) == []  # sent just now: give it time
    assert stalled(lease_owner="w1", lease_expires_at=later(1)) == []  # running
    assert stalled(lease_owner="w1", lease_expires_at=later(-1)) == [job_id]  # owner died
    assert stalled(cancel_requested=True) == []
    assert stalled(state="succeeded") == []
    stalled(dispatched_at=later(-61))
    with session_scope(engine) as session:
        assert queue.redispatch_stalled(session, redispatch_after_s=60) == [job_id]
    assert broker() == [("training.synthesize", [job_id])]
