"""The Celery app. The database is the source of truth for jobs; the broker only rings the bell."""

import threading
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from service.config import get_settings

TRAINING_QUEUE = "training"
DEFAULT_QUEUE = "default"


def make_celery() -> Celery:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Celery("formwright", include=["workers.tasks"])
    app.conf.update(
        broker_url=settings.resolved_broker_url,
        # Tasks record their results in our tables; the SQL backend only keeps Celery's state.
        result_backend="db+sqlite:///" + str((settings.data_dir / "results.sqlite").resolve()),
        task_ignore_result=True,
        task_default_queue=DEFAULT_QUEUE,
        task_routes={"training.finetune": {"queue": TRAINING_QUEUE}},
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


celery_app = make_celery()
_stop_sweeping = threading.Event()


@worker_ready.connect
def _start_sweeper(**_: Any) -> None:
    from workers.sweeper import start_sweeper

    start_sweeper(_stop_sweeping)


@worker_shutdown.connect
def _stop_sweeper(**_: Any) -> None:
    _stop_sweeping.set()


def run_worker(*, queues: list[str], concurrency: int = 1) -> None:
    argv = [
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "--queues=" + ",".join(queues or [DEFAULT_QUEUE, TRAINING_QUEUE]),
        "--without-gossip",
        "--without-mingle",
    ]
    celery_app.worker_main(argv)
