"""Eval-only runs: score a version's active adapter (and, if asked, the base model) on the
pinned eval set or on accepted traffic since a date, with the job's own scoring code (the same
figures as the job's evaluation on the same set); keep the result; warn when the served field
accuracy fell more than the team's margin below the adapter's figure at promotion."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlmodel import Session

from runtime import ModelRuntime
from service.adapters.service import BaseStatus, active_adapter, base_status
from service.errors import Conflict, Unavailable, Unprocessable
from service.evaluations import repository
from service.examples.repository import all_for_version
from service.jobs.evaluation import SchemaPrompt, Scorer, eval_split
from service.models import Adapter, Evaluation, SchemaVersion, Team
from service.registry import service as registry
from service.registry.service import resolve_version
from training.data import Pair

# Scored inside the API request: a set past this is a job's work, not a request's.
MAX_EVAL_EXAMPLES = 500
# One run per team at a time: a run fills every batch slot for minutes.
_RUNNING: set[int] = set()
_RUNNING_LOCK = threading.Lock()


@contextmanager
def one_run_per_team(team: Team) -> Iterator[None]:
    assert team.id is not None
    with _RUNNING_LOCK:
        if team.id in _RUNNING:
            raise Conflict(
                "An evaluation run of this team is in progress; wait for its answer.",
                code="evaluation_in_progress",
            )
        _RUNNING.add(team.id)
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(team.id)


def run_evaluation(
    session: Session,
    *,
    runtime: ModelRuntime,
    team: Team,
    name: str,
    version: int | None,
    eval_set: str,
    since: datetime | None,
    include_base: bool,
) -> tuple[Evaluation, SchemaVersion]:
    schema_version, subject = resolve_version(session, team=team, name=name, version=version)
    if not runtime.ready:
        raise Unavailable(
            "The base model is still loading; try again shortly.",
            code="model_loading",
            headers={"Retry-After": "5"},
        )
    adapter = active_adapter(session, schema_version_id=schema_version.id)
    if adapter is not None:
        status = base_status(adapter, base_fingerprint=runtime.model_fingerprint)
        if status is BaseStatus.STALE:
            raise Conflict(
                f"Adapter {adapter.id} was trained for another base model and cannot be scored "
                "here; retrain it (POST /v1/retrain).",
                code="adapter_stale",
            )
    rows = all_for_version(session, schema_version_id=schema_version.id)
    labeled = [e for e in rows if e.labeled]
    if eval_set == "pinned":
        chosen = [e for e in labeled if e.eval]
        if not chosen:
            raise Unprocessable(
                f"Version {schema_version.version} has no pinned eval examples.",
                code="no_eval_set",
                errors=[{"path": "/set", "message": "pin examples with 'eval': true first"}],
            )
    else:
        if since is None:
            raise Unprocessable(
                "An evaluation on traffic needs 'since'.",
                code="invalid_request",
                errors=[{"path": "/since", "message": "required when set is 'traffic'"}],
            )
        chosen = [e for e in labeled if e.source == "traffic" and e.created_at >= since]
        if not chosen:
            raise Unprocessable(
                f"No accepted traffic for version {schema_version.version} since {since}.",
                code="no_eval_set",
                errors=[{"path": "/since", "message": "no accepted request since this date"}],
            )
    if len(chosen) > MAX_EVAL_EXAMPLES:
        raise Unprocessable(
            f"The eval set has {len(chosen)} examples; an evaluation run scores at most "
            f"{MAX_EVAL_EXAMPLES}.",
            code="eval_set_too_large",
            errors=[{"path": "/since" if eval_set == "traffic" else "/set", "message": "too many"}],
        )
    from training.config import TrainingConfig

    ids = {e.id for e in chosen}
    train, held_out = eval_split(
        [Pair(e.input, e.output) for e in labeled if not e.eval and e.id not in ids],
        [Pair(e.input, e.output) for e in chosen],
        TrainingConfig(),
    )
    prompt = SchemaPrompt(schema_version.document, schema_version.description, subject.instructions)
    scorer = Scorer(runtime, prompt, held_out)
    results: dict[str, Any] = {}
    with one_run_per_team(team):
        if include_base or adapter is None:
            results["base"] = scorer.base(train).to_dict()
        if adapter is not None:
            free, served = scorer.adapter(adapter.path)
            results["adapter_unconstrained"] = free.to_dict()
            results["adapter_served"] = served.to_dict()
    run = Evaluation(
        team_id=team.id,
        schema_version_id=schema_version.id,
        adapter_id=adapter.id if adapter else None,
        eval_set=eval_set,
        since=since,
        n=len(held_out),
        results=results,
    )
    if adapter is not None:
        measure_drift(session, run=run, adapter=adapter, margin=team.drift_margin)
    session.add(run)
    session.flush()
    return run, schema_version


def measure_drift(session: Session, *, run: Evaluation, adapter: Adapter, margin: float) -> None:
    """The drop of served field accuracy from the adapter's figure at promotion (or, for an
    adapter without one, its first evaluation run); a warning past the team's margin."""
    promoted = ((adapter.evaluation or {}).get("adapter_served") or {}).get("field_accuracy")
    if promoted is None:
        first = repository.first_for_adapter(session, adapter_id=adapter.id)  # type: ignore[arg-type]
        if first is None:
            return  # this run is the reference
        promoted = (first.results.get("adapter_served") or {}).get("field_accuracy")
    if promoted is None:
        return
    now = run.results["adapter_served"]["field_accuracy"]
    run.baseline = float(promoted)
    run.drop = round(run.baseline - now, 4)
    if run.drop > margin:
        run.warning = (
            f"Served field accuracy fell from {run.baseline:.3f} to {now:.3f} "
            f"({run.drop:.3f} > the team's margin {margin:.3f}): the traffic may have drifted; "
            "add examples and retrain."
        )


def list_evaluations(
    session: Session, *, team: Team, name: str, version: int | None, offset: int, limit: int
) -> tuple[list[tuple[Evaluation, SchemaVersion]], int]:
    if version is not None:
        found, _ = resolve_version(session, team=team, name=name, version=version)
        ids = [found.id]
    else:
        ids = [v.id for v in registry.list_versions(session, team=team, name=name, deleted=False)]
    return repository.list_for_versions(
        session, schema_version_ids=[i for i in ids if i is not None], offset=offset, limit=limit
    )
