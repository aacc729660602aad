"""The `formwright` command: one module per noun. The server commands (serve, worker, teams, db)
work on this machine's database; the client commands call a Formwright server over HTTP."""

import typer

from cli import (
    adapters,
    audit,
    db,
    evaluations,
    examples,
    generate,
    jobs,
    login,
    schemas,
    server,
    teams,
)

app = typer.Typer(
    help="Formwright: small language models that answer in your JSON.", no_args_is_help=True
)
app.add_typer(teams.app, name="teams")
app.add_typer(db.app, name="db")
app.command()(login.login)
app.add_typer(schemas.app, name="schemas")
app.add_typer(examples.app, name="examples")
app.command()(jobs.train)
app.add_typer(jobs.app, name="jobs")
app.add_typer(adapters.app, name="adapters")
app.add_typer(evaluations.app, name="evaluations")
app.command()(generate.generate)
app.command()(audit.audit)
app.command()(server.serve)
app.command()(server.worker)
