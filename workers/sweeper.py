"""Each worker looks for stalled jobs now and then and sends their stage again."""

import logging
import threading

from service.config import get_settings
from service.db import session_scope
from service.jobs.queue import redispatch_stalled

log = logging.getLogger(__name__)


def sweep_once() -> list[int]:
    settings = get_settings()
    with session_scope() as session:
        sent = redispatch_stalled(session, redispatch_after_s=settings.job_redispatch_after_s)
    if sent:
        log.info("re-sent stalled jobs %s", sent)
    return sent


def start_sweeper(stop: threading.Event) -> threading.Thread:
    interval = get_settings().job_sweep_interval_s

    def loop() -> None:
        while not stop.wait(interval):
            try:
                sweep_once()
            except Exception:  # noqa: BLE001 - keep sweeping; the next round may succeed
                log.warning("sweeping stalled jobs failed", exc_info=True)

    thread = threading.Thread(target=loop, name="job-sweeper", daemon=True)
    thread.start()
    return thread
