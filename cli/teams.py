"""`formwright teams ...`: teams, their API keys and settings, straight in the database.

These are operator commands: they act as `cli` in the audit log."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

app = typer.Typer(help="Teams and their API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="A team's API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@contextmanager
def database() -> Iterator[Any]:
    """The database session; a refused change, or a database not migrated yet, is an error
    line and exit code 1."""
    from sqlalchemy.exc import DBAPIError

    from service.config import get_settings
    from service.db import session_scope
    from service.errors import FormwrightError

    try:
        with session_scope() as session:
            yield session
    except FormwrightError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    except DBAPIError as exc:
        from service.migrate import is_current

        if is_current(get_settings().resolved_database_url):
            raise
        typer.echo(
            "error: the database is not migrated to this version of Formwright; run "
            "`formwright db upgrade` (or `formwright serve`, which migrates first)",
            err=True,
        )
        raise typer.Exit(1) from exc


def secret() -> bytes:
    from service.config import get_settings
    from service.teams.service import key_secret

    return key_secret(get_settings())


def audited(session: Any, team: Any, action: str, resource: str) -> None:
    from service.audit.service import record

    record(session, team=team, actor="cli", action=action, resource=resource)


@app.command("create")
def teams_create(name: str) -> None:
    """Create a team; its API key is printed once, as the last line."""
    from service.teams.service import create_team

    with database() as session:
        team, key = create_team(session, name=name, secret=secret())
        audited(session, team, "create_team", f"/teams/{team.name}")
    typer.echo(f"created team '{team.name}' (id {team.id}); its API key, shown only now:")
    typer.echo(key)


@app.command("list")
def teams_list() -> None:
    """List the teams."""
    from service.teams.service import list_teams

    with database() as session:
        for team in list_teams(session):
            typer.echo(f"{team.id}\t{team.name}\t{team.created_at:%Y-%m-%d %H:%M}")


@app.command("payloads")
def teams_payloads(
    team: str,
    log: Annotated[bool, typer.Option("--on/--off", help="Store request inputs and outputs.")],
) -> None:
    """Turn the logging of a team's request payloads on or off (the metrics are kept either way)."""
    from service.teams.service import require_team, set_log_payloads

    with database() as session:
        found = set_log_payloads(session, team=require_team(session, name=team), enabled=log)
        audited(session, found, "update_team", f"/teams/{found.name}")
    typer.echo(f"team '{team}': request payloads are {'logged' if log else 'not logged'}")


@keys_app.command("create")
def keys_create(team: str) -> None:
    """A new API key for TEAM; printed once, as the last line."""
    from service.teams.service import issue_key, require_team

    with database() as session:
        found = require_team(session, name=team)
        row, key = issue_key(session, team=found, secret=secret())
        audited(session, found, "create_key", f"/v1/keys/{row.prefix}")
    typer.echo(f"new API key {row.prefix}... for team '{team}', shown only now:")
    typer.echo(key)


@keys_app.command("list")
def keys_list(team: str) -> None:
    """TEAM's keys: prefix, created, last used, revoked."""
    from service.teams.service import list_keys, require_team

    def at(value: Any) -> str:
        return f"{value:%Y-%m-%d %H:%M}" if value else "-"

    with database() as session:
        rows = list_keys(session, team=require_team(session, name=team))
    typer.echo("prefix\tcreated\tlast used\trevoked")
    for key in rows:
        typer.echo(
            f"{key.prefix}\t{at(key.created_at)}\t{at(key.last_used_at)}\t{at(key.revoked_at)}"
        )


@keys_app.command("revoke")
def keys_revoke(prefix: str) -> None:
    """Revoke the key starting with PREFIX: it and its dashboard sessions stop working at once."""
    from service.models import Team
    from service.teams.service import revoke_key

    with database() as session:
        key = revoke_key(session, prefix=prefix)
        team = session.get(Team, key.team_id)
        audited(session, team, "revoke_key", f"/v1/keys/{key.prefix}")
    typer.echo(f"revoked {key.prefix}")
