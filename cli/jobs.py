"""`formwright train` and `formwright jobs ...`: queue a training job, follow, list, cancel."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli import output
from cli.output import (
    JsonOpt,
    VersionOpt,
    api,
    console,
    format_seconds,
    print_json,
    say,
    short,
    table,
    when,
)
from service.jobs.states import FINAL_STATES

if TYPE_CHECKING:
    from cli.client import Client

app = typer.Typer(help="Training jobs: list, show, follow, cancel.", no_args_is_help=True)
POLL_S = 1.0


def train(
    name: str,
    version: VersionOpt = None,
    epochs: Annotated[float | None, typer.Option(help="Passes over the training set.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps.")] = None,
    lora_rank: Annotated[int | None, typer.Option(help="LoRA rank r.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per step.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    synthesis: Annotated[
        bool, typer.Option(help="Synthesize extra pairs from your examples first.")
    ] = True,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Queue the job and return at once.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the final job as JSON.")] = False,
) -> None:
    """Queue a training job and follow it until it ends (Ctrl-C detaches, the job goes on)."""
    params: dict[str, Any] = {
        "version": version,
        "epochs": epochs,
        "max_steps": max_steps,
        "lora_rank": lora_rank,
        "learning_rate": learning_rate,
        "batch_size": batch_size,
        "seed": seed,
    }
    params = {k: v for k, v in params.items() if v is not None}
    if not synthesis:
        params["synthesis"] = {"enabled": False}
    with api(as_json=as_json) as client:
        job = client.create_job(name, params)
        if not as_json:
            say(f"queued job {job['id']} for {job['name']} version {job['version']}")
        if detach:
            if as_json:
                print_json(job)
            else:
                say(f"follow it with: formwright jobs show {job['id']} --follow")
            return
        follow(client, job["id"], as_json=as_json)


def follow(client: Client, job_id: int, *, as_json: bool = False) -> None:
    """Poll the job with a live progress bar (a line per change when piped) until it ends."""
    try:
        job = watch(client, job_id, quiet=as_json)
    except KeyboardInterrupt:
        say(
            f"\ndetached; job {job_id} keeps running. "
            f"Follow it again with: formwright jobs show {job_id} --follow",
            stderr=True,
        )
        raise typer.Exit(0) from None
    if as_json:
        print_json(job)
    else:
        show_outcome(job)
    if job["state"] != "succeeded":
        raise typer.Exit(1)


def progress_fields(job: dict[str, Any]) -> dict[str, Any]:
    steps = f"step {job['step']}/{job['total_steps']}" if job.get("total_steps") else ""
    loss = f"loss {job['loss']:.4f}" if job.get("loss") is not None else ""
    tps = f"{job['tokens_per_s']:.0f} tok/s" if job.get("tokens_per_s") else ""
    eta = f"ETA {format_seconds(job['eta_s'])}" if job.get("eta_s") is not None else ""
    return {"stage": f"{job['state']}: {job['stage']}", "steps": steps, "loss": loss,
            "tps": tps, "eta": eta}  # fmt: skip


def watch(client: Client, job_id: int, *, quiet: bool = False) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    job = client.get_job(job_id)
    seen_events = 0
    live = output.is_tty() and not quiet
    columns = [TextColumn("{task.fields[stage]:<22}"), BarColumn(), TaskProgressColumn()]
    columns += [TextColumn(f"{{task.fields[{k}]}}") for k in ("steps", "loss", "tps", "eta")]
    with Progress(*columns, console=console(), disable=not live, transient=False) as bar:
        task = bar.add_task("train", total=100, **progress_fields(job))
        last_line, last_time = "", 0.0
        while True:
            for event in (job.get("events") or [])[seen_events:]:
                if not quiet:
                    bar.console.print(
                        f"{when(event.get('created_at'))}  {event['kind']}: {event['message']}",
                        markup=False,
                        highlight=False,
                    )
            seen_events = len(job.get("events") or [])
            fields = progress_fields(job)
            bar.update(task, completed=100 * float(job.get("progress") or 0), **fields)
            line = "  ".join(v for v in fields.values() if v)
            if not live and not quiet and line != last_line and time.monotonic() - last_time > 5:
                say(f"{100 * float(job.get('progress') or 0):5.1f}%  {line}")
                last_line, last_time = line, time.monotonic()
            if job["state"] in FINAL_STATES:
                return job
            time.sleep(POLL_S)
            job = client.get_job(job_id)


def show_outcome(job: dict[str, Any]) -> None:
    state = job["state"]
    if state == "succeeded":
        adapter = f"; adapter {job['adapter_id']}" if job.get("adapter_id") else ""
        say(f"job {job['id']} succeeded{adapter}", style="bold green")
        if job.get("metrics"):
            metrics_table(job["metrics"])
    elif state == "failed":
        say(f"job {job['id']} failed: {job.get('error') or 'no detail'}", style="bold red")
    else:
        say(f"job {job['id']} {state}", style="yellow")


def pct(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return short(value, 30)
    if isinstance(value, float) and 0.0 <= value <= 1.0:
        return f"{value:.1%}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def flatten_metrics(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"field_accuracy": {"overall": x, "per_path": {"/a": y}}} -> rows "field_accuracy",
    "field_accuracy /a"; any other nesting joins keys with dots."""
    rows: dict[str, Any] = {}
    for key, value in values.items():
        label = (
            prefix
            if key in ("overall", "per_path") and prefix
            else (f"{prefix}.{key}" if prefix else key)
        )
        if key == "per_path" and isinstance(value, dict):
            rows.update({f"{prefix} {path}": v for path, v in value.items()})
        elif isinstance(value, dict):
            rows.update(flatten_metrics(value, label))
        elif not isinstance(value, list):
            rows[label] = value
    return rows


def metrics_table(metrics: dict[str, Any]) -> None:
    """Evaluation per variant (base, adapter...) side by side; tolerant of the exact keys."""
    variants = {k: flatten_metrics(v) for k, v in metrics.items() if isinstance(v, dict)}
    scalars = {k: v for k, v in metrics.items() if not isinstance(v, dict | list)}
    if variants:
        names: list[str] = []
        for flat in variants.values():
            names += [n for n in flat if n not in names]
        table(
            "evaluation on held-out examples",
            ["metric", *(v.replace("_", " ") for v in variants)],
            [[n, *(pct(flat[n]) if n in flat else "" for flat in variants.values())]
             for n in names],
        )  # fmt: skip
    for key, value in scalars.items():
        say(f"{key.replace('_', ' ')}: {pct(value)}")


# --- jobs ------------------------------------------------------------------------------------


@app.command("list")
def jobs_list(
    name: str,
    state: Annotated[str | None, typer.Option(help="Only jobs in this state.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """A schema's training jobs, newest first."""
    with api(as_json=as_json) as client:
        jobs = client.list_jobs(name, state=state)
    if as_json:
        print_json(jobs)
        return
    rows = [
        [j["id"], j["version"], j["state"], j["stage"], f"{100 * (j['progress'] or 0):.0f}%",
         pct(j["loss"]) if j.get("loss") is not None else "", j.get("adapter_id") or "",
         when(j.get("created_at"))]
        for j in jobs
    ]  # fmt: skip
    table(None, ["id", "version", "state", "stage", "progress", "loss", "adapter", "created"], rows)


@app.command("show")
def jobs_show(
    job_id: int,
    follow_job: Annotated[
        bool, typer.Option("--follow", "-f", help="Follow it until it ends.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """One job: state, progress, events and evaluation."""
    with api(as_json=as_json) as client:
        if follow_job:
            follow(client, job_id, as_json=as_json)
            return
        job = client.get_job(job_id)
    if as_json:
        print_json(job)
        return
    fields = progress_fields(job)
    say(f"job {job['id']}: {job['name']} version {job['version']}", style="bold")
    say(f"{100 * float(job['progress'] or 0):.0f}%  " + "  ".join(v for v in fields.values() if v))
    for event in job.get("events") or []:
        say(f"{when(event.get('created_at'))}  {event['kind']}: {event['message']}")
    if job["state"] in FINAL_STATES:
        show_outcome(job)


@app.command("cancel")
def jobs_cancel(job_id: int) -> None:
    """Cancel a job (a running one stops at its next step and keeps its last checkpoint)."""
    with api() as client:
        job = client.cancel_job(job_id)
    say(f"job {job['id']}: {'cancelled' if job['state'] == 'cancelled' else 'cancel requested'}")


# --- adapters --------------------------------------------------------------------------------
