"""What each dashboard page shows: one function per page, built from the domains' services."""

import difflib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from service.adapters.service import active_adapter, base_status, list_adapters
from service.errors import NotFound, Unprocessable
from service.evaluations.service import list_evaluations
from service.examples.service import list_examples
from service.jobs.repository import events
from service.jobs.service import list_jobs
from service.metrics import service as metrics
from service.metrics.stats import compare_evaluation
from service.models import ACTIVE_STATES, Job, JobEvent, SchemaVersion, Team, utcnow
from service.registry import repository as registry_repository
from service.registry.service import get_subject
from service.ui import charts
from service.ui.charts import Line

# Range shown on a schema page -> (span, bucket).
RANGES = {
    "1h": (timedelta(hours=1), "2m"),
    "24h": (timedelta(days=1), "1h"),
    "7d": (timedelta(days=7), "6h"),
    "30d": (timedelta(days=30), "1d"),
}
HEALTH_ORDER = {"red": 0, "amber": 1, "green": 2, "grey": 3}
SORTS = ("name", "latest_version", "requests", "conformance", "fallback_rate", "health")
PAGE = 25


def schemas_page(session: Session, *, team: Team, sort: str, desc: bool) -> dict[str, Any]:
    rows = metrics.schema_health(session, team=team)
    sort = sort if sort in SORTS else "name"

    def key(row: dict[str, Any]) -> tuple[int, Any]:
        value = HEALTH_ORDER[row["health"]] if sort == "health" else row[sort]
        return (value is None, value if value is not None else 0)

    present = sorted((r for r in rows if r[sort] is not None), key=key, reverse=desc)
    missing = [r for r in rows if r[sort] is None]
    return {"rows": present + missing, "sort": sort, "desc": desc}


def header(session: Session, *, team: Team, name: str) -> dict[str, Any]:
    """What every schema page shows on top: the name, versions and the serving adapter."""
    subject = get_subject(session, team=team, name=name)
    versions = registry_repository.list_versions(session, subject_id=subject.id)
    latest = versions[-1] if versions else None
    adapter = active_adapter(session, schema_version_id=latest.id) if latest else None
    return {"subject": subject, "versions": versions, "latest": latest, "adapter": adapter}


def overview_page(
    session: Session, *, team: Team, name: str, range_key: str, now: datetime | None = None
) -> dict[str, Any]:
    top = header(session, team=team, name=name)
    range_key = range_key if range_key in RANGES else "24h"
    span, bucket = RANGES[range_key]
    until = now or utcnow()
    data = metrics.schema_metrics(
        session, team=team, name=name, since=until - span, until=until, bucket=bucket
    )
    series = data["series"]
    # A point sits in the middle of its bucket.
    half = metrics.stats.parse_bucket(bucket) / 2
    xs = [p["start"].timestamp() + half for p in series]
    span_s = span.total_seconds()
    conformance = charts.time_chart(
        [
            Line("Final answers", list(zip(xs, [p["conformance"] for p in series], strict=True))),
            Line(
                "First attempt",
                list(zip(xs, [p["first_attempt_conformance"] for p in series], strict=True)),
                dashed=True,
            ),
            Line("Fallback rate", list(zip(xs, [p["fallback_rate"] for p in series], strict=True))),
        ],
        title="Conformance and fallback over time",
        span_s=span_s,
        y_format=charts.percent,
        y_min=0.0,
        y_max=1.0,
        width=500,
    )
    latency = charts.time_chart(
        [
            Line(q, list(zip(xs, [p["latency_ms"][key] for p in series], strict=True)))
            for q, key in (("p50", "p50"), ("p95", "p95"), ("p99", "p99"))
        ],
        title="Latency over time",
        span_s=span_s,
        y_format=charts.millis,
        width=500,
    )
    volume = charts.time_chart(
        [
            Line("Requests", list(zip(xs, [p["requests"] for p in series], strict=True))),
            Line(
                "Errors",
                list(
                    zip(
                        xs,
                        [round(p["requests"] * (p["error_rate"] or 0)) for p in series],
                        strict=True,
                    )
                ),
                color="#dc2626",
            ),
        ],
        title="Requests per bucket",
        span_s=span_s,
        y_min=0.0,
        width=1000,
        height=200,
    )
    return {
        **top,
        "metrics": data,
        "range": range_key,
        "ranges": list(RANGES),
        "charts": {"conformance": conformance, "latency": latency, "volume": volume},
        "health": metrics.stats.health(data["overall"]),
    }


def _pretty(version: SchemaVersion) -> list[str]:
    return json.dumps(version.body, indent=2, ensure_ascii=False).splitlines()


def diff_lines(old: SchemaVersion, new: SchemaVersion) -> list[dict[str, str]]:
    """A unified diff of the two schemas, pretty-printed with sorted keys."""
    out = []
    for line in difflib.unified_diff(
        _pretty(old), _pretty(new), f"version {old.version}", f"version {new.version}", n=3
    ):
        kind = (
            "meta"
            if line.startswith(("---", "+++"))
            else "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else "ctx"
        )
        out.append({"kind": kind, "text": line})
    return out


def versions_page(
    session: Session, *, team: Team, name: str, a: int | None, b: int | None
) -> dict[str, Any]:
    top = header(session, team=team, name=name)
    versions: list[SchemaVersion] = top["versions"]
    by_number = {v.version: v for v in versions}
    new = by_number.get(b) if b else versions[-1] if versions else None
    if b and new is None:
        raise NotFound(f"Schema '{name}' has no version {b}.", code="version_not_found")
    old = by_number.get(a) if a else None
    if a and old is None:
        raise NotFound(f"Schema '{name}' has no version {a}.", code="version_not_found")
    if old is None and new is not None:
        earlier = [v for v in versions if v.version < new.version]
        old = earlier[-1] if earlier else None
    diff = diff_lines(old, new) if old is not None and new is not None else []
    return {
        **top,
        "old": old,
        "new": new,
        "diff": diff,
        "identical": old is not None and new is not None and not diff,
        "capabilities": capability_rows(new.capabilities if new else {}),
    }


def capability_rows(report: Any) -> dict[str, list[dict[str, str]]]:
    """The capability report's sections as rows of keyword, path and note, whatever its shape."""
    sections: dict[str, list[dict[str, str]]] = {}
    if not isinstance(report, dict):
        return sections
    for section, items in report.items():
        if not isinstance(items, list):
            continue
        rows = []
        for item in items:
            if isinstance(item, dict):
                rows.append(
                    {
                        "keyword": str(item.get("keyword", "")),
                        "path": str(item.get("path", item.get("paths", ""))),
                        "note": str(item.get("message", item.get("note", item.get("reason", "")))),
                    }
                )
            else:
                rows.append({"keyword": str(item), "path": "", "note": ""})
        sections[section] = rows
    return sections


def examples_page(session: Session, *, team: Team, name: str, offset: int) -> dict[str, Any]:
    top = header(session, team=team, name=name)
    common = {"team": team, "name": name, "version": None, "source": None}
    rows, total = list_examples(session, **common, labeled=None, offset=offset, limit=PAGE)
    _, labeled = list_examples(session, **common, labeled=True, offset=0, limit=1)
    _, traffic = list_examples(
        session,
        team=team,
        name=name,
        version=None,
        labeled=None,
        source="traffic",
        offset=0,
        limit=1,
    )
    return {
        **top,
        "examples": rows,
        "total": total,
        "labeled": labeled,
        "from_traffic": traffic,
        "offset": offset,
        "page": PAGE,
        "version_of": {v.id: v.version for v in top["versions"]},
    }


def loss_points(job: Job, job_events: list[JobEvent]) -> list[tuple[float, float]]:
    """(step, loss) from the job's progress events, any loss history it keeps, and now."""
    points: dict[float, float] = {}
    for source in (job.metrics or {}, job.data or {}):
        history = source.get("loss_history") if isinstance(source, dict) else None
        for item in history if isinstance(history, list) else []:
            if isinstance(item, list | tuple) and len(item) == 2:
                step, loss = item
            elif isinstance(item, dict):
                step, loss = item.get("step"), item.get("loss")
            else:
                continue
            if isinstance(step, int | float) and isinstance(loss, int | float):
                points[float(step)] = float(loss)
    for event in job_events:
        data = event.data or {}
        step, loss = data.get("step"), data.get("loss")
        if isinstance(step, int | float) and isinstance(loss, int | float):
            points[float(step)] = float(loss)
    if job.loss is not None:
        points[float(job.step)] = job.loss
    return sorted(points.items())


def jobs_panel(session: Session, *, team: Team, name: str) -> dict[str, Any]:
    rows, total = list_jobs(session, team=team, name=name, state=None, offset=0, limit=10)
    jobs = []
    for job, version in rows:
        job_events = events(session, job_id=job.id)
        points = loss_points(job, job_events)
        jobs.append(
            {
                "job": job,
                "version": version.version,
                "active": job.state in ACTIVE_STATES,
                "events": job_events[-8:],
                "loss_chart": charts.line_chart(
                    [Line("Training loss", points)],
                    title=f"Job {job.id} loss by step",
                    width=1000,
                    height=200,
                )
                if points
                else None,
            }
        )
    return {
        "name": name,
        "jobs": jobs,
        "total": total,
        "any_active": any(j["active"] for j in jobs),
    }


def jobs_page(session: Session, *, team: Team, name: str) -> dict[str, Any]:
    return {**header(session, team=team, name=name), **jobs_panel(session, team=team, name=name)}


def adapters_page(
    session: Session,
    *,
    team: Team,
    name: str,
    base_fingerprint: str | None,
    side: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    top = header(session, team=team, name=name)
    rows, total = list_adapters(session, team=team, name=name, offset=0, limit=20)
    cards = []
    for adapter, version in rows:
        compared = compare_evaluation(adapter.evaluation)
        fields = compared["fields"]
        series = [
            (label, [f[key] for f in fields])
            for label, key in (
                ("Base model", "base"),
                ("Adapter", "adapter"),
                ("Adapter as served (auto)", "adapter_constrained"),
            )
            if any(f[key] is not None for f in fields)
        ]
        cards.append(
            {
                "adapter": adapter,
                "version": version.version,
                "base_status": base_status(adapter, base_fingerprint=base_fingerprint, side=side),
                "eval": compared,
                "chart": charts.bar_chart(
                    [f["path"] for f in fields],
                    series,
                    title=f"Adapter {adapter.id}: field accuracy per path",
                ),
            }
        )
    runs = evaluations_panel(session, team=team, name=name)
    return {**top, "cards": cards, "total": total, **runs}


def evaluations_panel(session: Session, *, team: Team, name: str) -> dict[str, Any]:
    """Eval-only runs over time: served field accuracy per version, and the drift warnings."""
    runs, _ = list_evaluations(session, team=team, name=name, version=None, offset=0, limit=100)
    by_version: dict[int, list[tuple[float, float | None]]] = {}
    for run, version in reversed(runs):
        served = (run.results.get("adapter_served") or {}).get("field_accuracy")
        by_version.setdefault(version.version, []).append((run.created_at.timestamp(), served))
    times = [x for points in by_version.values() for x, _ in points]
    chart = charts.time_chart(
        [Line(f"v{v} as served", points) for v, points in sorted(by_version.items())],
        title="Served field accuracy by evaluation run",
        span_s=(max(times) - min(times)) if times else 0.0,
        y_format=charts.percent,
        y_min=0.0,
        y_max=1.0,
    )
    return {"evaluations": runs, "evaluations_chart": chart if runs else None}


def playground_page(session: Session, *, team: Team, name: str) -> dict[str, Any]:
    return header(session, team=team, name=name)


def traffic_page(
    session: Session, *, team: Team, name: str, offset: int, only: str | None
) -> dict[str, Any]:
    top = header(session, team=team, name=name)
    filters: dict[str, dict[str, Any]] = {"invalid": {"valid": False}, "ok": {"status_code": 200}}
    if only is not None and only not in filters:
        raise Unprocessable(
            "Filter by 'ok' or 'invalid'.",
            errors=[{"path": "/only", "message": f"{only!r} is not a filter"}],
        )
    chosen = {"valid": None, "status_code": None, **filters.get(only or "", {})}
    rows, total = metrics.list_requests(
        session, team=team, name=name, version=None, offset=offset, limit=PAGE, **chosen
    )
    return {
        **top,
        "requests": [
            {
                "log": log,
                "version": version,
                "output_json": json.dumps(log.output, indent=2, ensure_ascii=False)
                if log.output is not None
                else "",
            }
            for log, version in rows
        ],
        "total": total,
        "offset": offset,
        "page": PAGE,
        "only": only,
    }
