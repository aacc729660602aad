"""The worker process: Celery's worker on the app of service.jobs.queue, the stalled-job
sweeper beside it, and the one base model the process's stages share.

Nothing happens at import: the app is built, and the sweeper started, by `run_worker`.
"""

import logging
import threading
from typing import Any

from celery.signals import worker_ready, worker_shutdown, worker_shutting_down

from runtime import ModelRuntime
from service.config import get_settings
from service.jobs.lease import worker_stopping
from service.jobs.queue import DEFAULT_QUEUE, TRAINING_QUEUE, get_celery
from workers.sweeper import start_sweeper

log = logging.getLogger(__name__)
_runtime: ModelRuntime | None = None
_runtime_lock = threading.Lock()


def worker_runtime() -> ModelRuntime:
    """One loaded base model per worker process, shared by every job it runs."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            settings = get_settings()
            # Evaluation scores adapters with the weights the server answers with.
            runtime = ModelRuntime(
                model_spec=settings.base_model,
                cache_dir=settings.models_cache_dir,
                weights=settings.serve_weights,
            )
            runtime.load()
            _runtime = runtime
        return _runtime


def run_worker(*, queues: list[str], concurrency: int = 1) -> None:
    stop_sweeping = threading.Event()

    def start(**_: Any) -> None:
        start_sweeper(stop_sweeping)

    def stop(**_: Any) -> None:
        stop_sweeping.set()

    def stopping(**_: Any) -> None:
        # SIGTERM/SIGINT: Celery's warm shutdown waits for the running stage; tell it to stop
        # at its next check (a training step) and hand the job back.
        log.warning("shutting down: running stages stop at their next step")
        worker_stopping.set()

    worker_ready.connect(start, weak=False)
    worker_shutting_down.connect(stopping, weak=False)
    worker_shutdown.connect(stop, weak=False)
    argv = [
        "worker",
        "--loglevel=INFO",
        # Stages run in this process (threads): it gets the signal, tells them to stop and
        # exits when they have. A prefork child would be killed by the same signal sent to the
        # process group (Ctrl-C) and leave its parent waiting for it forever.
        "--pool=" + ("solo" if concurrency == 1 else "threads"),
        f"--concurrency={concurrency}",
        "--queues=" + ",".join(queues or [DEFAULT_QUEUE, TRAINING_QUEUE]),
        "--without-gossip",
        "--without-mingle",
    ]
    get_celery().worker_main(argv)
