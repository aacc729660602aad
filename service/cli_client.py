"""The `formwright` client commands: thin wrappers over `service.client.Client`.

Output rules: tables for lists, colour only on a terminal, JSON pretty on a terminal and compact
when piped, `--json` on every read command, exit 1 with the server's detail on any error.
httpx and rich are imported inside the commands so `formwright serve`/`worker` start fast.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from service.client import ApiError, Client

schemas_app = typer.Typer(help="Register, inspect and evolve JSON Schemas.", no_args_is_help=True)
examples_app = typer.Typer(help="Add, import and export example pairs.", no_args_is_help=True)
jobs_app = typer.Typer(help="Training jobs: list, show, follow, cancel.", no_args_is_help=True)
adapters_app = typer.Typer(help="Trained adapters: list, promote, roll back.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the server's JSON (for scripts).")]
VersionOpt = Annotated[int | None, typer.Option(help="Schema version (default: the latest).")]
POLL_S = 1.0
FINAL_STATES = ("succeeded", "failed", "cancelled")


# --- output -----------------------------------------------------------------------------------


def is_tty() -> bool:
    return sys.stdout.isatty()


def console(*, stderr: bool = False) -> Console:
    """Rich decides colour from the stream (and NO_COLOR); piped output gets wide, plain lines."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", "160"))
    return Console(file=stream, width=width, highlight=False, soft_wrap=not stream.isatty())


def say(message: str, *, style: str | None = None, stderr: bool = False) -> None:
    console(stderr=stderr).print(message, style=style, markup=False, highlight=False)


def dumps_json(data: Any, *, pretty: bool) -> str:
    if pretty:
        return json.dumps(data, indent=2, ensure_ascii=False)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def print_json(data: Any) -> None:
    """Pretty and highlighted on a terminal; one compact line when piped."""
    if is_tty():
        console().print_json(data=data, ensure_ascii=False)
    else:
        sys.stdout.write(dumps_json(data, pretty=False) + "\n")
        sys.stdout.flush()


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*["" if cell is None else str(cell) for cell in row])
    console().print(grid)


def when(value: str | None) -> str:
    return (value or "")[:19].replace("T", " ")


def short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else dumps_json(value, pretty=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def error_location(error: dict[str, Any], lines: list[int] | None = None) -> str:
    parts = []
    if "index" in error:
        index = int(error["index"])
        parts.append(f"row {index + 1}")
        line = error.get("line") or (lines[index] if lines and index < len(lines) else None)
        if line:
            parts.append(f"line {line}")
    if error.get("path"):
        parts.append(str(error["path"]))
    return " ".join(parts) or "(root)"


def fail(exc: ApiError, *, as_json: bool = False, lines: list[int] | None = None) -> None:
    """Print the server's detail (and its itemized errors) on stderr and exit 1."""
    if as_json:
        print_json(exc.body())
    say(f"error: {exc.detail}", style="bold red", stderr=True)
    ordered = sorted(exc.errors, key=lambda e: (e.get("index", -1), str(e.get("path", ""))))
    shown = ordered[:25]
    for error in shown:
        message = error.get("message", "")
        say(f"  {error_location(error, lines)}: {message}", stderr=True)
        if "raw" in error:
            say(f"  raw output: {short(error['raw'], 400)}", stderr=True)
    if len(exc.errors) > len(shown):
        say(f"  ... and {len(exc.errors) - len(shown)} more", stderr=True)
    raise typer.Exit(1)


@contextmanager
def api(*, as_json: bool = False, lines: list[int] | None = None) -> Iterator[Client]:
    """A client from FORMWRIGHT_URL/FORMWRIGHT_API_KEY or the login file; errors exit 1."""
    from service.client import ApiError, Client

    try:
        client = Client.from_env()
    except ApiError as exc:
        fail(exc, as_json=as_json)
    try:
        yield client
    except ApiError as exc:
        fail(exc, as_json=as_json, lines=lines)
    finally:
        client.close()


def read_json_file(path: Path) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
        return json.loads(text)
    except OSError as exc:
        say(f"error: cannot read {path}: {exc.strerror}", style="bold red", stderr=True)
    except ValueError as exc:
        say(f"error: {path} is not valid JSON: {exc}", style="bold red", stderr=True)
    raise typer.Exit(1)


# --- login -----------------------------------------------------------------------------------


def login(
    url: Annotated[
        str | None, typer.Option(help="Server URL (default: FORMWRIGHT_URL or the saved one).")
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="API key (asked for when not given).", show_default=False)
    ] = None,
) -> None:
    """Check an API key against the server and save it (with the URL) for later commands."""
    from service.client import DEFAULT_URL, ApiError, Client, read_config, write_config

    stored = read_config()
    url = url or os.environ.get("FORMWRIGHT_URL") or stored.get("url") or DEFAULT_URL
    if not key:
        key = typer.prompt("API key", hide_input=True).strip()
    with Client(url, key) as client:
        try:
            client.request("GET", "/v1/schemas", params={"limit": 1})
        except ApiError as exc:
            fail(exc)
    path = write_config({**stored, "url": url, "api_key": key})
    home = Path.home()
    shown = f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)
    say(f"logged in to {url}; key saved in {shown} (readable by you only)")


# --- schemas ---------------------------------------------------------------------------------


@schemas_app.command("register")
def schemas_register(
    file: Annotated[Path, typer.Argument(help="A JSON Schema file ('-' for stdin).")],
    name: Annotated[
        str | None, typer.Option(help="Schema name (default: the file name without .json).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the schema is for.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a schema version (the same content again returns the existing version)."""
    schema = read_json_file(file)
    name = name or file.name.removesuffix(".json").removesuffix(".schema")
    with api(as_json=as_json) as client:
        found = client.register_schema(name, schema, description=description)
    if as_json:
        print_json(found)
        return
    say(f"registered {found['name']} version {found['version']} (id {found['id']})")
    for line in capability_lines(found.get("capabilities") or {}):
        say("  " + line)


def capability_lines(capabilities: dict[str, Any]) -> list[str]:
    """The keyword report in a line per kind: which keywords decoding enforces, which are
    only checked after generation, which are refused (annotations are left out)."""
    labels = {
        "enforced": "enforced while decoding",
        "validated_after": "checked after generation",
        "refused": "refused",
    }
    lines = []
    for kind, label in labels.items():
        entries = capabilities.get(kind) or []
        keywords = sorted({e["keyword"] if isinstance(e, dict) else str(e) for e in entries})
        if keywords:
            lines.append(f"{label}: {', '.join(keywords)}")
    return lines


@schemas_app.command("list")
def schemas_list(as_json: JsonOpt = False) -> None:
    """The team's schemas."""
    with api(as_json=as_json) as client:
        subjects = client.list_schemas()
    if as_json:
        print_json(subjects)
        return
    rows = [
        [s["name"], s.get("latest_version"), s.get("versions"), s.get("compatibility"),
         when(s.get("created_at"))]
        for s in subjects
    ]  # fmt: skip
    table(None, ["name", "latest", "versions", "compatibility", "created"], rows)


@schemas_app.command("show")
def schemas_show(name: str, version: VersionOpt = None, as_json: JsonOpt = False) -> None:
    """One schema version: its JSON Schema, id, fingerprint and keyword report."""
    with api(as_json=as_json) as client:
        found = client.get_version(name, version or "latest")
        subject = client.get_schema(name)
    if as_json:
        print_json(found)
        return
    say(
        f"{found['name']} version {found['version']} of {subject.get('versions')} "
        f"(id {found['id']}, compatibility {subject.get('compatibility')}, "
        f"created {when(found.get('created_at'))})",
        style="bold",
    )
    say(f"fingerprint {found['fingerprint']}")
    if found.get("description"):
        say(found["description"])
    for line in capability_lines(found.get("capabilities") or {}):
        say(line)
    print_json(found["schema"])


@schemas_app.command("diff")
def schemas_diff(name: str, v1: int, v2: int, as_json: JsonOpt = False) -> None:
    """What changed between two versions, path by path."""
    with api(as_json=as_json) as client:
        old = client.get_version(name, v1)["schema"]
        new = client.get_version(name, v2)["schema"]
    changes = structural_diff(old, new)
    if as_json:
        print_json(changes)
        return
    from rich.text import Text

    out = console()
    out.print(Text(f"--- {name} version {v1}\n+++ {name} version {v2}", style="bold"))
    if not changes:
        out.print("no differences")
    styles = {"+": "green", "-": "red", "~": "yellow"}
    for change in changes:
        op, path = change["op"], change["path"] or "/"
        if op == "~":
            body = f"{short(change['old'], 200)} -> {short(change['new'], 200)}"
        else:
            body = short(change["new" if op == "+" else "old"], 200)
        out.print(Text(f"{op} {path}: {body}", style=styles[op]))


def _pointer(path: str, key: str | int) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def structural_diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Changes from `old` to `new` as {op: + - ~, path, old?, new?}; lists of plain values
    (required, enum, type) compare as sets, other lists item by item."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[dict[str, Any]] = []
        for key in [*old, *(k for k in new if k not in old)]:
            at = _pointer(path, key)
            if key not in new:
                changes.append({"op": "-", "path": at, "old": old[key]})
            elif key not in old:
                changes.append({"op": "+", "path": at, "new": new[key]})
            else:
                changes.extend(structural_diff(old[key], new[key], at))
        return changes
    if isinstance(old, list) and isinstance(new, list) and old != new:
        plain = all(not isinstance(v, dict | list) for v in [*old, *new])
        if plain:
            removed = [{"op": "-", "path": path, "old": v} for v in old if v not in new]
            return removed + [{"op": "+", "path": path, "new": v} for v in new if v not in old]
        changes = []
        for index in range(max(len(old), len(new))):
            at = _pointer(path, index)
            if index >= len(new):
                changes.append({"op": "-", "path": at, "old": old[index]})
            elif index >= len(old):
                changes.append({"op": "+", "path": at, "new": new[index]})
            else:
                changes.extend(structural_diff(old[index], new[index], at))
        return changes
    if old != new or type(old) is not type(new):
        return [{"op": "~", "path": path, "old": old, "new": new}]
    return []


@schemas_app.command("check")
def schemas_check(
    name: str,
    file: Annotated[Path, typer.Argument(help="The candidate JSON Schema file ('-' for stdin).")],
    compatibility: Annotated[
        str | None, typer.Option(help="Check under this mode instead of the schema's own.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Would this schema be accepted as the next version? Exit 1 when it would not."""
    schema = read_json_file(file)
    with api(as_json=as_json) as client:
        result = client.check_compatibility(name, schema, compatibility=compatibility)
    if as_json:
        print_json(result)
    elif result["compatible"]:
        say(f"compatible: {file} can be registered as the next version of {name} "
            f"({result['compatibility']})", style="green")  # fmt: skip
    else:
        say(f"not compatible with {name} ({result['compatibility']}):", style="bold red")
        for error in result.get("errors") or []:
            where = f"version {error['version']} " if "version" in error else ""
            say(f"  {where}{error.get('path') or '/'}: {error.get('message', '')}")
    if not result["compatible"]:
        raise typer.Exit(1)


# --- examples --------------------------------------------------------------------------------


@examples_app.command("add")
def examples_add(
    name: str,
    input: Annotated[str, typer.Option("--input", help="The input text.")],
    output: Annotated[
        str | None,
        typer.Option("--output", help="The expected JSON (omit for an unlabeled input)."),
    ] = None,
    version: VersionOpt = None,
) -> None:
    """Add one example pair (or one unlabeled input)."""
    row: dict[str, Any] = {"input": input}
    if output is not None:
        try:
            row["output"] = json.loads(output)
        except ValueError as exc:
            say(f"error: --output is not valid JSON: {exc}", style="bold red", stderr=True)
            raise typer.Exit(1) from exc
    with api() as client:
        result = client.add_examples(name, [row], version=version)
    what = "duplicate, not added" if result["duplicates"] else f"id {result['ids'][0]}"
    say(f"added to {result['name']} version {result['version']} ({what})")


@examples_app.command("import")
def examples_import(
    name: str,
    file: Annotated[Path, typer.Argument(help="JSONL, one {input, output} per line ('-': stdin).")],
    version: VersionOpt = None,
) -> None:
    """Import a JSONL file: all rows or none; every bad row is listed with its line."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
    except OSError as exc:
        say(f"error: cannot read {file}: {exc.strerror}", style="bold red", stderr=True)
        raise typer.Exit(1) from exc
    # The server numbers rows without blank lines; map them back to the file's lines.
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    with api(lines=lines) as client:
        result = client.import_examples(name, text, version=version)
    say(
        f"imported {result['added']} examples into {result['name']} version {result['version']}"
        f" ({result['duplicates']} duplicates skipped)"
    )


@examples_app.command("list")
def examples_list(
    name: str,
    version: VersionOpt = None,
    labeled: Annotated[
        bool | None, typer.Option("--labeled/--unlabeled", help="Only one kind.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A schema's examples, oldest first."""
    with api(as_json=as_json) as client:
        rows = list(client.list_examples(name, version=version, labeled=labeled))
    if as_json:
        print_json(rows)
        return
    table(
        f"{name}: {len(rows)} examples",
        ["id", "source", "input", "output"],
        [[r["id"], r["source"], short(r["input"], 50),
          short(r["output"], 60) if r["labeled"] else "(unlabeled)"] for r in rows],
    )  # fmt: skip


@examples_app.command("export")
def examples_export(
    name: str,
    version: VersionOpt = None,
    labeled: Annotated[
        bool | None, typer.Option("--labeled/--unlabeled", help="Only one kind.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON list instead of JSONL.")
    ] = False,
) -> None:
    """Print a schema's examples as JSONL (what `examples import` reads)."""
    with api(as_json=as_json) as client:
        rows = [
            {"input": r["input"], **({"output": r["output"]} if r["labeled"] else {})}
            for r in client.list_examples(name, version=version, labeled=labeled)
        ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        sys.stdout.write(dumps_json(row, pretty=False) + "\n")


# --- training --------------------------------------------------------------------------------


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


def progress_fields(job: dict[str, Any]) -> dict[str, str]:
    steps = f"step {job['step']}/{job['total_steps']}" if job.get("total_steps") else ""
    loss = f"loss {job['loss']:.4f}" if job.get("loss") is not None else ""
    tps = f"{job['tokens_per_s']:.0f} tok/s" if job.get("tokens_per_s") else ""
    eta = f"ETA {format_seconds(job['eta_s'])}" if job.get("eta_s") is not None else ""
    return {"stage": f"{job['state']}: {job['stage']}", "steps": steps, "loss": loss,
            "tps": tps, "eta": eta}  # fmt: skip


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def watch(client: Client, job_id: int, *, quiet: bool = False) -> dict[str, Any]:
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    job = client.get_job(job_id)
    seen_events = 0
    live = is_tty() and not quiet
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


@jobs_app.command("list")
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


@jobs_app.command("show")
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


@jobs_app.command("cancel")
def jobs_cancel(job_id: int) -> None:
    """Cancel a job (a running one stops at its next step and keeps its last checkpoint)."""
    with api() as client:
        job = client.cancel_job(job_id)
    say(f"job {job['id']}: {'cancelled' if job['state'] == 'cancelled' else 'cancel requested'}")


# --- adapters --------------------------------------------------------------------------------


@adapters_app.command("list")
def adapters_list(name: str, as_json: JsonOpt = False) -> None:
    """A schema's adapters, newest first; the active one serves requests."""
    with api(as_json=as_json) as client:
        adapters = client.list_adapters(name)
    if as_json:
        print_json(adapters)
        return
    rows = [
        [a["id"], a["version"], "yes" if a["active"] else "", a.get("job_id") or "",
         when(a.get("promoted_at")), when(a.get("created_at"))]
        for a in adapters
    ]  # fmt: skip
    table(None, ["id", "version", "active", "job", "promoted", "created"], rows)


@adapters_app.command("promote")
def adapters_promote(adapter_id: int) -> None:
    """Serve this adapter for its schema version."""
    with api() as client:
        adapter = client.adapter_action(adapter_id, "promote")
    say(f"adapter {adapter['id']} now serves {adapter['name']} version {adapter['version']}")


@adapters_app.command("rollback")
def adapters_rollback(adapter_id: int) -> None:
    """Stop serving this adapter; the one it replaced (or the base model) serves again."""
    with api() as client:
        adapter = client.adapter_action(adapter_id, "rollback")
    say(f"adapter {adapter['id']} rolled back for {adapter['name']} version {adapter['version']}")


# --- generate --------------------------------------------------------------------------------


def generate(
    name: str,
    input: Annotated[
        str | None, typer.Argument(help="The input text; '-' or nothing reads stdin.")
    ] = None,
    version: VersionOpt = None,
    mode: Annotated[
        str | None, typer.Option(help="auto (default), constrained or unconstrained.")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Cap on generated tokens.")] = None,
    temperature: Annotated[float | None, typer.Option(help="0 is greedy (the default).")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The full response: output, validity, decoding, usage.")
    ] = False,
) -> None:
    """Answer INPUT with JSON that validates against the schema NAME."""
    if input is None or input == "-":
        if input is None and sys.stdin.isatty():
            say("error: give the input text, or '-' to read it from stdin", stderr=True)
            raise typer.Exit(2)
        input = sys.stdin.read()
    with api(as_json=as_json) as client:
        result = client.generate(
            name, input, version=version, mode=mode, max_tokens=max_tokens,
            temperature=temperature, seed=seed,
        )  # fmt: skip
    print_json(result if as_json else result["output"])
    if not result.get("valid", True):
        say("error: the output does not validate against the schema", style="red", stderr=True)
        for error in result.get("errors") or []:
            say(f"  {error.get('path') or '/'}: {error.get('message', '')}", stderr=True)
        raise typer.Exit(1)
