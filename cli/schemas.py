"""`formwright schemas ...`: register, inspect and evolve a team's JSON Schemas."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.output import (
    JsonOpt,
    VersionOpt,
    api,
    console,
    print_json,
    read_json_file,
    say,
    short,
    table,
    when,
)

if TYPE_CHECKING:
    pass

app = typer.Typer(help="Register, inspect and evolve JSON Schemas.", no_args_is_help=True)


@app.command("register")
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


@app.command("list")
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


@app.command("show")
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


@app.command("diff")
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


@app.command("check")
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
