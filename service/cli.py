"""The `formwright` command: run the server and workers, manage teams and the database; the
client commands (schemas, examples, train, jobs, generate...) live in service/cli_client.py."""

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from service import cli_client
from service.config import get_settings

app = typer.Typer(
    help="Formwright: small language models that answer in your JSON.", no_args_is_help=True
)
teams_app = typer.Typer(help="Teams and their API keys.", no_args_is_help=True)
db_app = typer.Typer(help="The database.", no_args_is_help=True)
app.add_typer(teams_app, name="teams")
app.add_typer(db_app, name="db")

# Client commands: they call a Formwright server over HTTP (service/cli_client.py).
app.command()(cli_client.login)
app.add_typer(cli_client.schemas_app, name="schemas")
app.add_typer(cli_client.examples_app, name="examples")
app.command()(cli_client.train)
app.add_typer(cli_client.jobs_app, name="jobs")
app.add_typer(cli_client.adapters_app, name="adapters")
app.command()(cli_client.generate)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run again)."""
    from service.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    typer.echo("database is up to date")


@teams_app.command("create")
def teams_create(name: str) -> None:
    """Create a team; its API key is printed once, as the last line."""
    from service.db import session_scope
    from service.errors import FormwrightError
    from service.teams.service import create_team

    try:
        with session_scope() as session:
            team, key = create_team(session, name=name)
    except FormwrightError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created team '{team.name}' (id {team.id}); its API key, shown only now:")
    typer.echo(key)


@teams_app.command("list")
def teams_list() -> None:
    """List the teams."""
    from service.db import session_scope
    from service.teams.service import list_teams

    with session_scope() as session:
        for team in list_teams(session):
            typer.echo(f"{team.id}\t{team.name}\t{team.created_at:%Y-%m-%d %H:%M}")


def default_team_key(key_file: Path) -> str:
    """The key of team `default`, created on first start and kept (0600) for the console."""
    from service.db import session_scope
    from service.teams.service import create_team, get_team_by_name, issue_key

    with session_scope() as session:
        team = get_team_by_name(session, name="default")
        if team is not None and key_file.exists():
            return key_file.read_text().strip()
        key = issue_key(session, team=team) if team else create_team(session, name="default")[1]
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def _die_with_parent() -> None:
    """In the embedded worker (Linux): SIGTERM, a warm shutdown, when `serve` dies — even by
    SIGKILL, which skips the `finally` that stops it; otherwise every restart adds a worker."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the worker outlives a killed `serve`; the job lease keeps jobs safe


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    worker: Annotated[bool, typer.Option(help="Run one embedded worker beside the API.")] = True,
) -> None:
    """Migrate, then serve the API (and, by default, one embedded worker)."""
    import subprocess

    import uvicorn

    from service.migrate import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    key = default_team_key(settings.data_dir / "default-team.key")
    base = f"http://{host}:{port}"
    typer.echo(f"Formwright on {base}")
    typer.echo(f"  API docs:   {base}/docs")
    typer.echo(f"  dashboard:  {base}/ui")
    typer.echo(f"  team 'default' API key: {key}")
    child = None
    if worker:
        child = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker"], preexec_fn=_die_with_parent
        )
    try:
        uvicorn.run("service.app:create_app", factory=True, host=host, port=port)
    finally:
        if child is not None:
            child.terminate()
            child.wait(timeout=30)


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="Queues to consume, comma-separated.")] = "",
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Run a Celery worker (any number, on any machine sharing the DB and artifacts)."""
    from workers.app import run_worker

    run_worker(queues=[q for q in queues.split(",") if q], concurrency=concurrency)


if __name__ == "__main__":
    app()
