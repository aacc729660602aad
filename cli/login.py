"""`formwright login`: check an API key against the server and save it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.output import (
    fail,
    say,
)

if TYPE_CHECKING:
    pass


def login(
    url: Annotated[
        str | None, typer.Option(help="Server URL (default: FORMWRIGHT_URL or the saved one).")
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="API key (asked for when not given).", show_default=False)
    ] = None,
) -> None:
    """Check an API key against the server and save it (with the URL) for later commands."""
    from cli.client import DEFAULT_URL, ApiError, Client, read_config, write_config

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
