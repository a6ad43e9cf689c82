"""`boothcloud devices dead | stopped-printers`: what the operator's API lists, as a CLI;
and migration 0011 on devices activated before heartbeats existed."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from boothcloud.cli import app as cli
from boothcloud.db.migrate import migrate
from boothcloud.db.sqlite import SQLiteDatabase
from boothcloud.deps import Services
from boothcloud.settings import Settings
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


async def test_devices_activated_before_heartbeats_start_from_their_last_contact(
    tmp_path: Path,
) -> None:
    """Migration 0011 on a database with activations: last seen when last validated, or
    when activated (never NULL, so every one has a status)."""
    earlier, full = tmp_path / "earlier", Settings().migrations_path
    earlier.mkdir()
    for migration in sorted(full.glob("*.sql")):
        if migration.name < "0011":
            shutil.copy(migration, earlier / migration.name)
    db = SQLiteDatabase(tmp_path / "old.db")
    try:
        await migrate(db, earlier)
        await db.execute(
            "INSERT INTO customers (id, name, email, license_key, purchase_date) "
            "VALUES ('cus_old', 'Old', 'old@example.com', 'PB-OLD', '2026-01-01')"
        )
        await db.execute(
            "INSERT INTO license_activations (id, customer_id, fingerprint, created_at, "
            "last_validated_at) VALUES ('act_a', 'cus_old', 'fp-aaaaaaaa', "
            "'2026-01-01 10:00:00', '2026-02-01 10:00:00'), ('act_b', 'cus_old', "
            "'fp-bbbbbbbb', '2026-01-05 10:00:00', NULL)"
        )
        await migrate(db, full)
        rows = await db.fetch_all("SELECT id, last_seen_at FROM license_activations ORDER BY id")
    finally:
        await db.close()
    assert [(r["id"], r["last_seen_at"]) for r in rows] == [
        ("act_a", "2026-02-01 10:00:00"),
        ("act_b", "2026-01-05 10:00:00"),
    ]
