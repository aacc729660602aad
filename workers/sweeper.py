"""Each worker looks for stalled jobs now and then and sends their stage again, and erases
logged request payloads older than the retention period."""

import logging
import threading
from datetime import datetime, timedelta

from service.config import get_settings
from service.db import session_scope
from service.jobs.queue import redispatch_stalled
from service.metrics.service import erase_expired_payloads
from service.models import utcnow

log = logging.getLogger(__name__)


# Erasing scans the request log: hourly is plenty for a retention counted in days.
ERASE_EVERY = timedelta(hours=1)
_erased_at: datetime | None = None


def sweep_once() -> list[int]:
    settings = get_settings()
    with session_scope() as session:
        sent = redispatch_stalled(session, redispatch_after_s=settings.job_redispatch_after_s)
    if sent:
        log.info("re-sent stalled jobs %s", sent)
    erase_expired(now=utcnow())
    return sent


def erase_expired(*, now: datetime, force: bool = False) -> int:
    """Enforce FORMWRIGHT_REQUEST_LOG_RETENTION_DAYS (at most once per ERASE_EVERY)."""
    global _erased_at
    if not force and _erased_at is not None and now - _erased_at < ERASE_EVERY:
        return 0
    days = get_settings().request_log_retention_days
    with session_scope() as session:
        erased = erase_expired_payloads(session, retention_days=days, now=now)
    _erased_at = now
    if erased:
        log.info("erased the payloads of %s requests older than %s days", erased, days)
    return erased


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
