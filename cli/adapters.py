"""`formwright adapters ...`: list, promote and roll back trained adapters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from cli.output import (
    JsonOpt,
    api,
    print_json,
    say,
    table,
    when,
)

if TYPE_CHECKING:
    pass

app = typer.Typer(help="Trained adapters: list, promote, roll back.", no_args_is_help=True)


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
