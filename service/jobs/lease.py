"""Running one stage of a job under a database lease.

The lease (owner, expiry, renewed by a heartbeat thread) admits at most one running attempt
per job whatever the broker delivers: a duplicate finds it held and backs off; a dead owner's
lease expires and the next delivery takes it over, counting an attempt. A stage that keeps
dying is failed after `job_max_attempts`. Each step opens its own short session: no
transaction stays open while a stage works.
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from service.config import get_settings
from service.db import session_scope
from service.jobs import queue
from service.jobs.states import FINAL_STATES, STATE_OF_STAGE, JobState, Stage, next_stage
from service.jobs.transitions import add_event, enter, finish
from service.models import Job, utcnow

log = logging.getLogger(__name__)

Sessions = Callable[[], AbstractContextManager[Session]]


class JobCancelled(Exception):
    """Raised inside a stage when the job's cancel was requested."""


class WorkerStopping(Exception):
    """This worker process is shutting down: the stage stops and hands its job back."""


# Set by the worker process on SIGTERM/SIGINT (workers/app.py): every stage running in it stops
# at its next check, so the process ends in seconds rather than when the stage is done.
worker_stopping = threading.Event()


class LeaseLost(Exception):
    """Another attempt took the job over: this one must stop writing."""


@dataclass
class StageRun:
    """One attempt at one stage: what the stage body reads, reports and checks."""

    job_id: int
    stage: Stage
    owner: str
    attempt: int
    params: dict[str, Any]
    data: dict[str, Any]
    sessions: Sessions = field(default=session_scope, repr=False)
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    lease_lost: threading.Event = field(default_factory=threading.Event)
    _last_progress: float = 0.0

    def should_stop(self) -> bool:
        return (
            self.cancel_requested.is_set() or self.lease_lost.is_set() or worker_stopping.is_set()
        )

    def check(self) -> None:
        if self.lease_lost.is_set():
            raise LeaseLost(f"job {self.job_id}: lease lost")
        if self.cancel_requested.is_set():
            raise JobCancelled()
        if worker_stopping.is_set():
            raise WorkerStopping()

    def progress(self, *, force: bool = False, **values: Any) -> None:
        """Write progress columns (step, total_steps, loss, ...) at most once a second."""
        now = time.monotonic()
        if not force and now - self._last_progress < 1.0:
            return
        self._last_progress = now
        with self.sessions() as session:
            session.exec(
                update(Job)
                .where(col(Job.id) == self.job_id, col(Job.lease_owner) == self.owner)
                .values(**values)
            )

    def event(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        with self.sessions() as session:
            job = session.get(Job, self.job_id)
            if job is not None:
                add_event(session, job=job, kind=kind, message=message, data=data)


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_held(job: Job, *, now: datetime) -> bool:
    """Someone runs the job now (its lease has not expired)."""
    return (
        job.lease_owner is not None
        and job.lease_expires_at is not None
        and job.lease_expires_at > now
    )


def acquire(
    session: Session,
    *,
    job_id: int,
    stage: Stage,
    owner: str,
    lease_s: float,
    max_attempts: int,
    now: datetime,
) -> StageRun | None:
    """Take the job's lease for `stage`; None when the stage must not run: the job is gone,
    final, past this stage (a stale duplicate), cancelled (ended here), leased by a live
    owner, or out of attempts (failed here)."""
    job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None or job.state in FINAL_STATES or job.stage != stage:
        return None
    if job.cancel_requested:
        finish(session, job=job, state=JobState.CANCELLED, message="cancelled")
        return None
    if lease_held(job, now=now):
        log.info("job %s is leased by %s; backing off", job_id, job.lease_owner)
        return None
    if job.lease_owner is not None:
        add_event(
            session,
            job=job,
            kind="lease_expired",
            message=f"attempt {job.attempts} by {job.lease_owner} stopped heartbeating",
        )
    if job.attempts >= max_attempts:
        finish(
            session,
            job=job,
            state=JobState.FAILED,
            message=f"gave up after {job.attempts} attempts at stage {stage}",
            error=f"stage {stage} died {job.attempts} times (worker crash or kill)",
        )
        return None
    job.attempts += 1
    job.lease_owner = owner
    job.lease_expires_at = now + timedelta(seconds=lease_s)
    enter(session, job=job, state=STATE_OF_STAGE[stage])
    job.started_at = job.started_at or now
    add_event(
        session,
        job=job,
        kind="attempt",
        message=f"stage {stage}: attempt {job.attempts} started on {owner}",
        data={"stage": stage, "attempt": job.attempts, "owner": owner, "step": job.step},
    )
    return StageRun(
        job_id=job_id,
        stage=stage,
        owner=owner,
        attempt=job.attempts,
        params=dict(job.params or {}),
        data=dict(job.data or {}),
    )


def renew(
    session: Session, *, job_id: int, owner: str, lease_s: float, now: datetime
) -> tuple[bool, bool]:
    """Extend the lease if `owner` still holds it: (still held, cancel requested)."""
    renewed = session.exec(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.lease_owner) == owner)
        .values(lease_expires_at=now + timedelta(seconds=lease_s))
    ).rowcount
    cancel = session.exec(select(Job.cancel_requested).where(Job.id == job_id)).first()
    return bool(renewed), bool(cancel)


def complete(session: Session, *, job: Job, run: StageRun) -> None:
    """The stage succeeded: keep its data, release the lease, send the next stage (after the
    commit) or end the job `succeeded`."""
    job.data = {**(job.data or {}), **run.data}
    job.lease_owner = None
    job.lease_expires_at = None
    job.attempts = 0
    add_event(session, job=job, kind="stage_done", message=f"stage {run.stage} done")
    following = next_stage(run.stage)
    if following is None:
        finish(session, job=job, state=JobState.SUCCEEDED, message="succeeded")
        return
    job.stage = following
    enter(session, job=job, state=STATE_OF_STAGE[following])
    queue.send_stage(session, job=job, stage=following)


def hand_back(session: Session, *, job: Job, run: StageRun) -> None:
    """The worker is shutting down: release the lease and send the stage again (after the
    commit), so the next worker resumes it from its last checkpoint at once. A stop asked for
    is not a crash: it does not use up one of the job's attempts."""
    job.data = {**(job.data or {}), **run.data}
    job.lease_owner = None
    job.lease_expires_at = None
    job.attempts = max(0, job.attempts - 1)
    add_event(
        session,
        job=job,
        kind="interrupted",
        message=f"stage {run.stage}: attempt {run.attempt} stopped with its worker",
    )
    queue.send_stage(session, job=job, stage=run.stage)


def end(
    session: Session,
    *,
    job: Job,
    run: StageRun,
    state: JobState,
    message: str,
    error: str | None = None,
) -> None:
    """The stage was cancelled or failed: keep what it recorded, end the job in `state`."""
    job.data = {**(job.data or {}), **run.data}
    finish(session, job=job, state=state, message=message, error=error)


def _heartbeat(run: StageRun, stop: threading.Event) -> None:
    settings = get_settings()
    interval = max(0.2, min(2.0, settings.job_lease_s / 3))
    while not stop.wait(interval):
        try:
            with run.sessions() as session:
                held, cancel = renew(
                    session,
                    job_id=run.job_id,
                    owner=run.owner,
                    lease_s=settings.job_lease_s,
                    now=utcnow(),
                )
            if not held:
                run.lease_lost.set()
                return
            if cancel:
                run.cancel_requested.set()
        except Exception:  # noqa: BLE001 - a DB hiccup must not kill the stage; retry next beat
            log.warning("heartbeat for job %s failed", run.job_id, exc_info=True)


def run_stage(
    job_id: int,
    stage: Stage,
    body: Callable[[StageRun], None],
    *,
    sessions: Sessions = session_scope,
) -> None:
    """Lease the job for `stage`, heartbeat while `body(run)` works, then advance or end it.

    `body` does not run when the stage must not (done, duplicate, cancelled, out of attempts).
    It may fill `run.data` (merged into job.data) and must check `run.should_stop()` or call
    `run.check()` now and then; a cancel ends the job, any exception fails it.
    """
    if worker_stopping.is_set():
        # A message this worker took as it shut down: pass it on, untouched, to the next one.
        with sessions() as session:
            job = session.get(Job, job_id)
            if job is not None and job.stage == stage and job.state not in FINAL_STATES:
                queue.send_stage(session, job=job, stage=stage)
        return
    settings = get_settings()
    owner = new_owner()
    with sessions() as session:
        run = acquire(
            session,
            job_id=job_id,
            stage=stage,
            owner=owner,
            lease_s=settings.job_lease_s,
            max_attempts=settings.job_max_attempts,
            now=utcnow(),
        )
    if run is None:
        return
    run.sessions = sessions
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(run, stop), daemon=True)
    beat.start()
    outcome: Callable[..., None]  # (session, job=job)
    try:
        body(run)
        run.check()
        outcome = partial(complete, run=run)
    except JobCancelled:
        outcome = partial(
            end, run=run, state=JobState.CANCELLED, message=f"cancelled during {stage}"
        )
    except WorkerStopping:
        log.warning("job %s: worker shutting down during %s; handing the job back", job_id, stage)
        outcome = partial(hand_back, run=run)
    except LeaseLost:
        log.warning("job %s: lease lost during %s; another attempt continues", job_id, stage)
        return
    except Exception as exc:
        log.exception("job %s failed in %s", job_id, stage)
        outcome = partial(
            end,
            run=run,
            state=JobState.FAILED,
            message=f"{stage} failed: {exc}",
            error=f"{type(exc).__name__}: {exc}",
        )
    finally:
        stop.set()
        beat.join()
    with sessions() as session:
        job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is not None and job.lease_owner == owner:
            outcome(session, job=job)
