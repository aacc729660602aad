"""The worker process: Celery's worker on the app of service.jobs.queue, the stalled-job
sweeper beside it, and the one base model the process's stages share.

Nothing happens at import: the app is built, and the sweeper started, by `run_worker`.
"""

import threading
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from runtime import ModelRuntime
from service.config import get_settings
from service.jobs.queue import DEFAULT_QUEUE, TRAINING_QUEUE, get_celery
from workers.sweeper import start_sweeper

_runtime: ModelRuntime | None = None
_runtime_lock = threading.Lock()


def worker_runtime() -> ModelRuntime:
    """One loaded base model per worker process, shared by every job it runs."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            settings = get_settings()
            runtime = ModelRuntime(
                model_spec=settings.base_model, cache_dir=settings.models_cache_dir
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

    worker_ready.connect(start, weak=False)
    worker_shutdown.connect(stop, weak=False)
    argv = [
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "--queues=" + ",".join(queues or [DEFAULT_QUEUE, TRAINING_QUEUE]),
        "--without-gossip",
        "--without-mingle",
    ]
    get_celery().worker_main(argv)
