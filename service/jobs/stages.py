"""The five stages of a training job: read the job's rows, call training/, record the result.

synthesize -> validate -> finetune -> evaluate -> promote. Each runs under the job's lease
(lease.run_stage) in a worker; datasets and checkpoints live under <artifacts>/jobs/<id>/.
Stages that need the base model get a `runtime` source (the worker's one loaded model).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from runtime import ModelRuntime
from service.adapters.service import BaseStatus, activate, active_adapter, base_status
from service.audit import service as audit
from service.config import get_settings
from service.jobs import promotion
from service.jobs.evaluation import Scorer, eval_split, predictor
from service.jobs.lease import JobCancelled, StageRun
from service.models import Adapter, Example, Job, SchemaVersion, Subject, Team
from training.data import Pair, read_pairs, write_pairs
from training.prompts import FEW_SHOT

RuntimeSource = Callable[[], ModelRuntime]
SYNTHESIS_KEYS = {"enabled", "target", "teacher", "agree_samples"}


@dataclass
class JobContext:
    job_id: int
    team_id: int
    schema: dict[str, Any]
    schema_id: int
    version: int
    description: str | None
    instructions: str | None
    params: dict[str, Any]
    dir: Path


def context(session: Session, job_id: int) -> JobContext:
    job = session.get(Job, job_id)
    assert job is not None
    version = session.get(SchemaVersion, job.schema_version_id)
    assert version is not None
    subject = session.get(Subject, version.subject_id)
    assert subject is not None
    path = get_settings().resolved_artifacts_dir / "jobs" / str(job_id)
    path.mkdir(parents=True, exist_ok=True)
    return JobContext(
        job_id=job_id,
        team_id=job.team_id,
        schema=version.document,
        schema_id=version.id,
        version=version.version,
        description=version.description,
        instructions=subject.instructions,
        params=dict(job.params or {}),
        dir=path,
    )


def load_context(run: StageRun) -> JobContext:
    with run.sessions() as session:
        return context(session, run.job_id)


def training_config(params: dict[str, Any]) -> Any:
    from training.config import TrainingConfig

    return TrainingConfig.from_dict(
        {k: v for k, v in params.items() if k not in {"version", "synthesis"}}
    )


def synthesis_config(params: dict[str, Any]) -> Any:
    from training.config import SynthesisConfig

    options = {k: v for k, v in (params.get("synthesis") or {}).items() if k in SYNTHESIS_KEYS}
    if "seed" in params:
        options["seed"] = params["seed"]
    return SynthesisConfig.from_dict(options)


def synthesize(run: StageRun, *, runtime: RuntimeSource) -> None:
    """Split the real examples, synthesize from the train part, label unlabeled inputs."""
    from training.synthesis import synthesize as synthesize_pairs

    ctx = load_context(run)
    config = training_config(ctx.params)
    options = synthesis_config(ctx.params)
    with run.sessions() as session:
        rows = list(
            session.exec(
                select(Example)
                .where(Example.schema_version_id == ctx.schema_id)
                .order_by(Example.id)
            )
        )
    real = [Pair(e.input, e.output) for e in rows if e.labeled and not e.eval]
    pinned = [Pair(e.input, e.output) for e in rows if e.labeled and e.eval]
    unlabeled = [e.input for e in rows if not e.labeled]
    train, held_out = eval_split(real, pinned, config)
    synthetic: list[Pair] = []
    coverage = None
    if options.enabled and train:
        synthetic, report = synthesize_pairs(train, schema=ctx.schema, config=options)
        coverage = report.to_dict()
    labeled = teacher_labels(ctx, run, unlabeled, examples=train[:FEW_SHOT], runtime=runtime)
    write_pairs(ctx.dir / "train_real.jsonl", train)
    write_pairs(ctx.dir / "eval.jsonl", held_out)
    write_pairs(ctx.dir / "candidates.jsonl", synthetic + labeled)
    run.data["dataset"] = {
        "real": len(real) + len(pinned),
        "train_real": len(train),
        "eval": len(held_out),
        "eval_set": "pinned" if pinned else "held out",
        "synthetic": len(synthetic),
        "teacher_labeled": len(labeled),
        "unlabeled": len(unlabeled),
        "seed": config.seed,
    }
    if coverage is not None:
        run.data["coverage"] = coverage


def teacher_labels(
    ctx: JobContext,
    run: StageRun,
    inputs: list[str],
    *,
    examples: list[Pair],
    runtime: RuntimeSource,
) -> list[Pair]:
    teacher = (ctx.params.get("synthesis") or {}).get("teacher")
    if not teacher or not inputs:
        return []
    from training.teacher import label_with_teacher, openai_teacher

    settings = get_settings()
    agree = (ctx.params.get("synthesis") or {}).get("agree_samples", 1)
    if teacher == "external":
        if not settings.teacher_url or not settings.teacher_model:
            raise ValueError("teacher 'external' needs FORMWRIGHT_TEACHER_URL and _MODEL set")
        generate = openai_teacher(
            settings.teacher_url,
            settings.teacher_model,
            settings.teacher_api_key,
            schema=ctx.schema,
            description=ctx.description,
            instructions=ctx.instructions,
            examples=[(p.input, p.output) for p in examples],
            temperature=0.7 if agree > 1 else 0.0,
        )
    else:
        generate = predictor(
            runtime(), ctx, mode="constrained", adapter=None, examples=examples, max_tokens=512
        )
    accepted, rejected = label_with_teacher(
        inputs, generate=generate, schema=ctx.schema, agree_samples=agree
    )
    run.event(
        "teacher",
        f"teacher labeled {len(accepted)} of {len(inputs)} inputs",
        {"rejected": dict(rejected)},
    )
    return [Pair(p.input, p.output, source="teacher") for p in accepted]


def validate(run: StageRun) -> None:
    """Keep the candidate pairs that validate, are grounded, new and not too long."""
    from training.pairs import validate_pairs

    ctx = load_context(run)
    train = read_pairs(ctx.dir / "train_real.jsonl")
    held_out = read_pairs(ctx.dir / "eval.jsonl")
    report = validate_pairs(
        read_pairs(ctx.dir / "candidates.jsonl"),
        schema=ctx.schema,
        real_examples=train + held_out,
    )
    write_pairs(ctx.dir / "train.jsonl", train + list(report.accepted))
    run.data["validation"] = {
        "accepted": len(report.accepted),
        "rejected": dict(report.rejected),
        "train_pairs": len(train) + len(report.accepted),
    }


def finetune(run: StageRun) -> None:
    """LoRA fine-tuning from the last checkpoint; the adapter is saved whole or not at all."""
    from training.finetune import build_manifest, save_adapter
    from training.finetune import finetune as train_lora
    from training.modeling import model_fingerprint, resolve_base_model
    from training.spans import copied_fields

    ctx = load_context(run)
    settings = get_settings()
    config = training_config(ctx.params)
    train = read_pairs(ctx.dir / "train.jsonl")
    base = resolve_base_model(settings.base_model, cache_dir=settings.models_cache_dir)
    every = 1
    losses: list[dict[str, float]] = []

    def on_progress(step: int, total: int, loss: float, tps: float, eta: float) -> None:
        nonlocal every
        every = max(1, total // 25)
        run.progress(
            step=step,
            total_steps=total,
            loss=loss,
            tokens_per_s=tps,
            eta_s=eta,
            progress=step / total if total else 0.0,
            force=step == total,
        )
        if step % every == 0 or step == total:
            losses.append({"step": step, "loss": loss})
            run.event("step", f"step {step}/{total} loss {loss:.4f}", {"step": step, "loss": loss})

    result = train_lora(
        base,
        train,
        config=config,
        checkpoint_dir=ctx.dir / "checkpoints",
        schema=ctx.schema,  # targets in the order the grammar will force
        description=ctx.description,
        instructions=ctx.instructions,
        on_progress=on_progress,
        should_stop=run.should_stop,
    )
    if result.status == "cancelled":
        run.check()
        raise JobCancelled()
    from training.data import dataset_hash

    dest = settings.resolved_artifacts_dir / "adapters" / f"job-{run.job_id}"
    if not dest.exists():
        manifest = build_manifest(
            base_model_fingerprint=model_fingerprint(base),
            schema_id=ctx.schema_id,
            schema_version=ctx.version,
            dataset_hash=dataset_hash(train),
            config=config,
            metrics={"final_loss": result.final_loss, "steps": result.step},
            job_id=run.job_id,
            copied_fields=copied_fields(train),
        )
        save_adapter(result.model, dest, manifest)
    manifest = json.loads((dest / "manifest.json").read_text())
    with run.sessions() as session:
        adapter = session.exec(select(Adapter).where(Adapter.job_id == run.job_id)).first()
        if adapter is None:
            adapter = Adapter(
                team_id=ctx.team_id,
                schema_version_id=ctx.schema_id,
                job_id=run.job_id,
                path=str(dest.resolve()),
                base_fingerprint=manifest["base_model_fingerprint"],
                manifest=manifest,
            )
            session.add(adapter)
            session.flush()
        job = session.get(Job, run.job_id)
        assert job is not None
        job.adapter_id = adapter.id
        session.add(job)
    run.data["training"] = {
        "steps": result.step,
        "planned_steps": result.total_steps,
        "converged": result.converged,
        "final_loss": result.final_loss,
        "tokens": result.tokens,
        "seconds": round(result.seconds, 1),
        "tokens_per_s": round(result.tokens / result.seconds, 1) if result.seconds else None,
        "precision": result.precision,
        "dropped": result.dropped,
        "resumed_from": result.resumed_from,
        "loss_history": losses,
    }


def evaluate(run: StageRun, *, runtime: RuntimeSource) -> None:
    """Score on the eval set, everything in this one run: the base model few-shot (what serves
    without an adapter), the active adapter as it serves (auto), and the new adapter alone and
    as it would serve (auto: constrained only where its own answer does not validate)."""
    ctx = load_context(run)
    held_out = read_pairs(ctx.dir / "eval.jsonl")
    train = read_pairs(ctx.dir / "train_real.jsonl")
    with run.sessions() as session:
        adapter = session.exec(select(Adapter).where(Adapter.job_id == run.job_id)).one()
        path = adapter.path
        current = active_adapter(session, schema_version_id=adapter.schema_version_id)
        active = current if current is not None and current.id != adapter.id else None
    base = runtime().model_fingerprint
    if active is not None and base_status(active, base_fingerprint=base) is BaseStatus.STALE:
        # Trained for another base model: it cannot serve here, the base model does instead.
        run.event("evaluated", f"active adapter {active.id} is stale: not scored")
        stale, active = active.id, None
    else:
        stale = None
    scorer = Scorer(runtime(), ctx, held_out, check=run.check)
    evaluation: dict[str, Any] = {
        "n": len(held_out),
        "eval_set": (run.data.get("dataset") or {}).get("eval_set", "held out"),
    }
    if stale is not None:
        evaluation["stale_adapter"] = {"id": stale}

    def record(name: str, result: Any) -> None:
        evaluation[name] = result.to_dict()
        run.event("evaluated", f"{name}: field accuracy {result.field_accuracy:.3f}")

    record("base", scorer.base(train))
    if active is not None:
        record("active_adapter", scorer.served(active.path))
        evaluation["active_adapter"]["id"] = active.id
    free, served = scorer.adapter(path)
    record("adapter_unconstrained", free)
    record("adapter_served", served)
    with run.sessions() as session:
        adapter = session.exec(select(Adapter).where(Adapter.job_id == run.job_id)).one()
        adapter.evaluation = evaluation
        session.add(adapter)
    run.data["evaluation"] = evaluation


def promote(run: StageRun) -> None:
    """Serve the new adapter only if, as it would serve, it beats what serves now, both scored
    on the same eval set in this job's evaluation; the job's metrics show both."""
    with run.sessions() as session:
        adapter = session.exec(select(Adapter).where(Adapter.job_id == run.job_id)).one()
        current = active_adapter(session, schema_version_id=adapter.schema_version_id)
        evaluation = adapter.evaluation or {}
        verdict = promotion.decide(
            evaluation, adapter_id=adapter.id, current_id=current.id if current else None
        )
        if verdict.promoted and (current is None or current.id != adapter.id):
            activate(session, adapter=adapter)
            team = session.get(Team, adapter.team_id)
            assert team is not None
            audit.record(
                session,
                team=team,
                actor="worker",
                action="promote",
                resource=f"/v1/adapters/{adapter.id}/promote",
                detail={"job_id": run.job_id, "replaced": current.id if current else None},
            )
        job = session.get(Job, run.job_id)
        assert job is not None
        job.metrics = promotion.job_metrics(evaluation, verdict)
        session.add(job)
    outcome = "promoted" if verdict.promoted else "kept inactive"
    run.event(
        "promotion",
        f"adapter {adapter.id} {outcome}: field accuracy {verdict.score:.3f} "
        f"vs {verdict.against} {verdict.baseline:.3f} (same {evaluation.get('n', 0)} examples)",
        {
            "promoted": verdict.promoted,
            "score": verdict.score,
            "baseline": verdict.baseline,
            "against": verdict.against,
        },
    )
    run.data["promotion"] = {
        "promoted": verdict.promoted,
        "score": verdict.score,
        "baseline": verdict.baseline,
        "against": verdict.against,
    }
