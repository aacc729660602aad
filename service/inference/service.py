"""Serving rules: which schema and adapter a request uses, limits, the fallback, the log."""

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from runtime import (
    AdapterRefused,
    FairScheduler,
    GenerateRequest,
    GenerateResult,
    GrammarCompileError,
    ModelRuntime,
    QueueFull,
    RowWatch,
    RuntimeNotReady,
)
from schemas.canonical import document_key
from schemas.errors import Issue
from service.adapters.service import active_adapter
from service.config import Settings
from service.db import session_scope
from service.errors import FormwrightError, Unavailable, Unprocessable
from service.metrics.prom import observe_generation
from service.models import Adapter, Example, RequestLog, SchemaVersion, Subject, Team
from service.registry.service import prepare_schema, resolve_version
from training.prompts import FEW_SHOT, Conversation

log = logging.getLogger(__name__)


@dataclass
class Target:
    """What one request generates against: a registered version, or an inline schema."""

    schema: dict[str, Any]
    fingerprint: str
    description: str | None = None
    instructions: str | None = None
    examples: list[tuple[str, Any]] = field(default_factory=list)
    version: SchemaVersion | None = None
    subject: Subject | None = None
    adapter: Adapter | None = None
    # The active adapter that could not answer ("stale": trained for another base model;
    # "refused": damaged files or a LoRA variant not served): the base model answered instead.
    fallback: dict[str, Any] | None = None

    @property
    def ref(self) -> dict[str, Any] | None:
        if self.version is None or self.subject is None:
            return None
        return {"name": self.subject.name, "version": self.version.version, "id": self.version.id}


@dataclass
class Inference:
    """The process's model runtime, the fair queue in front of it, and the settings."""

    runtime: ModelRuntime
    scheduler: FairScheduler
    settings: Settings
    # Base models loaded beside the default one (FORMWRIGHT_BASE_MODELS): an adapter trained
    # on one of them is served on it, so a team can move schema by schema.
    side: list[ModelRuntime] = field(default_factory=list)

    def runtime_for(self, fingerprint: str) -> ModelRuntime | None:
        """The loaded runtime whose base model an adapter was trained for, if any."""
        for runtime in (self.runtime, *self.side):
            if runtime.ready and runtime.model_fingerprint == fingerprint:
                return runtime
        return None

    @property
    def side_fingerprints(self) -> frozenset[str]:
        return frozenset(r.model_fingerprint for r in self.side if r.ready and r.model_fingerprint)


def few_shot(session: Session, *, schema_version_id: int) -> list[tuple[str, Any]]:
    rows = session.exec(
        select(Example)
        .where(Example.schema_version_id == schema_version_id, Example.labeled == True)  # noqa: E712
        .order_by(Example.id)
        .limit(FEW_SHOT)
    )
    return [(e.input, e.output) for e in rows]


def registered_target(
    session: Session, *, team: Team, name: str, version: int | str | None
) -> Target:
    found, subject = resolve_version(session, team=team, name=name, version=version)
    adapter = active_adapter(session, schema_version_id=found.id)
    return Target(
        # The internal form: the author's key order, refs bundled; keyed by it (not by the
        # sorted fingerprint) so documents differing only in order never share a grammar.
        schema=found.document,
        fingerprint=document_key(found.document),
        description=found.description,
        instructions=subject.instructions,
        examples=few_shot(session, schema_version_id=found.id),
        version=found,
        subject=subject,
        adapter=adapter,
    )


def inline_target(schema: Any, *, description: str | None = None) -> Target:
    prepared = prepare_schema(schema)
    return Target(
        schema=prepared.schema, fingerprint=document_key(prepared.schema), description=description
    )


def issues_json(issues: list[Issue]) -> list[dict[str, Any]]:
    return [{"path": i.path, "message": i.message, "keyword": i.keyword} for i in issues]


def generate(
    inference: Inference,
    *,
    team: Team,
    target: Target,
    input: str | Conversation,
    mode: str,
    max_tokens: int | None,
    temperature: float,
    seed: int | None,
    watch: RowWatch | None = None,
) -> GenerateResult:
    """Admit, queue and run one generation; raise the right 4xx/5xx error family member.

    `input` is one text (`generate`) or a conversation (chat); `watch` streams the answer's
    text as it is decoded and lets the caller stop it."""
    settings = inference.settings
    runtime = inference.runtime
    max_tokens = max_tokens or settings.default_max_tokens
    if max_tokens > settings.max_output_tokens:
        raise Unprocessable(
            f"max_tokens is at most {settings.max_output_tokens}.",
            code="max_tokens_too_large",
            errors=[
                {"path": "/max_tokens", "message": f"{max_tokens} > {settings.max_output_tokens}"}
            ],
        )
    if not runtime.ready:
        raise Unavailable(
            runtime.error
            and f"The base model failed to load: {runtime.error}"
            or "The base model is still loading; try again shortly.",
            code="model_loading",
            headers={"Retry-After": "5"},
        )
    texts, what, path = (
        ([input], "input", "/input")
        if isinstance(input, str)
        else ([t["content"] for t in input], "conversation", "/messages")
    )
    tokens = sum(runtime.count_tokens(text) for text in texts)
    if tokens > settings.max_input_tokens:
        raise Unprocessable(
            f"The {what} is {tokens} tokens; at most {settings.max_input_tokens} are accepted.",
            code="input_too_long",
            errors=[{"path": path, "message": f"{tokens} tokens > {settings.max_input_tokens}"}],
        )
    # A 504 stops the row's decoding (below), whoever else watches it.
    watch = watch or RowWatch()
    request = GenerateRequest(
        schema=target.schema,
        schema_fingerprint=target.fingerprint,
        description=target.description,
        instructions=target.instructions,
        examples=target.examples,
        input=input,
        mode=mode,  # type: ignore[arg-type]
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        watch=watch,
    )

    def run() -> GenerateResult:
        adapter = target.adapter
        serving = inference.runtime_for(adapter.base_fingerprint) if adapter else None
        if adapter is not None and serving is None:
            # Trained for a base model not loaded: never tried, the base answers (retrain it).
            fall_back(target, adapter, "stale")
        elif adapter is not None and serving is not None:
            try:
                return serving.generate(request, adapter=adapter.path)
            except AdapterRefused:
                # Never serve a damaged or foreign adapter: the base model answers instead.
                log.exception("adapter %s refused", adapter.id)
                fall_back(target, adapter, "refused")
        result = runtime.generate(request)
        if target.fallback is not None:
            # Visible in the answer, the request log and the Prometheus `decoding` label.
            result.decoding = f"fallback:{result.decoding}"
        return result

    try:
        return inference.scheduler.run(team.id, run, timeout_s=settings.request_timeout_s)
    except QueueFull as exc:
        raise FormwrightError(
            exc.detail,
            status_code=429,
            code="queue_full",
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from exc
    except TimeoutError as exc:
        watch.cancel()  # the answer is no longer awaited: free its row now
        raise FormwrightError(
            f"The request did not finish within {settings.request_timeout_s:g} s.",
            status_code=504,
            code="timeout",
        ) from exc
    except RuntimeNotReady as exc:
        raise Unavailable(str(exc), code="model_loading", headers={"Retry-After": "5"}) from exc
    except GrammarCompileError as exc:
        raise Unprocessable(
            f"No decoding backend could compile this schema: {exc.detail}",
            code="grammar_unavailable",
            errors=[{"path": "", "message": str(a)} for a in getattr(exc, "attempts", [])],
        ) from exc


def fall_back(target: Target, adapter: Adapter, reason: str) -> None:
    target.fallback = {"adapter": adapter.id, "reason": reason}
    target.adapter = None


def unconformant(result: GenerateResult) -> FormwrightError:
    return Unprocessable(
        "No output that validates against the schema could be produced"
        + (" (max_tokens ran out)." if result.finish_reason == "length" else "."),
        code="unconformant_output",
        errors=[
            *issues_json(result.errors),
            {"path": "", "message": "raw output", "raw": result.raw},
        ],
    )


def log_request(
    session: Session,
    *,
    team: Team,
    target: Target,
    endpoint: str,
    mode: str,
    input: str | Conversation,
    result: GenerateResult | None,
    status_code: int,
    error: str | None = None,
    latency_ms: float | None = None,
) -> RequestLog:
    entry = RequestLog(
        team_id=team.id,
        schema_version_id=target.version.id if target.version else None,
        adapter_id=target.adapter.id if target.adapter else None,
        endpoint=endpoint,
        mode=mode,
        status_code=status_code,
        error=error,
        latency_ms=latency_ms or 0.0,
    )
    if result is not None:
        entry.decoding = result.decoding
        entry.valid = result.valid
        entry.first_attempt_valid = result.attempts[0].valid if result.attempts else None
        entry.attempts = len(result.attempts)
        entry.errors = issues_json(result.errors) or None
        entry.latency_ms = result.latency_ms
        entry.prompt_tokens = result.usage.prompt_tokens
        entry.completion_tokens = result.usage.completion_tokens
        if team.log_payloads:
            entry.output = result.output
            entry.raw = result.raw if not result.valid else None
    if team.log_payloads:
        entry.input = input if isinstance(input, str) else dumps(list(input))
    observe_generation(
        team=team.name,
        schema=target.subject.name if target.subject else None,
        version=target.version.version if target.version else None,
        decoding=entry.decoding,
        status=status_code,
        latency_s=entry.latency_ms / 1000,
        completion_tokens=entry.completion_tokens,
    )
    session.add(entry)
    session.flush()
    return entry


def respond(
    inference: Inference,
    session: Session,
    *,
    team: Team,
    target: Target,
    input: str | Conversation,
    mode: str,
    max_tokens: int | None,
    temperature: float,
    seed: int | None,
    endpoint: str,
    watch: RowWatch | None = None,
) -> GenerateResult:
    """Generate and log; an unconformant answer (outside `unconstrained`) becomes a 422."""
    start = time.perf_counter()
    about: dict[str, Any] = {
        "team": team,
        "target": target,
        "endpoint": endpoint,
        "mode": mode,
        "input": input,
    }
    try:
        result = generate(
            inference,
            team=team,
            target=target,
            input=input,
            mode=mode,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=seed,
            watch=watch,
        )
    except FormwrightError as exc:
        if exc.status_code == 504:
            latency_ms = (time.perf_counter() - start) * 1000
            log_error_answer(
                session,
                **about,
                result=None,
                status_code=504,
                error=exc.code,
                latency_ms=latency_ms,
            )
        raise
    if result.finish_reason == "cancelled":
        # The client went away: nobody reads this answer, the log says why it ended.
        log_request(session, **about, result=result, status_code=499, error="cancelled")
        return result
    if not result.valid and mode != "unconstrained":
        error = unconformant(result)
        log_error_answer(session, **about, result=result, status_code=422, error=error.code)
        raise error
    log_request(session, **about, result=result, status_code=200)
    return result


def log_error_answer(session: Session, **fields: Any) -> None:
    """Log a request answered with an error, in a transaction of its own: the request's rolls
    back with the error, and the log must stay."""
    db_engine = session.get_bind()
    assert isinstance(db_engine, Engine)
    with session_scope(db_engine) as own:
        log_request(own, **fields)


def dumps(output: Any) -> str:
    return json.dumps(output, ensure_ascii=False, separators=(",", ":"))


def public_result(result: GenerateResult, target: Target) -> Any:
    from service.inference.bodies import GeneratePublic

    return GeneratePublic(
        output=result.output,
        valid=result.valid,
        errors=issues_json(result.errors),
        schema_=target.ref,
        adapter=target.adapter.id if target.adapter else None,
        fallback=target.fallback,
        decoding=result.decoding,
        attempts=[
            {
                "decoding": a.decoding,
                "valid": a.valid,
                "errors": issues_json(a.errors),
                "finish_reason": a.finish_reason,
            }
            for a in result.attempts
        ],
        latency_ms=round(result.latency_ms, 1),
        usage={
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "total_tokens": result.usage.prompt_tokens + result.usage.completion_tokens,
        },
    )
