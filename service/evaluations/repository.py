from sqlmodel import Session, col, select

from service.models import Evaluation, SchemaVersion, Subject, Team


def first_for_adapter(session: Session, *, adapter_id: int) -> Evaluation | None:
    query = select(Evaluation).where(Evaluation.adapter_id == adapter_id)
    return session.exec(query.order_by(col(Evaluation.id))).first()


def list_for_versions(
    session: Session, *, schema_version_ids: list[int], offset: int, limit: int
) -> tuple[list[tuple[Evaluation, SchemaVersion]], int]:
    query = (
        select(Evaluation, SchemaVersion)
        .join(SchemaVersion, SchemaVersion.id == Evaluation.schema_version_id)
        .where(col(Evaluation.schema_version_id).in_(schema_version_ids))
    )
    rows = list(session.exec(query.order_by(col(Evaluation.id).desc())))
    return [(e, v) for e, v in rows[offset : offset + limit]], len(rows)


def latest_drops(session: Session) -> list[tuple[str, str, int, float, bool]]:
    """(team, schema, version, drop, warned) of each version's latest run that measured a drop:
    what Prometheus scrapes."""
    query = (
        select(Team.name, Subject.name, SchemaVersion.version, Evaluation)
        .join(SchemaVersion, SchemaVersion.id == Evaluation.schema_version_id)
        .join(Subject, Subject.id == SchemaVersion.subject_id)
        .join(Team, Team.id == Evaluation.team_id)
        .where(col(Evaluation.drop).is_not(None), col(Subject.deleted_at).is_(None))
        .order_by(col(Evaluation.id))
    )
    latest: dict[tuple[str, str, int], tuple[float, bool]] = {}
    for team, schema, version, run in session.exec(query):
        latest[(team, schema, version)] = (float(run.drop or 0.0), run.warning is not None)
    return [(*key, drop, warned) for key, (drop, warned) in latest.items()]
