"""`boothcloud photos list` and `boothcloud printers list` on a real database file."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from typer.testing import CliRunner

from boothcloud.cli import app as cli
from tests.photos.helpers import add_photo, add_printer


async def test_list_commands(
    client: httpx.AsyncClient, booth: dict[str, str], customer: dict[str, Any], cli_env: None
) -> None:
    printer = await add_printer(client, booth, "Lobby")
    photo = await add_photo(client, booth, printer_id=printer["id"])
    runner = CliRunner()  # in a thread: the CLI runs its own event loop
    photos = await asyncio.to_thread(
        runner.invoke, cli, ["photos", "list", "--customer-id", customer["id"]]
    )
    assert photos.exit_code == 0, photos.output
    assert photo["id"][:8] in photos.output
    printers = await asyncio.to_thread(runner.invoke, cli, ["printers", "list"])
    assert printers.exit_code == 0, printers.output
    assert "Lobby" in printers.output
    bad = await asyncio.to_thread(runner.invoke, cli, ["photos", "list", "--status", "lost"])
    assert bad.exit_code == 2
