"""Sending stage tasks by name, so the API never imports the training stack."""

from datetime import timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from service.models import ACTIVE_STATES, Job, utcnow
from workers.app import celery_app

STAGES = ("synthesize", "validate", "finetune", "evaluate", "promote")
STATE_OF_STAGE = {
    "synthesize": "synthesizing",
    "validate": "validating",
    "finetune": "training",
    "evaluate": "evaluating",
    "promote": "evaluating",
}


def send_stage(job_id: int, stage: str) -> None:
    celery_app.send_task(f"training.{stage}", args=[job_id])


def start_job(job_id: int) -> None:
    """Send the first stage (the sweeper sends it again if this one is lost)."""
    from service.db import session_scope

    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        job.dispatched_at = utcnow()
        session.add(job)
    send_stage(job_id, STAGES[0])


def next_stage(stage: str) -> str | None:
    index = STAGES.index(stage)
    return STAGES[index + 1] if index + 1 < len(STAGES) else None


def stalled_jobs(session: Session, *, redispatch_after_s: float) -> list[Job]:
    """Active jobs nobody is running: a dead owner's lease expired, or the message got lost.

    Kombu's SQL transport hides a message once delivered, so a SIGKILLed worker's message
    never comes back by itself; Redis redelivers only after its visibility timeout. The
    database knows better: re-sending is safe because the job lease admits one attempt.
    """
    now = utcnow()
    query = select(Job).where(
        col(Job.state).in_(ACTIVE_STATES),
        Job.cancel_requested == False,  # noqa: E712
        or_(col(Job.lease_owner).is_(None), col(Job.lease_expires_at) < now),
        or_(
            col(Job.dispatched_at).is_(None),
            col(Job.dispatched_at) < now - timedelta(seconds=redispatch_after_s),
        ),
    )
    return list(session.exec(query))


def redispatch_stalled(session: Session, *, redispatch_after_s: float) -> list[int]:
    """Send each stalled job's current stage again; returns their ids."""
    sent = []
    for job in stalled_jobs(session, redispatch_after_s=redispatch_after_s):
        job.dispatched_at = utcnow()
        session.add(job)
        session.flush()
        send_stage(job.id, job.stage)
        sent.append(job.id)
    return sent
