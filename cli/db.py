"""`formwright db ...`: the database."""

import typer

from service.config import get_settings

app = typer.Typer(help="The database.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (safe to run again)."""
    from service.migrate import upgrade

    settings = get_settings()
    settings.private_data_dir()
    upgrade(settings.resolved_database_url)
    typer.echo("database is up to date")
