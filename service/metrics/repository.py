from datetime import datetime

from sqlalchemy import func, null, or_, update
from sqlmodel import Session, col, select

from service.metrics.stats import Row
from service.models import Adapter, Job, RequestLog, SchemaVersion, Subject, Team

# Percentiles are computed in Python: a window reads at most this many (the newest) rows.
MAX_ROWS = 50_000

ROW_COLUMNS = (
    RequestLog.schema_version_id,
    RequestLog.adapter_id,
    RequestLog.created_at,
    RequestLog.mode,
    RequestLog.decoding,
    RequestLog.status_code,
    RequestLog.error,
    RequestLog.valid,
    RequestLog.first_attempt_valid,
    RequestLog.attempts,
    RequestLog.latency_ms,
    RequestLog.completion_tokens,
)


def window_rows(
    session: Session,
    *,
    schema_version_ids: list[int],
    since: datetime,
    until: datetime,
    limit: int = MAX_ROWS,
) -> list[Row]:
    """The newest `limit` request rows of these versions in [since, until)."""
    if not schema_version_ids:
        return []
    query = (
        select(*ROW_COLUMNS)  # type: ignore[call-overload]  # sqlmodel types select() up to 4 columns
        .where(
            col(RequestLog.schema_version_id).in_(schema_version_ids),
            col(RequestLog.created_at) >= since,
            col(RequestLog.created_at) < until,
        )
        .order_by(col(RequestLog.created_at).desc(), col(RequestLog.id).desc())
        .limit(limit)
    )
    return [Row(*values) for values in session.exec(query)]


def list_requests(
    session: Session,
    *,
    schema_version_ids: list[int],
    valid: bool | None,
    status_code: int | None,
    offset: int,
    limit: int,
) -> tuple[list[RequestLog], int]:
    if not schema_version_ids:
        return [], 0
    query = select(RequestLog).where(col(RequestLog.schema_version_id).in_(schema_version_ids))
    if valid is not None:
        query = query.where(RequestLog.valid == valid)
    if status_code is not None:
        query = query.where(RequestLog.status_code == status_code)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(RequestLog.id).desc()).offset(offset).limit(limit))
    return list(rows), total


def get_request(session: Session, *, team_id: int, id: int) -> RequestLog | None:
    return session.exec(
        select(RequestLog).where(RequestLog.id == id, RequestLog.team_id == team_id)
    ).first()


def version_with_subject(
    session: Session, *, team_id: int, schema_version_id: int
) -> tuple[SchemaVersion, Subject] | None:
    row = session.exec(
        select(SchemaVersion, Subject)
        .join(Subject, Subject.id == SchemaVersion.subject_id)
        .where(SchemaVersion.id == schema_version_id, Subject.team_id == team_id)
    ).first()
    return (row[0], row[1]) if row else None


def adapters_of_subject(session: Session, *, subject_id: int, limit: int = 50) -> list[Adapter]:
    query = (
        select(Adapter)
        .join(SchemaVersion, SchemaVersion.id == Adapter.schema_version_id)
        .where(SchemaVersion.subject_id == subject_id)
        .order_by(col(Adapter.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))


def job_counts(session: Session) -> list[tuple[str, str, int]]:
    """(team name, state, count) over every team: what Prometheus scrapes."""
    query = (
        select(Team.name, Job.state, func.count())
        .join(Team, Team.id == Job.team_id)
        .group_by(Team.name, Job.state)
    )
    return [(team, state, count) for team, state, count in session.exec(query)]


def active_adapter_bases(session: Session) -> list[tuple[str, str]]:
    """(team name, base model fingerprint) of every active adapter: what Prometheus scrapes."""
    query = (
        select(Team.name, Adapter.base_fingerprint)
        .join(Team, Team.id == Adapter.team_id)
        .where(Adapter.active == True)  # noqa: E712
    )
    return [(team, fingerprint) for team, fingerprint in session.exec(query)]


def erase_payloads(session: Session, *, before: datetime) -> int:
    result = session.exec(  # type: ignore[call-overload]
        update(RequestLog)
        .where(
            col(RequestLog.created_at) < before,
            # Every logged answer has raw text or an input: the JSON output goes with them.
            or_(col(RequestLog.input).is_not(None), col(RequestLog.raw).is_not(None)),
        )
        .values(input=None, output=null(), raw=None)
    )
    session.flush()
    return result.rowcount
