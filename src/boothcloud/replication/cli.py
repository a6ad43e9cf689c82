"""`boothcloud backup replication status`: is Litestream shipping transactions right now?

Exits 0 only when it is (`ok`), so a cron job or monitor can alert on the status alone.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console

from boothcloud.replication.status import replication_status
from boothcloud.settings import get_settings
from boothcloud.timeutil import to_api

app = typer.Typer(no_args_is_help=True, help="Point-in-time recovery with Litestream.")
out = Console(soft_wrap=True)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Litestream's replication state: ok, lagging, down or off."""
    found = asyncio.run(replication_status(get_settings()))
    last = to_api(found.last_sync_at) if found.last_sync_at is not None else None
    if as_json:
        print(json.dumps({"state": found.state, "detail": found.detail, "last_sync_at": last}))
    else:
        out.print(f"replication {found.state}: {found.detail}", highlight=False)
    if found.state != "ok":
        raise typer.Exit(1)
