"""Retrain-all: one job per schema version whose active adapter does not match the loaded base
model, with the data and options of the job that trained it. Idempotent: a version with a job
queued or running gets no second one."""

from dataclasses import dataclass

from sqlmodel import Session, col, select

from service.adapters.service import BaseStatus, base_status
from service.errors import FormwrightError, Unavailable
from service.jobs import repository
from service.jobs.bodies import JobCreate
from service.jobs.service import create_job
from service.jobs.transitions import add_event
from service.models import Adapter, Job, SchemaVersion, Subject, Team
from service.registry.service import get_subject


@dataclass
class RetrainItem:
    name: str
    version: int
    adapter_id: int
    base_status: BaseStatus
    # "queued" (this call), "would_queue" (dry run), "in_progress" (a job already runs or
    # waits: not queued twice), or the error code that kept it from being queued.
    outcome: str
    job_id: int | None
    # The old adapter's own job duration, in seconds: what the retrain should take.
    estimated_s: float | None
    detail: str | None = None


def stale_adapters(
    session: Session,
    *,
    team: Team,
    base_fingerprint: str,
    name: str | None,
    side: frozenset[str] = frozenset(),
) -> list[tuple[Adapter, SchemaVersion, BaseStatus, Subject]]:
    """The team's active adapters (of live versions) trained for another base model than the
    default (stale, or serving on a side base model), with their status."""
    query = (
        select(Adapter, SchemaVersion, Subject)
        .join(SchemaVersion, SchemaVersion.id == Adapter.schema_version_id)
        .join(Subject, Subject.id == SchemaVersion.subject_id)
        .where(
            Adapter.team_id == team.id,
            Adapter.active == True,  # noqa: E712
            col(SchemaVersion.deleted_at).is_(None),
            col(Subject.deleted_at).is_(None),
        )
        .order_by(Subject.name, SchemaVersion.version)
    )
    if name is not None:
        query = query.where(Subject.name == name)
    found: list[tuple[Adapter, SchemaVersion, BaseStatus, Subject]] = []
    for adapter, version, subject in session.exec(query):
        status = base_status(adapter, base_fingerprint=base_fingerprint, side=side)
        if status is not BaseStatus.MATCHES:
            found.append((adapter, version, status, subject))
    return found


def retrain_stale(
    session: Session,
    *,
    team: Team,
    base_fingerprint: str | None,
    dry_run: bool,
    name: str | None = None,
    side: frozenset[str] = frozenset(),
) -> list[RetrainItem]:
    """Queue (or, on a dry run, list) one job per stale active adapter."""
    if base_fingerprint is None:
        raise Unavailable(
            "The base model is still loading: which adapters are stale is not known yet.",
            code="model_loading",
            headers={"Retry-After": "5"},
        )
    if name is not None:
        get_subject(session, team=team, name=name)  # 404 for a schema the team does not have
    items = []
    for adapter, version, status, subject in stale_adapters(
        session, team=team, base_fingerprint=base_fingerprint, name=name, side=side
    ):
        old = session.get(Job, adapter.job_id) if adapter.job_id is not None else None
        item = RetrainItem(
            name=subject.name,
            version=version.version,
            adapter_id=adapter.id,  # type: ignore[arg-type]
            base_status=status,
            outcome="would_queue" if dry_run else "queued",
            job_id=None,
            estimated_s=duration(old),
        )
        items.append(item)
        running = repository.active_for_version(session, schema_version_id=version.id)
        if running is not None:
            item.outcome, item.job_id = "in_progress", running.id
            continue
        if dry_run:
            continue
        params = JobCreate.model_validate({**(old.params if old else {}), "version": None})
        try:
            job, _ = create_job(
                session,
                team=team,
                name=subject.name,
                params=params.model_copy(update={"version": version.version}),
            )
        except FormwrightError as exc:  # quota, too few examples: reported per version
            item.outcome, item.detail = exc.code, exc.detail
            continue
        add_event(
            session,
            job=job,
            kind="retrain",
            message=f"retrains adapter {adapter.id}, trained for another base model",
            data={"adapter_id": adapter.id, "old_base": adapter.base_fingerprint},
        )
        item.job_id = job.id
    session.flush()
    return items


def duration(job: Job | None) -> float | None:
    if job is None or job.started_at is None or job.finished_at is None:
        return None
    return round((job.finished_at - job.started_at).total_seconds(), 1)
