"""`formwright teams ...`: teams and their API keys, straight in the database."""

import typer

app = typer.Typer(help="Teams and their API keys.", no_args_is_help=True)


@app.command("create")
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


@app.command("list")
def teams_list() -> None:
    """List the teams."""
    from service.db import session_scope
    from service.teams.service import list_teams

    with session_scope() as session:
        for team in list_teams(session):
            typer.echo(f"{team.id}\t{team.name}\t{team.created_at:%Y-%m-%d %H:%M}")
