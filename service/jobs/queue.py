"""Sending stage messages: the Celery app (built on first use, never at import) and the rule
that a message leaves only after the transaction that asked for it commits.

The database is the source of truth for jobs; the broker only rings the bell. A lost message
costs nothing but time: each worker's sweeper sends the current stage of a stalled job again,
and the job lease admits one running attempt whatever is delivered twice.
"""

import threading
from typing import TYPE_CHECKING

from sqlmodel import Session

from service.config import Settings, get_settings
from service.db import after_commit
from service.jobs import repository
from service.jobs.states import Stage
from service.models import Job, utcnow

if TYPE_CHECKING:
    from celery import Celery

TRAINING_QUEUE = "training"
DEFAULT_QUEUE = "default"


def make_celery(settings: Settings) -> "Celery":
    """The Celery app of these settings: the API sends with it, `formwright worker` runs it."""
    from celery import Celery

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Celery("formwright", include=["workers.tasks"])
    app.conf.update(
        broker_url=settings.resolved_broker_url,
        # Tasks record their results in our tables; the SQL backend only keeps Celery's state.
        result_backend="db+sqlite:///" + str((settings.data_dir / "results.sqlite").resolve()),
        task_ignore_result=True,
        task_default_queue=DEFAULT_QUEUE,
        task_routes={Stage.FINETUNE.task_name: {"queue": TRAINING_QUEUE}},
        # Long work: take one message at a time and ack only when done, so a dead
        # worker's job is delivered again (the job lease stops duplicates running).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # visibility_timeout means something to Redis/SQS only; the SQL transport would pass
        # it to create_engine and fail.
        broker_transport_options=(
            {"visibility_timeout": settings.job_visibility_timeout_s}
            if settings.resolved_broker_url.startswith(("redis", "rediss", "sqs"))
            else {}
        ),
        worker_hijack_root_logger=False,
        task_serializer="json",
        accept_content=["json"],
    )
    return app


_celery: "Celery | None" = None
_celery_lock = threading.Lock()


def use(settings: Settings) -> None:
    """Send with the Celery app of `settings` from now on (create_app: the app's settings)."""
    global _celery
    with _celery_lock:
        _celery = make_celery(settings)


def get_celery() -> "Celery":
    """The process's Celery app: the one `use` set, else one from the process's settings."""
    global _celery
    with _celery_lock:
        if _celery is None:
            _celery = make_celery(get_settings())
        return _celery


def send_stage(session: Session, *, job: Job, stage: Stage) -> None:
    """Send the job's `stage` once `session` commits (by name: the API never imports tasks)."""
    job.dispatched_at = utcnow()
    session.add(job)
    job_id = job.id
    after_commit(session, lambda: get_celery().send_task(stage.task_name, args=[job_id]))


def redispatch_stalled(session: Session, *, redispatch_after_s: float) -> list[int]:
    """Send each stalled job's current stage again (after the commit); returns their ids."""
    jobs = repository.stalled(session, redispatch_after_s=redispatch_after_s, now=utcnow())
    for job in jobs:
        send_stage(session, job=job, stage=Stage(job.stage))
    return [job.id for job in jobs if job.id is not None]
