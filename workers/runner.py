"""Running one stage of a job under a database lease.

The lease (owner, expiry, renewed by a heartbeat thread) admits at most one running attempt
per job whatever the broker delivers: a duplicate finds it held and backs off; a dead owner's
lease expires and the next delivery takes it over, counting an attempt. A stage that keeps
dying is failed after `job_max_attempts`.
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from service.config import get_settings
from service.db import session_scope
from service.jobs.service import add_event, finish
from service.models import FINAL_STATES, Job, utcnow
from workers.dispatch import STATE_OF_STAGE, next_stage, send_stage

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a stage when the job's cancel was requested."""


class LeaseLost(Exception):
    """Another attempt took the job over: this one must stop writing."""


@dataclass
class StageRun:
    job_id: int
    stage: str
    owner: str
    attempt: int
    params: dict[str, Any]
    data: dict[str, Any]
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    lease_lost: threading.Event = field(default_factory=threading.Event)
    _last_progress: float = 0.0

    def should_stop(self) -> bool:
        return self.cancel_requested.is_set() or self.lease_lost.is_set()

    def check(self) -> None:
        if self.lease_lost.is_set():
            raise LeaseLost(f"job {self.job_id}: lease lost")
        if self.cancel_requested.is_set():
            raise JobCancelled()

    def progress(self, *, force: bool = False, **values: Any) -> None:
        """Write progress columns (step, total_steps, loss, ...) at most once a second."""
        now = time.monotonic()
        if not force and now - self._last_progress < 1.0:
            return
        self._last_progress = now
        with session_scope() as session:
            session.exec(
                update(Job)
                .where(col(Job.id) == self.job_id, col(Job.lease_owner) == self.owner)
                .values(**values)
            )

    def event(self, kind: str, message: str, data: dict[str, Any] | None = None) -> None:
        with session_scope() as session:
            job = session.get(Job, self.job_id)
            if job is not None:
                add_event(session, job=job, kind=kind, message=message, data=data)


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _acquire(session: Session, *, job_id: int, stage: str, owner: str) -> StageRun | None:
    settings = get_settings()
    job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None or job.state in FINAL_STATES or job.stage != stage:
        return None  # gone, finished, or a stale duplicate of a stage already done
    if job.cancel_requested:
        finish(session, job=job, state="cancelled", message="cancelled")
        return None
    now = utcnow()
    if job.lease_owner is not None and job.lease_expires_at and job.lease_expires_at > now:
        log.info("job %s is leased by %s; backing off", job_id, job.lease_owner)
        return None
    if job.lease_owner is not None:
        add_event(
            session,
            job=job,
            kind="lease_expired",
            message=f"attempt {job.attempts} by {job.lease_owner} stopped heartbeating",
        )
    if job.attempts >= settings.job_max_attempts:
        finish(
            session,
            job=job,
            state="failed",
            message=f"gave up after {job.attempts} attempts at stage {stage}",
            error=f"stage {stage} died {job.attempts} times (worker crash or kill)",
        )
        return None
    job.attempts += 1
    job.lease_owner = owner
    job.lease_expires_at = now + timedelta(seconds=settings.job_lease_s)
    job.state = STATE_OF_STAGE[stage]
    job.started_at = job.started_at or now
    add_event(
        session,
        job=job,
        kind="attempt",
        message=f"stage {stage}: attempt {job.attempts} started on {owner}",
        data={"stage": stage, "attempt": job.attempts, "owner": owner, "step": job.step},
    )
    session.add(job)
    return StageRun(
        job_id=job_id,
        stage=stage,
        owner=owner,
        attempt=job.attempts,
        params=dict(job.params or {}),
        data=dict(job.data or {}),
    )


def _heartbeat(run: StageRun, stop: threading.Event) -> None:
    settings = get_settings()
    interval = max(0.2, min(2.0, settings.job_lease_s / 3))
    while not stop.wait(interval):
        try:
            with session_scope() as session:
                renewed = session.exec(
                    update(Job)
                    .where(col(Job.id) == run.job_id, col(Job.lease_owner) == run.owner)
                    .values(lease_expires_at=utcnow() + timedelta(seconds=settings.job_lease_s))
                ).rowcount
                cancel = session.exec(
                    select(Job.cancel_requested).where(Job.id == run.job_id)
                ).first()
            if not renewed:
                run.lease_lost.set()
                return
            if cancel:
                run.cancel_requested.set()
        except Exception:  # noqa: BLE001 - a DB hiccup must not kill the stage; retry next beat
            log.warning("heartbeat for job %s failed", run.job_id, exc_info=True)


@contextmanager
def run_stage(job_id: int, stage: str) -> Iterator[StageRun | None]:
    """Lease the job for `stage`, heartbeat while the body runs, then advance or finish it.

    The body gets None when it must not run (done, duplicate, cancelled, out of attempts).
    On success it may fill `run.data` (merged into job.data); the next stage is sent after
    the commit.
    """
    owner = new_owner()
    with session_scope() as session:
        run = _acquire(session, job_id=job_id, stage=stage, owner=owner)
    if run is None:
        yield None
        return
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(run, stop), daemon=True)
    beat.start()
    outcome: Callable[[Session, Job], None]
    try:
        yield run
        run.check()
        outcome = _advance(run)
    except JobCancelled:
        outcome = _end(run, "cancelled", "cancelled during " + stage)
    except LeaseLost:
        log.warning("job %s: lease lost during %s; another attempt continues", job_id, stage)
        return
    except Exception as exc:
        log.exception("job %s failed in %s", job_id, stage)
        outcome = _end(
            run, "failed", f"{stage} failed: {exc}", error=f"{type(exc).__name__}: {exc}"
        )
    finally:
        stop.set()
        beat.join()
    with session_scope() as session:
        job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is None or job.lease_owner != owner:
            return
        outcome(session, job)
        following = job.stage if job.state not in FINAL_STATES else None
    if following:
        send_stage(job_id, following)


def _advance(run: StageRun) -> Callable[[Session, Job], None]:
    def apply(session: Session, job: Job) -> None:
        job.data = {**(job.data or {}), **run.data}
        following = next_stage(run.stage)
        job.lease_owner = None
        job.lease_expires_at = None
        job.attempts = 0
        add_event(session, job=job, kind="stage_done", message=f"stage {run.stage} done")
        if following is None:
            finish(session, job=job, state="succeeded", message="succeeded")
        else:
            job.stage = following
            job.state = STATE_OF_STAGE[following]
            job.dispatched_at = utcnow()
        session.add(job)

    return apply


def _end(
    run: StageRun, state: str, message: str, error: str | None = None
) -> Callable[[Session, Job], None]:
    def apply(session: Session, job: Job) -> None:
        job.data = {**(job.data or {}), **run.data}
        finish(session, job=job, state=state, message=message, error=error)

    return apply
