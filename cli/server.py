"""`formwright serve` and `formwright worker`: run the API (with an embedded worker) and workers."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.config import get_settings


def default_team_key(key_file: Path, *, secret: bytes) -> str | None:
    """Team `default` and its key, made on first start; the key is kept (0600) in `key_file`.

    Returns the key only when it was made now: a key on screen at every start ends up in
    scrollback and logs."""
    from service.db import session_scope
    from service.teams.service import create_team, get_team_by_name, issue_key

    with session_scope() as session:
        team = get_team_by_name(session, name="default")
        if team is not None and key_file.exists():
            return None
        key = (
            issue_key(session, team=team, secret=secret)[1]
            if team
            else create_team(session, name="default", secret=secret)[1]
        )
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


# How long a stop waits for open requests and for the embedded worker's running stage.
STOP_GRACE_S = 5


def _die_with_parent() -> None:
    """In the embedded worker (Linux): SIGTERM, a warm shutdown, when `serve` dies — even by
    SIGKILL, which skips the `finally` that stops it; otherwise every restart adds a worker."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the worker outlives a killed `serve`; the job lease keeps jobs safe


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[bool, typer.Option(help="Run one embedded worker beside the API.")] = True,
) -> None:
    """Migrate, then serve the API (and, by default, one embedded worker)."""
    import uvicorn

    from service.migrate import upgrade
    from service.teams.service import key_secret

    settings = get_settings()
    settings.private_data_dir()
    upgrade(settings.resolved_database_url)
    key_file = settings.data_dir / "default-team.key"
    key = default_team_key(key_file, secret=key_secret(settings))
    base = f"http://{host}:{port}"
    typer.echo(f"Formwright on {base}")
    typer.echo(f"  API docs:   {base}/docs")
    typer.echo(f"  dashboard:  {base}/ui")
    if key:
        typer.echo(f"  team 'default' API key (shown once, kept in {key_file}): {key}")
    else:
        typer.echo(f"  team 'default' API key: in {key_file}")
    child = None
    if worker:
        child = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"], preexec_fn=_die_with_parent
        )
    try:
        # The app believes X-Forwarded-* only from FORMWRIGHT_FORWARDED_ALLOW_IPS (its own
        # middleware), so uvicorn's must not rewrite them first.
        uvicorn.run(
            "service.app:create_app",
            factory=True,
            host=host,
            port=port,
            proxy_headers=False,
            timeout_graceful_shutdown=STOP_GRACE_S,
        )
    finally:
        if child is not None:
            stop_worker(child)


def stop_worker(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM (its running stage checkpoints and hands the job back), then SIGKILL if it is
    still there after STOP_GRACE_S: the job's lease makes even that safe."""
    child.terminate()
    try:
        child.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def worker(
    queues: Annotated[str, typer.Option(help="Queues to consume, comma-separated.")] = "",
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Run a Celery worker (any number, on any machine sharing the DB and artifacts)."""
    from cli.malloc import rerun_with_jemalloc
    from workers.app import run_worker

    settings = get_settings()
    rerun_with_jemalloc(["-m", "cli", *sys.argv[1:]], malloc=settings.malloc)
    settings.private_data_dir()
    run_worker(queues=[q for q in queues.split(",") if q], concurrency=concurrency)
