"""The job lease: one running attempt per job, takeover after expiry, the attempt limit, cancel,
and what ends a stage — with the exact rows and events each leaves."""

from collections.abc import Callable

import pytest

from service.db import session_scope
from service.jobs import lease
from service.jobs.states import Stage
from service.models import Job
from tests.jobs.conftest import NOW, later

LEASE_S = 30.0


def acquire(engine, job_id: int, owner: str, *, at=NOW, stage=Stage.SYNTHESIZE, max_attempts=3):
    with session_scope(engine) as session:
        return lease.acquire(
            session,
            job_id=job_id,
            stage=stage,
            owner=owner,
            lease_s=LEASE_S,
            max_attempts=max_attempts,
            now=at,
        )


def update(engine, job_id: int, **columns) -> None:
    with session_scope(engine) as session:
        job = session.get(Job, job_id)
        for key, value in columns.items():
            setattr(job, key, value)
        session.add(job)


def test_the_first_delivery_takes_the_lease(engine, job_id, load):
    run = acquire(engine, job_id, "w1")
    assert run is not None
    assert (run.job_id, run.stage, run.owner, run.attempt) == (job_id, Stage.SYNTHESIZE, "w1", 1)
    job, events = load(job_id)
    assert (job.state, job.stage, job.attempts, job.lease_owner) == (
        "synthesizing",
        "synthesize",
        1,
        "w1",
    )
    assert job.lease_expires_at == later(LEASE_S)
    assert job.started_at == NOW
    assert events == ["attempt: stage synthesize: attempt 1 started on w1"]


def test_a_duplicate_delivery_backs_off_while_the_lease_lives(engine, job_id, load):
    acquire(engine, job_id, "w1")
    assert acquire(engine, job_id, "w2", at=later(LEASE_S - 1)) is None
    job, events = load(job_id)
    assert (job.lease_owner, job.attempts) == ("w1", 1)
    assert len(events) == 1


def test_an_expired_lease_is_taken_over_as_the_next_attempt(engine, job_id, load):
    acquire(engine, job_id, "w1")
    run = acquire(engine, job_id, "w2", at=later(LEASE_S + 1))
    assert run is not None
    assert run.attempt == 2
    job, events = load(job_id)
    assert (job.state, job.lease_owner, job.attempts) == ("synthesizing", "w2", 2)
    assert job.lease_expires_at == later(2 * LEASE_S + 1)
    assert job.started_at == NOW  # the job started with its first attempt
    assert events[1:] == [
        "lease_expired: attempt 1 by w1 stopped heartbeating",
        "attempt: stage synthesize: attempt 2 started on w2",
    ]


def test_a_stage_that_keeps_dying_fails_the_job_at_the_attempt_limit(engine, job_id, load):
    acquire(engine, job_id, "w1", max_attempts=2)
    acquire(engine, job_id, "w2", at=later(LEASE_S + 1), max_attempts=2)
    assert acquire(engine, job_id, "w3", at=later(3 * LEASE_S), max_attempts=2) is None
    job, events = load(job_id)
    assert (job.state, job.lease_owner, job.lease_expires_at) == ("failed", None, None)
    assert job.error == "stage synthesize died 2 times (worker crash or kill)"
    assert job.finished_at is not None
    assert events[-2:] == [
        "lease_expired: attempt 2 by w2 stopped heartbeating",
        "failed: gave up after 2 attempts at stage synthesize",
    ]


def test_a_cancelled_job_ends_at_its_next_delivery(engine, job_id, load):
    update(engine, job_id, cancel_requested=True)
    assert acquire(engine, job_id, "w1") is None
    job, events = load(job_id)
    assert (job.state, job.attempts, job.lease_owner) == ("cancelled", 0, None)
    assert events == ["cancelled: cancelled"]


@pytest.mark.parametrize(
    ("columns", "stage"),
    [
        ({"stage": "validate", "state": "validating"}, Stage.SYNTHESIZE),  # a stale duplicate
        ({"state": "succeeded"}, Stage.SYNTHESIZE),
        ({"state": "failed"}, Stage.SYNTHESIZE),
    ],
)
def test_a_done_stage_or_an_ended_job_is_left_alone(engine, job_id, load, columns, stage):
    update(engine, job_id, **columns)
    assert acquire(engine, job_id, "w1", stage=stage) is None
    job, events = load(job_id)
    assert (job.attempts, job.lease_owner, events) == (0, None, [])


def test_renewing_extends_only_the_owners_lease_and_reports_a_cancel(engine, job_id, load):
    acquire(engine, job_id, "w1")

    def renew(owner: str, at) -> tuple[bool, bool]:
        with session_scope(engine) as session:
            return lease.renew(session, job_id=job_id, owner=owner, lease_s=LEASE_S, now=at)

    assert renew("w1", later(10)) == (True, False)
    assert load(job_id)[0].lease_expires_at == later(10 + LEASE_S)
    assert renew("w2", later(20)) == (False, False)
    assert load(job_id)[0].lease_expires_at == later(10 + LEASE_S)
    update(engine, job_id, cancel_requested=True)
    assert renew("w1", later(30)) == (True, True)


def run_stage(engine, job_id: int, stage: Stage, body: Callable[[lease.StageRun], None]) -> None:
    lease.run_stage(job_id, stage, body, sessions=lambda: session_scope(engine))


def test_a_finished_stage_sends_the_next_one_after_its_commit(engine, job_id, load, broker):
    def body(run: lease.StageRun) -> None:
        run.data["dataset"] = {"real": 4}

    run_stage(engine, job_id, Stage.SYNTHESIZE, body)
    job, events = load(job_id)
    assert (job.state, job.stage, job.attempts, job.lease_owner) == (
        "validating",
        "validate",
        0,
        None,
    )
    assert job.data == {"dataset": {"real": 4}}
    assert job.dispatched_at is not None
    assert events[1:] == ["stage_done: stage synthesize done"]
    assert broker() == [("training.validate", [job_id])]


def test_the_last_stage_ends_the_job_succeeded(engine, job_id, load, broker):
    update(engine, job_id, stage="promote", state="evaluating")
    run_stage(engine, job_id, Stage.PROMOTE, lambda run: None)
    job, events = load(job_id)
    assert (job.state, job.progress, job.lease_owner) == ("succeeded", 1.0, None)
    assert job.finished_at is not None
    assert events[1:] == ["stage_done: stage promote done", "succeeded: succeeded"]
    assert broker() == []


def test_a_cancel_during_a_stage_ends_the_job_cancelled(engine, job_id, load, broker):
    update(engine, job_id, stage="finetune", state="training")

    def body(run: lease.StageRun) -> None:
        run.data["training"] = {"steps": 3}
        run.cancel_requested.set()  # what the heartbeat does when it sees the cancel

    run_stage(engine, job_id, Stage.FINETUNE, body)
    job, events = load(job_id)
    assert (job.state, job.error, job.lease_owner) == ("cancelled", None, None)
    assert job.data == {"training": {"steps": 3}}  # what the stage did is kept
    assert events[1:] == ["cancelled: cancelled during finetune"]
    assert broker() == []


def test_a_stage_that_raises_fails_the_job(engine, job_id, load, broker):
    def body(run: lease.StageRun) -> None:
        raise ValueError("no pairs")

    run_stage(engine, job_id, Stage.SYNTHESIZE, body)
    job, events = load(job_id)
    assert (job.state, job.error) == ("failed", "ValueError: no pairs")
    assert events[1:] == ["failed: synthesize failed: no pairs"]
    assert broker() == []


def test_a_stage_that_lost_its_lease_writes_nothing(engine, job_id, load, broker):
    def body(run: lease.StageRun) -> None:
        update(engine, job_id, lease_owner="w2")  # another attempt took the job over
        run.lease_lost.set()

    run_stage(engine, job_id, Stage.SYNTHESIZE, body)
    job, events = load(job_id)
    assert (job.state, job.stage, job.lease_owner) == ("synthesizing", "synthesize", "w2")
    assert len(events) == 1
    assert broker() == []
