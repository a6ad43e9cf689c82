"""`boothcloud devices dead | stopped-printers`: what the operator's API lists, as a CLI."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from typer.testing import CliRunner

from boothcloud.cli import app as cli
from boothcloud.deps import Services
from tests.conftest import ADMIN
from tests.licenses.test_heartbeat import STOPPED, beat, booth_device, silence


async def _invoke(args: list[str]) -> Any:
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


async def test_the_cli_lists_what_the_api_lists(
    client: httpx.AsyncClient, services: Services, cli_env: None
) -> None:
    _, auth, activation = await booth_device(client)
    await beat(client, auth, activation["id"], printers=[STOPPED])
    await silence(services.db, activation["id"], 3600)
    for args, path in (
        (["devices", "dead"], "/api/licenses/dead-devices"),
        (["devices", "stopped-printers"], "/api/licenses/stopped-printers"),
    ):
        printed = json.loads(await _invoke([*args, "--json"]))
        assert printed == (await client.get(path, headers=ADMIN)).json()
        assert activation["id"] in await _invoke(args)
