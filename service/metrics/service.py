"""Metrics rules: a schema's conformance and latency over a window, the traffic review."""

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from service.adapters.service import active_adapter
from service.errors import NotFound, Unprocessable
from service.examples.service import add_examples
from service.metrics import repository, stats
from service.metrics.stats import BadWindow, Row
from service.models import RequestLog, SchemaVersion, Subject, Team, utcnow
from service.registry import repository as registry_repository
from service.registry.service import get_subject

UNSET: Any = object()


def window(
    *, since: datetime | None, until: datetime | None, bucket: str | None, now: datetime | None
) -> stats.Window:
    try:
        return stats.make_window(since=since, until=until, bucket=bucket, now=now or utcnow())
    except BadWindow as exc:
        raise Unprocessable(
            exc.message,
            code="invalid_window",
            errors=[{"path": exc.path, "in": "query", "message": exc.message}],
        ) from exc


def _versions(session: Session, *, subject: Subject) -> list[SchemaVersion]:
    # Soft-deleted versions keep their history.
    return registry_repository.list_versions(session, subject_id=subject.id, deleted=True)


def schema_metrics(
    session: Session,
    *,
    team: Team,
    name: str,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Requests, conformance, fallback, 422s, latency and tokens/s per version and adapter,
    as totals and per bucket, with every adapter's held-out evaluation."""
    subject = get_subject(session, team=team, name=name)
    span = window(since=since, until=until, bucket=bucket, now=now)
    versions = _versions(session, subject=subject)
    number = {v.id: v.version for v in versions}
    rows = repository.window_rows(
        session, schema_version_ids=list(number), since=span.since, until=span.until
    )
    groups: dict[tuple[int | None, int | None], list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row.schema_version_id, row.adapter_id)].append(row)
    ordered = sorted(groups, key=lambda k: (-(number.get(k[0]) or 0), k[1] or 0))
    adapters = repository.adapters_of_subject(session, subject_id=subject.id)
    return {
        "name": subject.name,
        "since": span.since,
        "until": span.until,
        "bucket": stats.format_bucket(span.bucket_s),
        "rows_read": len(rows),
        "truncated": len(rows) >= repository.MAX_ROWS,
        "overall": stats.summarize(rows),
        "series": stats.series(rows, span),
        "groups": [
            {
                "version": number.get(version_id),
                "schema_version_id": version_id,
                "adapter_id": adapter_id,
                "stats": stats.summarize(groups[(version_id, adapter_id)]),
                "series": stats.series(groups[(version_id, adapter_id)], span),
            }
            for version_id, adapter_id in ordered
        ],
        "evaluations": [
            {
                "adapter_id": a.id,
                "version": number.get(a.schema_version_id),
                "job_id": a.job_id,
                "active": a.active,
                "created_at": a.created_at,
                **stats.compare_evaluation(a.evaluation),
            }
            for a in adapters
        ],
    }


def schema_health(
    session: Session, *, team: Team, now: datetime | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Every schema of the team with its last day: volume, conformance, fallback, health."""
    until = now or utcnow()
    since = until - timedelta(days=1)
    subjects, _ = registry_repository.list_subjects(
        session, team_id=team.id, deleted=False, offset=0, limit=limit
    )
    out = []
    for subject in subjects:
        live = registry_repository.list_versions(session, subject_id=subject.id)
        every = _versions(session, subject=subject)
        ids = [v.id for v in every if v.id is not None]
        rows = repository.window_rows(session, schema_version_ids=ids, since=since, until=until)
        summary = stats.summarize(rows)
        latest = live[-1] if live else None
        adapter = active_adapter(session, schema_version_id=latest.id) if latest else None
        out.append(
            {
                "name": subject.name,
                "latest_version": latest.version if latest else None,
                "active_adapter_id": adapter.id if adapter else None,
                "requests": summary["requests"],
                "conformance": summary["conformance"],
                "fallback_rate": summary["fallback_rate"],
                "error_rate": summary["error_rate"],
                "latency_p95_ms": summary["latency_ms"]["p95"],
                "health": stats.health(summary),
            }
        )
    return out


def list_requests(
    session: Session,
    *,
    team: Team,
    name: str,
    version: int | None,
    valid: bool | None,
    status_code: int | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[RequestLog, int | None]], int]:
    """A schema's logged requests, newest first, with the version number each used."""
    subject = get_subject(session, team=team, name=name)
    number = {v.id: v.version for v in _versions(session, subject=subject)}
    ids = list(number)
    if version is not None:
        ids = [i for i, n in number.items() if n == version]
        if not ids:
            raise NotFound(f"Schema '{name}' has no version {version}.", code="version_not_found")
    rows, total = repository.list_requests(
        session,
        schema_version_ids=ids,
        valid=valid,
        status_code=status_code,
        offset=offset,
        limit=limit,
    )
    return [(r, number.get(r.schema_version_id)) for r in rows], total


def accept_request(session: Session, *, team: Team, id: int, output: Any = UNSET) -> dict[str, Any]:
    """Store a logged request as a labeled example (source "traffic") of the version it used.

    `output` corrects the logged answer; either is validated against the schema first.
    """
    log = repository.get_request(session, team_id=team.id, id=id)
    if log is None:
        raise NotFound(f"No request {id}.", code="request_not_found")
    found = (
        repository.version_with_subject(
            session, team_id=team.id, schema_version_id=log.schema_version_id
        )
        if log.schema_version_id is not None
        else None
    )
    if found is None:
        raise Unprocessable(
            f"Request {id} used an inline schema, not a registered one; it cannot become an "
            "example.",
            code="not_registered",
        )
    version, subject = found
    if not log.input:
        raise Unprocessable(
            f"Request {id} was logged without its input (payload logging is off).",
            code="no_input",
        )
    if output is UNSET:
        if log.output is None and not log.valid:
            raise Unprocessable(
                f"Request {id} has no valid output to accept; send a corrected one.",
                code="output_required",
                errors=[{"path": "/output", "message": "a corrected output is required"}],
            )
        output = log.output
    result = add_examples(
        session,
        team=team,
        name=subject.name,
        rows=[{"input": log.input, "output": output}],
        version=version.version,
        source="traffic",
    )
    return {"request_id": id, **result}


def erase_expired_payloads(session: Session, *, retention_days: int, now: datetime) -> int:
    """Drop the input, output and raw text of requests logged before the retention window;
    the numbers behind the metrics stay. Returns how many requests were erased."""
    return repository.erase_payloads(session, before=now - timedelta(days=retention_days))
