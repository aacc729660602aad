from sqlmodel import Session, col, func, select

from service.models import Evaluation, SchemaVersion, Subject, Team


def first_for_adapter(session: Session, *, adapter_id: int) -> Evaluation | None:
    query = select(Evaluation).where(Evaluation.adapter_id == adapter_id)
    return session.exec(query.order_by(col(Evaluation.id))).first()


def list_for_versions(
    session: Session, *, schema_version_ids: list[int], offset: int, limit: int
) -> tuple[list[tuple[Evaluation, SchemaVersion]], int]:
    where = col(Evaluation.schema_version_id).in_(schema_version_ids)
    total = session.exec(select(func.count()).select_from(Evaluation).where(where)).one()
    query = (
        select(Evaluation, SchemaVersion)
        .join(SchemaVersion, SchemaVersion.id == Evaluation.schema_version_id)
        .where(where)
        .order_by(col(Evaluation.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [(e, v) for e, v in session.exec(query)], total


def latest_drops(session: Session) -> list[tuple[str, str, int, float, bool]]:
    """(team, schema, version, drop, warned) of each version's latest run that measured a drop:
    what Prometheus scrapes."""
    latest = (
        select(func.max(Evaluation.id))
        .where(col(Evaluation.drop).is_not(None))
        .group_by(col(Evaluation.schema_version_id))
    )
    query = (
        select(Team.name, Subject.name, SchemaVersion.version, Evaluation)
        .join(SchemaVersion, SchemaVersion.id == Evaluation.schema_version_id)
        .join(Subject, Subject.id == SchemaVersion.subject_id)
        .join(Team, Team.id == Evaluation.team_id)
        .where(col(Evaluation.id).in_(latest), col(Subject.deleted_at).is_(None))
    )
    return [
        (team, schema, version, float(run.drop or 0.0), run.warning is not None)
        for team, schema, version, run in session.exec(query)
    ]
