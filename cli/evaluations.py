"""`formwright evaluations ...`: score the active adapter without training; its figures over
time, with drift warnings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from cli.output import JsonOpt, VersionOpt, api, print_json, say, table, when

app = typer.Typer(
    help="Eval-only runs: score the active adapter on the pinned set or recent traffic.",
    no_args_is_help=True,
)


def percent(figures: dict[str, Any] | None, key: str = "field_accuracy") -> str:
    return f"{figures[key]:.1%}" if figures and figures.get(key) is not None else ""


@app.command("run")
def evaluations_run(
    name: str,
    version: VersionOpt = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Score on accepted traffic since this time (UTC), not the pinned set."),
    ] = None,
    base: Annotated[bool, typer.Option("--base", help="Score the base model too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Score the active adapter now (no training); warns when it fell past the team's margin."""
    body: dict[str, Any] = {"base": base}
    if version is not None:
        body["version"] = version
    if since is not None:
        stamp = since if since.tzinfo else since.replace(tzinfo=datetime.now().astimezone().tzinfo)
        body.update({"set": "traffic", "since": stamp.isoformat()})
    with api(as_json=as_json) as client:
        run = client.run_evaluation(name, body)
    if as_json:
        print_json(run)
        return
    results = run["results"]
    say(
        f"{name} version {run['version']}, {run['n']} {run['eval_set']} examples: served field "
        f"accuracy {percent(results.get('adapter_served')) or '-'}"
        + (f", base model {percent(results['base'])}" if "base" in results else "")
    )
    if run.get("warning"):
        say(f"warning: {run['warning']}", style="bold yellow")


@app.command("list")
def evaluations_list(name: str, version: VersionOpt = None, as_json: JsonOpt = False) -> None:
    """A schema's evaluation runs, newest first."""
    with api(as_json=as_json) as client:
        runs = client.list_evaluations(name, version=version)
    if as_json:
        print_json(runs)
        return
    rows = [
        [r["id"], r["version"], when(r["created_at"]), r["eval_set"], r["n"],
         r.get("adapter_id") or "", percent(r["results"].get("adapter_served")),
         percent(r["results"].get("base")),
         f"{r['drop']:+.3f}" if r.get("drop") is not None else "",
         "DRIFT" if r.get("warning") else ""]
        for r in runs
    ]  # fmt: skip
    columns = ["id", "version", "when", "set", "n", "adapter", "served", "base", "drop", ""]
    table(None, columns, rows)
