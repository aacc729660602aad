"""What every client command shares: output (tables, colour only on a terminal, JSON pretty on
a terminal and compact when piped), errors (exit 1 with the server's detail) and the client.

httpx and rich are imported inside the functions so `formwright serve`/`worker` start fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from cli.client import ApiError, Client

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the server's JSON (for scripts).")]
VersionOpt = Annotated[int | None, typer.Option(help="Schema version (default: the latest).")]


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
    """A client from FORMWRIGHT_URL/FORMWRIGHT_API_KEY or the login file; errors exit 1.

    A server still loading its model (503) or busy (429) is waited for, with a message."""
    from cli.client import ApiError, Client

    def waiting(message: str) -> None:
        say(message, style="yellow", stderr=True)

    try:
        client = Client.from_env(on_retry=waiting)
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


def format_seconds(seconds: float | None) -> str:
    """h:mm:ss, or "unknown"."""
    if seconds is None:
        return "unknown"
    whole = max(0, int(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
