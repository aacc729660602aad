"""`formwright generate`: answer an input with JSON that validates against a schema."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cli.output import (
    VersionOpt,
    api,
    print_json,
    say,
)

if TYPE_CHECKING:
    pass


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
