"""Every list command shows whole ids at any width and answers `--json` like the API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from boothcloud.cli import app as cli
from tests.conftest import ADMIN, create_customer
from tests.photos.helpers import add_photo, add_printer

LISTS = [
    (["customers", "list"], "/api/customers"),
    (["photos", "list"], "/api/photos"),
    (["printers", "list"], "/api/printers"),
    (["payments", "list"], "/api/payments"),
]


async def _invoke(args: list[str], width: int = 200) -> str:
    # In a thread: the CLI runs its own event loop.
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, terminal_width=width)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
async def rows(client: httpx.AsyncClient, cli_env: None) -> dict[str, Any]:
    customer = await create_customer(client, name="A very long studio name " * 3)
    booth = {"Authorization": f"License {customer['license_key']}"}
    printer = await add_printer(client, booth, "Lobby printer with a long name")
    photo = await add_photo(client, booth, printer_id=printer["id"])
    return {"customer": customer, "printer": printer, "photo": photo}


@pytest.mark.parametrize("width", [60, 100, 200])
async def test_ids_are_never_cut(rows: dict[str, Any], width: int) -> None:
    customers = await _invoke(["customers", "list"], width)
    assert rows["customer"]["id"] in customers
    photos = await _invoke(["photos", "list"], width)
    assert rows["photo"]["id"] in photos
    assert rows["customer"]["id"] in photos
    printers = await _invoke(["printers", "list"], width)
    assert rows["printer"]["id"] in printers


@pytest.mark.parametrize(("args", "path"), LISTS)
async def test_json_matches_the_api(
    client: httpx.AsyncClient, rows: dict[str, Any], args: list[str], path: str
) -> None:
    printed = json.loads(await _invoke([*args, "--json"]))
    query = {"customer_id": rows["customer"]["id"]} if path == "/api/printers" else {}
    api = (await client.get(path, params=query, headers=ADMIN)).json()
    assert printed == api


async def test_cursor_pages_through(client: httpx.AsyncClient, cli_env: None) -> None:
    made = [await create_customer(client) for _ in range(3)]
    first = json.loads(await _invoke(["customers", "list", "--limit", "2", "--json"]))
    assert first["next_cursor"]
    cursor = first["next_cursor"]
    rest = json.loads(
        await _invoke(["customers", "list", "--limit", "2", "--json", "--cursor", cursor])
    )
    seen = [c["id"] for c in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(c["id"] for c in made)
