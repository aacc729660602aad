"""The FastAPI application: routers, the error family's handler, health and readiness."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from runtime import FairScheduler, ModelRuntime
from service.adapters.router import router as adapters_router
from service.audit.router import router as audit_router
from service.config import Settings, get_settings
from service.db import get_engine
from service.errors import FormwrightError, error_response
from service.evaluations.router import router as evaluations_router
from service.examples.router import router as examples_router
from service.inference.router import router as inference_router
from service.inference.service import Inference
from service.jobs import queue
from service.jobs.router import router as jobs_router
from service.jsonbody import RequestBody
from service.metrics.prom import PrometheusEvents
from service.metrics.router import router as metrics_router
from service.registry.router import router as registry_router
from service.teams.router import router as teams_router
from service.ui.router import router as ui_router

log = logging.getLogger("formwright")


def pointer(loc: tuple[Any, ...]) -> str:
    """FastAPI's error location as a JSON Pointer into the part it names (body, query...)."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc[1:]]
    return "/" + "/".join(parts) if parts else ""


async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"path": pointer(tuple(e["loc"])), "in": str(e["loc"][0]), "message": e["msg"]}
        for e in exc.errors()
    ]
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return error_response(
            FormwrightError(
                "The body is not valid JSON.", status_code=422, code="invalid_json", errors=errors
            )
        )
    detail = "; ".join(f"{e['in']} {e['path'] or '(root)'}: {e['message']}" for e in errors[:3])
    return error_response(
        FormwrightError(
            f"Invalid request: {detail}.", status_code=422, code="invalid_request", errors=errors
        )
    )


async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}
    return JSONResponse(
        {
            "error": codes.get(exc.status_code, "http_error"),
            "detail": str(exc.detail),
            "errors": [],
        },
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
    # A 5xx is a bug: log it in full, tell the caller nothing internal.
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse(
        {"error": "internal_error", "detail": "An internal error occurred.", "errors": []},
        status_code=500,
    )


def make_inference(
    settings: Settings,
    runtime: ModelRuntime | None = None,
    side_runtimes: list[ModelRuntime] | None = None,
) -> Inference:
    def load(spec: str | None) -> ModelRuntime:
        return ModelRuntime(
            model_spec=spec,
            cache_dir=settings.models_cache_dir,
            max_loaded_adapters=settings.max_loaded_adapters,
            max_batch_size=settings.max_batch_size,
            weights=settings.serve_weights,
            events=PrometheusEvents(),
        )

    runtime = runtime or load(settings.base_model)
    if side_runtimes is None:
        side_runtimes = [load(spec) for spec in settings.side_base_models]
    scheduler = FairScheduler(
        capacity=settings.request_queue_size,
        per_team=max(1, int(settings.request_queue_size * settings.team_queue_share)),
        # As many requests in the runtime as fit one batch; the rest wait their team's turn.
        concurrency=settings.max_batch_size,
    )
    return Inference(runtime=runtime, scheduler=scheduler, settings=settings, side=side_runtimes)


def create_app(
    settings: Settings | None = None,
    *,
    db_engine: Engine | None = None,
    runtime: ModelRuntime | None = None,
    side_runtimes: list[ModelRuntime] | None = None,
) -> FastAPI:
    """The app; tests pass their `db_engine`, an already loaded model `runtime` and, for
    several base models side by side, the loaded `side_runtimes`."""
    settings = settings or get_settings()
    inference = make_inference(settings, runtime, side_runtimes)
    queue.use(settings)  # jobs are sent to this app's broker

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.load_model:
            inference.runtime.start()  # in the background: /healthz answers at once
            for side in inference.side:
                side.start()
        yield
        inference.scheduler.close()

    app = FastAPI(
        title="Formwright",
        version="0.1.0",
        description="Small open language models that answer in your JSON.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db_engine = db_engine or get_engine()
    app.state.inference = inference

    app.add_exception_handler(FormwrightError, lambda _r, exc: error_response(exc))
    app.add_exception_handler(RequestValidationError, on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, on_unexpected)
    app.add_middleware(RequestBody, max_bytes=settings.max_body_bytes)
    # Outermost: the scheme and client address a trusted proxy saw (Secure cookies behind TLS).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    app.include_router(registry_router)
    app.include_router(examples_router)
    app.include_router(jobs_router)
    app.include_router(adapters_router)
    app.include_router(evaluations_router)
    app.include_router(inference_router)
    app.include_router(metrics_router)
    app.include_router(ui_router)
    app.include_router(teams_router)
    app.include_router(audit_router)
    return app
