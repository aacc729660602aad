"""`formwright audit`: the team's audit log, newest first."""

from typing import Annotated

import typer

from cli.output import JsonOpt, api, print_json, table, when


def audit(
    limit: Annotated[int, typer.Option(help="Show this many events.", min=1, max=200)] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many of the newest events.", min=0)] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Who (key prefix, or `cli`) changed what in your team, newest first."""
    with api(as_json=as_json) as client:
        page = client.request("GET", "/v1/audit", params={"offset": offset, "limit": limit})
    if as_json:
        print_json(page)
        return
    rows = [[when(e["created_at"]), e["actor"], e["action"], e["resource"]] for e in page["data"]]
    table(f"{page['count']} events", ["when", "who", "action", "resource"], rows)
