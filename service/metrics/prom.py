"""Prometheus metrics: what the inference and jobs code observe, and the scrape.

Generation counters and histograms live in this process (the inference service calls
`observe_generation` after every generate; the model runtime reports adapters and batches to
`PrometheusEvents`); job counts by state are read from the database at scrape time, so every
API process reports the same numbers whatever worker ran the job.
"""

import collections
import logging
from collections.abc import Iterator, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy.engine import Engine
from sqlmodel import Session

from runtime import RuntimeEvents
from service.adapters.service import BaseStatus, base_status
from service.evaluations.repository import latest_drops
from service.jobs.states import ACTIVE_STATES, FINAL_STATES
from service.metrics import repository

log = logging.getLogger(__name__)

LABELS = ("team", "schema", "version", "decoding")
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)

REQUESTS = Counter(
    "formwright_generate_requests",
    "Generate and chat-completion requests, by outcome.",
    (*LABELS, "status"),
)
LATENCY = Histogram(
    "formwright_generate_latency_seconds",
    "Generation latency in seconds (answered requests).",
    LABELS,
    buckets=LATENCY_BUCKETS,
)
COMPLETION_TOKENS = Counter(
    "formwright_generate_completion_tokens",
    "Completion tokens generated.",
    LABELS,
)
QUEUE_DEPTH = Gauge(
    "formwright_generate_queue_depth",
    "Generate requests waiting for the model (not yet running).",
)
ADAPTERS_LOADED = Gauge("formwright_adapters_loaded", "LoRA adapters attached to the model.")
ADAPTER_HITS = Counter("formwright_adapter_cache_hits", "Rows whose adapter was attached.")
ADAPTER_MISSES = Counter(
    "formwright_adapter_cache_misses", "Rows whose adapter had to be loaded first."
)
ADAPTER_EVICTIONS = Counter(
    "formwright_adapter_evictions", "Adapters detached to make room (least recently used)."
)
ADAPTER_REFUSALS = Counter(
    "formwright_adapter_refusals",
    "Adapters refused: damaged, for another base model, or a LoRA variant not served.",
)
ADAPTER_LOAD = Histogram(
    "formwright_adapter_load_seconds",
    "Loading one adapter: checksums, reading, attaching.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH_SIZE = Histogram(
    "formwright_batch_size", "Rows decoded together.", buckets=(1, 2, 4, 8, 16, 32, 64)
)
BATCH_WAIT = Histogram(
    "formwright_batch_wait_seconds",
    "Time a row waited for its batch to start.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_QUEUE_DEPTH = Gauge("formwright_batch_queue_depth", "Rows waiting for a batch.")
CONTENT_TYPE = CONTENT_TYPE_LATEST


def observe_generation(
    *,
    team: str,
    schema: str | None,
    version: int | None,
    decoding: str | None,
    status: int,
    latency_s: float,
    completion_tokens: int = 0,
) -> None:
    """Count one generate request; call it once per request, after the answer is known.

    `schema`/`version` are None for an inline schema, `decoding` None when nothing was
    generated (e.g. a timeout).
    """
    labels = {
        "team": team,
        "schema": schema or "",
        "version": str(version) if version is not None else "",
        "decoding": decoding or "none",
    }
    REQUESTS.labels(**labels, status=str(status)).inc()
    if decoding is not None:
        LATENCY.labels(**labels).observe(max(0.0, latency_s))
    if completion_tokens > 0:
        COMPLETION_TOKENS.labels(**labels).inc(completion_tokens)


class PrometheusEvents(RuntimeEvents):
    """The model runtime's events as this process's Prometheus series."""

    def adapter_hit(self) -> None:
        ADAPTER_HITS.inc()

    def adapter_miss(self) -> None:
        ADAPTER_MISSES.inc()

    def adapter_refused(self) -> None:
        ADAPTER_REFUSALS.inc()

    def adapter_evicted(self) -> None:
        ADAPTER_EVICTIONS.inc()

    def adapter_loaded(self, *, seconds: float, attached: int) -> None:
        ADAPTER_LOAD.observe(seconds)
        ADAPTERS_LOADED.set(attached)

    def batch_queue(self, *, depth: int) -> None:
        BATCH_QUEUE_DEPTH.set(depth)

    def batch_started(self, *, waits_s: Sequence[float]) -> None:
        for wait in waits_s:
            BATCH_WAIT.observe(wait)
        BATCH_SIZE.observe(len(waits_s))


def set_queue_depth(n: int) -> None:
    QUEUE_DEPTH.set(n)


def job_families(db_engine: Engine) -> list[Metric]:
    """`formwright_jobs{team, state}`: every state appears, zero when no job is in it."""
    jobs = GaugeMetricFamily("formwright_jobs", "Training jobs by state.", labels=["team", "state"])
    active = GaugeMetricFamily(
        "formwright_jobs_active", "Training jobs queued or running, all teams."
    )
    try:
        with Session(db_engine) as session:
            counts = repository.job_counts(session)
    except Exception:  # a scrape must not fail because the database blinked
        log.exception("could not count jobs for /metrics")
        return []
    teams = sorted({team for team, _, _ in counts})
    found = {(team, state): count for team, state, count in counts}
    for team in teams:
        for state in (*ACTIVE_STATES, *FINAL_STATES):
            jobs.add_metric([team, state], found.get((team, state), 0))
    active.add_metric([], sum(c for (_, s), c in found.items() if s in ACTIVE_STATES))
    return [jobs, active]


def adapter_families(
    db_engine: Engine, *, base_fingerprint: str | None, side: frozenset[str] = frozenset()
) -> list[Metric]:
    """`formwright_active_adapters{team, base_status}`: active adapters that match the loaded
    base model and those that are stale (trained for another one: the base answers instead)."""
    family = GaugeMetricFamily(
        "formwright_active_adapters",
        "Active adapters by match with the loaded base model (stale ones do not serve).",
        labels=["team", "base_status"],
    )
    if base_fingerprint is None:
        return []  # not loaded yet: nothing to compare with
    try:
        with Session(db_engine) as session:
            rows = repository.active_adapter_bases(session)
    except Exception:  # a scrape must not fail because the database blinked
        log.exception("could not read adapters for /metrics")
        return []
    shown = [BaseStatus.MATCHES, *([BaseStatus.SIDE_BASE] if side else []), BaseStatus.STALE]
    for team in sorted({team for team, _ in rows}):
        counts = collections.Counter(
            base_status(f, base_fingerprint=base_fingerprint, side=side)
            for t, f in rows
            if t == team
        )
        for status in shown:
            family.add_metric([team, status], counts[status])
    return [family]


def drift_families(db_engine: Engine) -> list[Metric]:
    """`formwright_evaluation_drop{team, schema, version}`: how far the latest eval-only run's
    served field accuracy fell below the adapter's at promotion; `..._drift_warning` is 1 when
    that exceeds the team's margin."""
    drop = GaugeMetricFamily(
        "formwright_evaluation_drop",
        "Served field accuracy lost since promotion, by the latest evaluation run.",
        labels=["team", "schema", "version"],
    )
    warning = GaugeMetricFamily(
        "formwright_evaluation_drift_warning",
        "1 when the latest evaluation run's drop exceeds the team's drift margin.",
        labels=["team", "schema", "version"],
    )
    try:
        with Session(db_engine) as session:
            rows = latest_drops(session)
    except Exception:  # a scrape must not fail because the database blinked
        log.exception("could not read evaluations for /metrics")
        return []
    for team, schema, version, lost, warned in rows:
        drop.add_metric([team, schema, str(version)], lost)
        warning.add_metric([team, schema, str(version)], 1.0 if warned else 0.0)
    return [drop, warning]


class _Scrape:
    """The process's registry plus the database-backed gauges of one app."""

    def __init__(
        self, db_engine: Engine, base_fingerprint: str | None, side: frozenset[str]
    ) -> None:
        self.db_engine = db_engine
        self.base_fingerprint = base_fingerprint
        self.side = side

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from job_families(self.db_engine)
        yield from adapter_families(
            self.db_engine, base_fingerprint=self.base_fingerprint, side=self.side
        )
        yield from drift_families(self.db_engine)


def render(
    db_engine: Engine,
    *,
    queue_depth: int | None = None,
    base_fingerprint: str | None = None,
    side: frozenset[str] = frozenset(),
) -> bytes:
    """The Prometheus text exposition of everything above."""
    if queue_depth is not None:
        set_queue_depth(queue_depth)
    return generate_latest(_Scrape(db_engine, base_fingerprint, side))
