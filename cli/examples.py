"""`formwright examples ...`: add, import, list and export example pairs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.output import (
    JsonOpt,
    VersionOpt,
    api,
    dumps_json,
    print_json,
    say,
    short,
    table,
)

if TYPE_CHECKING:
    pass

app = typer.Typer(
    help="Add, import, export example pairs; carry them to a new schema version.",
    no_args_is_help=True,
)
EvalOpt = Annotated[
    bool,
    typer.Option(
        "--eval",
        help="Pin to the evaluation set: never trained on, scored by every job (with pinned "
        "examples nothing else is held out).",
    ),
]


def pinned(line: str) -> str:
    """A JSONL line with "eval": true added (a line that is not an object is left to the
    server to report, with its line number)."""
    try:
        row = json.loads(line)
    except ValueError:
        return line
    return json.dumps({**row, "eval": True}, ensure_ascii=False) if isinstance(row, dict) else line


@app.command("add")
def examples_add(
    name: str,
    input: Annotated[str, typer.Option("--input", help="The input text.")],
    output: Annotated[
        str | None,
        typer.Option("--output", help="The expected JSON (omit for an unlabeled input)."),
    ] = None,
    version: VersionOpt = None,
    pin: EvalOpt = False,
) -> None:
    """Add one example pair (or one unlabeled input)."""
    row: dict[str, Any] = {"input": input, **({"eval": True} if pin else {})}
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


@app.command("import")
def examples_import(
    name: str,
    file: Annotated[Path, typer.Argument(help="JSONL, one {input, output} per line ('-': stdin).")],
    version: VersionOpt = None,
    pin: EvalOpt = False,
) -> None:
    """Import a JSONL file: all rows or none; every bad row is listed with its line."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
    except OSError as exc:
        say(f"error: cannot read {file}: {exc.strerror}", style="bold red", stderr=True)
        raise typer.Exit(1) from exc
    if pin:
        text = "\n".join(pinned(line) if line.strip() else line for line in text.splitlines())
    # The server numbers rows without blank lines; map them back to the file's lines.
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    with api(lines=lines) as client:
        result = client.import_examples(name, text, version=version)
    say(
        f"imported {result['added']} examples into {result['name']} version {result['version']}"
        f" ({result['duplicates']} duplicates skipped)"
    )


@app.command("list")
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


@app.command("export")
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
            {
                "input": r["input"],
                **({"output": r["output"]} if r["labeled"] else {}),
                **({"eval": True} if r.get("eval") else {}),
            }
            for r in client.list_examples(name, version=version, labeled=labeled)
        ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        sys.stdout.write(dumps_json(row, pretty=False) + "\n")


@app.command("carry")
def examples_carry(
    name: str,
    source: Annotated[int, typer.Option("--from", help="The version to carry examples from.")],
    target: Annotated[
        int | None, typer.Option("--to", help="The version to carry them to (default: latest).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy the examples of one version that validate against another; list those that do not,
    with the path and the reason. Running it again adds nothing twice."""
    with api(as_json=as_json) as client:
        result = client.carry_examples(name, source=source, target=target)
    if as_json:
        print_json(result)
        return
    say(
        f"carried {result['carried']} of {result['examined']} examples from {name} version "
        f"{result['from_version']} to version {result['to_version']} "
        f"({result['already_present']} already there, {result['rejected']} do not validate)"
    )
    if result["errors"]:
        table(
            "not carried",
            ["example", "path", "reason"],
            [[e["example_id"], e["path"] or "(root)", e["message"]] for e in result["errors"]],
        )
