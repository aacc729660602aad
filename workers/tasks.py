"""Thin stage tasks: lease the job, re-read its rows, call training/, record the result.

synthesize -> validate -> finetune -> evaluate -> promote; each stage sends the next after its
commit (workers/runner.py). Datasets and checkpoints live under <artifacts>/jobs/<id>/.
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from service.adapters.service import activate, active_adapter
from service.config import get_settings
from service.db import session_scope
from service.models import Adapter, Example, Job, SchemaVersion, Subject
from training.data import Pair
from workers.app import celery_app
from workers.runner import JobCancelled, StageRun, run_stage

log = logging.getLogger(__name__)

FEW_SHOT = 3
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


def load_context(job_id: int) -> JobContext:
    with session_scope() as session:
        return context(session, job_id)


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


def write_pairs(path: Path, pairs: list[Pair]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        for p in pairs:
            f.write(json.dumps({"input": p.input, "output": p.output, "source": p.source}) + "\n")
    tmp.replace(path)


def read_pairs(path: Path) -> list[Pair]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [Pair(r["input"], r["output"], source=r.get("source", "human")) for r in rows]


# --- the model runtime a worker evaluates and labels with ---------------------------------

_runtime: Any = None


def worker_runtime() -> Any:
    """One loaded base model per worker process, shared by every job it runs."""
    global _runtime
    if _runtime is None:
        from runtime import ModelRuntime

        settings = get_settings()
        runtime = ModelRuntime(model_spec=settings.base_model, cache_dir=settings.models_cache_dir)
        runtime.load()
        _runtime = runtime
    return _runtime


def predictor(
    ctx: JobContext, *, mode: str, adapter: str | None, examples: list[Pair], max_tokens: int
) -> Any:
    from runtime import GenerateRequest

    runtime = worker_runtime()

    def predict(text: str) -> Any:
        request = GenerateRequest(
            schema=ctx.schema,
            input=text,
            description=ctx.description,
            instructions=ctx.instructions,
            examples=[(p.input, p.output) for p in examples],
            mode=mode,  # type: ignore[arg-type]
            max_tokens=max_tokens,
        )
        return runtime.generate(request, adapter=adapter).raw

    return predict


def output_budget(pairs: list[Pair]) -> int:
    """max_tokens for evaluation: room for the longest gold answer, and some."""
    runtime = worker_runtime()
    longest = max(
        (runtime.count_tokens(json.dumps(p.output, separators=(",", ":"))) for p in pairs),
        default=64,
    )
    return min(1024, int(longest * 1.5) + 16)


# --- stages ------------------------------------------------------------------------------


@celery_app.task(name="training.synthesize")
def synthesize(job_id: int) -> None:
    """Split the real examples, synthesize from the train part, label unlabeled inputs."""
    with run_stage(job_id, "synthesize") as run:
        if run is None:
            return
        from training.splits import split_examples
        from training.synthesis import synthesize as synthesize_pairs

        ctx = load_context(job_id)
        config = training_config(ctx.params)
        options = synthesis_config(ctx.params)
        with session_scope() as session:
            rows = list(
                session.exec(
                    select(Example)
                    .where(Example.schema_version_id == ctx.schema_id)
                    .order_by(Example.id)
                )
            )
        real = [Pair(e.input, e.output) for e in rows if e.labeled]
        unlabeled = [e.input for e in rows if not e.labeled]
        train, held_out = split_examples(
            real,
            eval_fraction=config.eval_fraction,
            min_eval=min(config.eval_min, max(1, len(real) // 2)),
            seed=config.seed,
            max_eval=config.eval_max,
        )
        synthetic: list[Pair] = []
        coverage = None
        if options.enabled and train:
            synthetic, report = synthesize_pairs(train, schema=ctx.schema, config=options)
            coverage = report.to_dict()
        labeled = teacher_labels(ctx, run, unlabeled, examples=train[:FEW_SHOT])
        write_pairs(ctx.dir / "train_real.jsonl", train)
        write_pairs(ctx.dir / "eval.jsonl", held_out)
        write_pairs(ctx.dir / "candidates.jsonl", synthetic + labeled)
        run.data["dataset"] = {
            "real": len(real),
            "train_real": len(train),
            "eval": len(held_out),
            "synthetic": len(synthetic),
            "teacher_labeled": len(labeled),
            "unlabeled": len(unlabeled),
            "seed": config.seed,
        }
        if coverage is not None:
            run.data["coverage"] = coverage


def teacher_labels(
    ctx: JobContext, run: StageRun, inputs: list[str], *, examples: list[Pair]
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
            ctx, mode="constrained", adapter=None, examples=examples, max_tokens=512
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


@celery_app.task(name="training.validate")
def validate(job_id: int) -> None:
    """Keep the candidate pairs that validate, are grounded, new and not too long."""
    with run_stage(job_id, "validate") as run:
        if run is None:
            return
        from training.pairs import validate_pairs

        ctx = load_context(job_id)
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


@celery_app.task(name="training.finetune")
def finetune(job_id: int) -> None:
    """LoRA fine-tuning from the last checkpoint; the adapter is saved whole or not at all."""
    with run_stage(job_id, "finetune") as run:
        if run is None:
            return
        from training.finetune import build_manifest, save_adapter
        from training.finetune import finetune as train_lora
        from training.modeling import model_fingerprint, resolve_base_model

        ctx = load_context(job_id)
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
                run.event(
                    "step", f"step {step}/{total} loss {loss:.4f}", {"step": step, "loss": loss}
                )

        result = train_lora(
            base,
            train,
            config=config,
            checkpoint_dir=ctx.dir / "checkpoints",
            description=ctx.description,
            instructions=ctx.instructions,
            on_progress=on_progress,
            should_stop=run.should_stop,
        )
        if result.status == "cancelled":
            run.check()
            raise JobCancelled()
        from training.data import dataset_hash

        dest = settings.resolved_artifacts_dir / "adapters" / f"job-{job_id}"
        if not dest.exists():
            manifest = build_manifest(
                base_model_fingerprint=model_fingerprint(base),
                schema_id=ctx.schema_id,
                schema_version=ctx.version,
                dataset_hash=dataset_hash(train),
                config=config,
                metrics={"final_loss": result.final_loss, "steps": result.step},
                job_id=job_id,
            )
            save_adapter(result.model, dest, manifest)
        manifest = json.loads((dest / "manifest.json").read_text())
        with session_scope() as session:
            adapter = session.exec(select(Adapter).where(Adapter.job_id == job_id)).first()
            if adapter is None:
                adapter = Adapter(
                    team_id=ctx.team_id,
                    schema_version_id=ctx.schema_id,
                    job_id=job_id,
                    path=str(dest.resolve()),
                    base_fingerprint=manifest["base_model_fingerprint"],
                    manifest=manifest,
                )
                session.add(adapter)
                session.flush()
            job = session.get(Job, job_id)
            assert job is not None
            job.adapter_id = adapter.id
            session.add(job)
        run.data["training"] = {
            "steps": result.step,
            "final_loss": result.final_loss,
            "tokens": result.tokens,
            "seconds": round(result.seconds, 1),
            "tokens_per_s": round(result.tokens / result.seconds, 1) if result.seconds else None,
            "dropped": result.dropped,
            "resumed_from": result.resumed_from,
            "loss_history": losses,
        }


@celery_app.task(name="training.evaluate")
def evaluate(job_id: int) -> None:
    """Held-out evaluation: (a) base few-shot constrained, (b) adapter free, (c) adapter
    constrained."""
    with run_stage(job_id, "evaluate") as run:
        if run is None:
            return
        from training.evaluate import evaluate as score

        ctx = load_context(job_id)
        held_out = read_pairs(ctx.dir / "eval.jsonl")
        examples = read_pairs(ctx.dir / "train_real.jsonl")[:FEW_SHOT]
        with session_scope() as session:
            adapter = session.exec(select(Adapter).where(Adapter.job_id == job_id)).one()
            path = adapter.path
        budget = output_budget(held_out)
        configs = {
            "base": ("constrained", None, examples),
            "adapter_unconstrained": ("unconstrained", path, []),
            "adapter_constrained": ("constrained", path, []),
        }
        evaluation: dict[str, Any] = {"n": len(held_out)}
        for name, (mode, adapter_path, shots) in configs.items():
            run.check()
            predict = predictor(
                ctx, mode=mode, adapter=adapter_path, examples=shots, max_tokens=budget
            )
            result = score(
                held_out,
                predict=predict,
                schema=ctx.schema,
                concurrency=worker_runtime().max_batch_size,
            )
            evaluation[name] = result.to_dict()
            run.event(
                "evaluated", f"{name}: field accuracy {evaluation[name]['field_accuracy']:.3f}"
            )
        with session_scope() as session:
            adapter = session.exec(select(Adapter).where(Adapter.job_id == job_id)).one()
            adapter.evaluation = evaluation
            session.add(adapter)
        run.data["evaluation"] = evaluation


@celery_app.task(name="training.promote")
def promote(job_id: int) -> None:
    """Serve the new adapter only if it beats what serves now on held-out field accuracy."""
    with run_stage(job_id, "promote") as run:
        if run is None:
            return
        with session_scope() as session:
            adapter = session.exec(select(Adapter).where(Adapter.job_id == job_id)).one()
            evaluation = adapter.evaluation or {}
            score = served_accuracy(evaluation)
            current = active_adapter(session, schema_version_id=adapter.schema_version_id)
            if current is not None and current.id != adapter.id:
                baseline, against = (
                    served_accuracy(current.evaluation or {}),
                    f"adapter {current.id}",
                )
            else:
                baseline, against = evaluation.get("base", {}).get("field_accuracy", 0.0), "base"
            promoted = current is not None and current.id == adapter.id or score > baseline
            if promoted:
                activate(session, adapter=adapter)
        verdict = "promoted" if promoted else "kept inactive"
        run.event(
            "promotion",
            f"adapter {adapter.id} {verdict}: field accuracy {score:.3f} "
            f"vs {against} {baseline:.3f}",
            {"promoted": promoted, "score": score, "baseline": baseline, "against": against},
        )
        run.data["promotion"] = {"promoted": promoted, "score": score, "baseline": baseline}


def served_accuracy(evaluation: dict[str, Any]) -> float:
    """What `auto` serves best approximates: the adapter under constraints."""
    return float((evaluation.get("adapter_constrained") or {}).get("field_accuracy", 0.0))
