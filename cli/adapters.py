"""`formwright adapters ...`: list, promote and roll back trained adapters."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import (
    JsonOpt,
    api,
    format_seconds,
    print_json,
    say,
    table,
    when,
)

app = typer.Typer(
    help="Trained adapters: list, promote, roll back, retrain the stale ones.",
    no_args_is_help=True,
)


@app.command("list")
def adapters_list(name: str, as_json: JsonOpt = False) -> None:
    """A schema's adapters, newest first, with their directories; the active one serves."""
    with api(as_json=as_json) as client:
        adapters = client.list_adapters(name)
    if as_json:
        print_json(adapters)
        return
    rows = [
        [a["id"], a["version"], "yes" if a["active"] else "", a.get("base_status", ""),
         a.get("job_id") or "", when(a.get("promoted_at")), when(a.get("created_at")),
         a.get("path", "")]
        for a in adapters
    ]  # fmt: skip
    columns = ["id", "version", "active", "base model", "job", "promoted", "created", "directory"]
    table(None, columns, rows)
    if any(a["active"] and a.get("base_status") == "stale" for a in adapters):
        say(
            "stale: trained for another base model; the base model answers instead. "
            "Retrain with `formwright adapters retrain --all`.",
            style="yellow",
        )


@app.command("promote")
def adapters_promote(adapter_id: int) -> None:
    """Serve this adapter for its schema version."""
    with api() as client:
        adapter = client.adapter_action(adapter_id, "promote")
    say(f"adapter {adapter['id']} now serves {adapter['name']} version {adapter['version']}")


@app.command("rollback")
def adapters_rollback(adapter_id: int) -> None:
    """Stop serving this adapter; the one it replaced (or the base model) serves again."""
    with api() as client:
        adapter = client.adapter_action(adapter_id, "rollback")
    say(f"adapter {adapter['id']} rolled back for {adapter['name']} version {adapter['version']}")


# --- generate --------------------------------------------------------------------------------


@app.command("retrain")
def adapters_retrain(
    name: Annotated[str | None, typer.Argument(help="Only this schema.")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every schema whose active adapter is stale.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be retrained; queue nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Queue a job per schema version whose active adapter was trained for another base model,
    with the data and options of the job that trained it (a version with a job already queued
    or running is not queued twice)."""
    if (name is None) != every:
        say("error: give a schema NAME or --all (not both)", style="bold red", stderr=True)
        raise typer.Exit(2)
    with api(as_json=as_json) as client:
        result = client.retrain(dry_run=dry_run, name=name)
    if as_json:
        print_json(result)
        return
    if not result["data"]:
        say("every active adapter matches the loaded base model: nothing to retrain")
        return
    rows = [
        [r["name"], r["version"], r["adapter_id"], r["outcome"], r.get("job_id") or "",
         format_seconds(r.get("estimated_s")), r.get("detail") or ""]
        for r in result["data"]
    ]  # fmt: skip
    columns = ["schema", "version", "stale adapter", "outcome", "job", "estimated", "detail"]
    table(None, columns, rows)
    verb = "would queue" if result["dry_run"] else "queued"
    say(
        f"{verb} {sum(r['outcome'] in ('queued', 'would_queue') for r in result['data'])} jobs; "
        f"estimated {format_seconds(result.get('estimated_s'))} in all (the old adapters' jobs)"
    )
