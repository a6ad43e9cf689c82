"""POST / GET /api/admin/backups on a real SQLite file and a real object folder."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from boothcloud.app import create_app
from boothcloud.backups import service
from boothcloud.deps import Services
from boothcloud.settings import Settings
from boothcloud.storage.local import LocalStore
from tests.backups.conftest import seed, table_rows
from tests.conftest import ADMIN, create_customer, license_auth, make_settings

KEY = re.compile(r"^backups/db-backup-\d{8}T\d{6}Z\.sql\.gz$")
MANIFEST_FIELDS = {"key", "size", "sha256", "tables", "created_at"} | {
    "d1_bookmark", "consistent", "changed_tables"  # D1's paged dump (docs/d1.md)
}  # fmt: skip


async def test_create_answers_201_with_key_size_sha_and_snapshot_counts(
    client: httpx.AsyncClient, services: Services, store: LocalStore, settings: Settings
) -> None:
    await seed(client, services)
    response = await client.post("/api/admin/backups", headers=ADMIN)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == MANIFEST_FIELDS
    # A SQLite dump is one snapshot; the D1 fields say so.
    assert (body["d1_bookmark"], body["consistent"], body["changed_tables"]) == (None, True, [])
    assert KEY.match(body["key"])
    stamp = body["key"].removeprefix("backups/db-backup-").removesuffix(".sql.gz")
    assert body["created_at"] == (
        f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z"
    )
    data = store.path_for(body["key"]).read_bytes()
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    expected = {name: len(rows) for name, rows in table_rows(settings.sqlite_path).items()}
    assert body["tables"] == expected
    assert body["tables"]["customers"] == 3
    assert body["tables"]["odd"] == 4
    manifest = json.loads(store.path_for(body["key"].replace(".sql.gz", ".json")).read_bytes())
    assert manifest == body


async def test_list_is_newest_first_and_matches_creation(client: httpx.AsyncClient) -> None:
    keys = []
    for _ in range(3):
        created = await client.post("/api/admin/backups", headers=ADMIN)
        keys.append(created.json()["key"])
    assert len(set(keys)) == 3  # same second: the next free timestamp, never overwritten
    listed = await client.get("/api/admin/backups", headers=ADMIN)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [i["key"] for i in items] == sorted(keys, reverse=True)
    assert set(items[0]) == MANIFEST_FIELDS


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_operator_only(client: httpx.AsyncClient, booth: dict[str, str], method: str) -> None:
    anonymous = await client.request(method, "/api/admin/backups")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    forbidden = await client.request(method, "/api/admin/backups", headers=booth)
    assert forbidden.status_code == 403
    wrong = await client.request(method, "/api/admin/backups", headers=license_auth("PB-NOPE"))
    assert wrong.status_code == 401


async def test_nothing_written_for_refused_callers(
    client: httpx.AsyncClient, booth: dict[str, str], store: LocalStore
) -> None:
    await client.post("/api/admin/backups", headers=booth)
    assert await store.list("backups/") == []


async def test_retention_setting_prunes_through_the_api(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", backup_retention=2)
    app = create_app(settings, apply_migrations=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            keys = [
                (await client.post("/api/admin/backups", headers=ADMIN)).json()["key"]
                for _ in range(4)
            ]
            items = (await client.get("/api/admin/backups", headers=ADMIN)).json()["items"]
    assert [i["key"] for i in items] == sorted(keys, reverse=True)[:2]
    left = sorted(p.name for p in (settings.objects_path / "backups").iterdir())
    assert len(left) == 4  # two dumps and their two manifests


def test_openapi_documents_both_routes(tmp_path: Path) -> None:
    spec = create_app(make_settings(tmp_path)).openapi()
    path = spec["paths"]["/api/admin/backups"]
    assert {"201", "401", "403"} <= set(path["post"]["responses"])
    assert {"200", "401", "403"} <= set(path["get"]["responses"])
    assert set(spec["components"]["schemas"]["Backup"]["required"]) == {
        "key",
        "size",
        "sha256",
        "tables",
        "created_at",
    }


async def test_a_write_during_a_backup_is_not_blocked(
    client: httpx.AsyncClient, services: Services, settings: Settings
) -> None:
    """The dump reads one WAL snapshot: a write meanwhile commits at once and is not in it."""
    rows = 20_000
    with sqlite3.connect(settings.sqlite_path) as conn:
        conn.executemany(
            "INSERT INTO customers (id, name, email, license_key, purchase_date) "
            "VALUES (?, ?, ?, ?, '2026-11-01 10:00:00')",
            ((f"cus_bulk{i}", "x" * 600, f"b{i}@example.com", f"key{i}") for i in range(rows)),
        )
    conn.close()
    loop = asyncio.get_running_loop()
    dumping = asyncio.Event()

    class Signal:
        def start(self, description: str, total: int | None) -> None:
            return None

        def advance(self, amount: int) -> None:
            loop.call_soon_threadsafe(dumping.set)

    task = asyncio.create_task(
        service.create_backup(services.db, services.store, progress=Signal())
    )
    await asyncio.wait_for(dumping.wait(), timeout=20)
    started = time.perf_counter()
    customer = await create_customer(client)  # a real API write, mid-dump
    elapsed = time.perf_counter() - started
    assert not task.done(), "the dump finished before the write: make it longer"
    backup = await task
    assert elapsed < 1.0
    assert backup.tables["customers"] == rows  # the snapshot predates the write
    found = await services.db.fetch_one("SELECT id FROM customers WHERE id = ?", (customer["id"],))
    assert found is not None


async def test_concurrent_backups_get_distinct_keys(services: Services) -> None:
    moment = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    backups = await asyncio.gather(
        *(service.create_backup(services.db, services.store, now=moment) for _ in range(3))
    )
    assert sorted(b.key for b in backups) == [
        f"backups/db-backup-20261125T10000{s}Z.sql.gz" for s in range(3)
    ]
    assert len(await service.list_backups(services.store)) == 3


async def test_prune_removes_old_and_unfinished_but_not_newer_unfinished(
    services: Services, store: LocalStore
) -> None:
    async def at(day: int) -> str:
        moment = datetime(2026, 11, day, 3, 0, tzinfo=UTC)
        return (await service.create_backup(services.db, services.store, now=moment)).key

    keys = [await at(day) for day in (1, 8, 15)]
    await store.put("backups/db-backup-20261102T030000Z.sql.gz", b"unfinished, old")
    await store.put("backups/db-backup-20261120T030000Z.sql.gz", b"maybe still running")
    deleted = await service.prune(store, 2)
    assert deleted == [
        keys[0].replace(".sql.gz", ".json"),
        keys[0],
        "backups/db-backup-20261102T030000Z.sql.gz",
    ]
    left = sorted(o.key for o in await store.list("backups/"))
    manifests = [k.replace(".sql.gz", ".json") for k in keys[1:]]
    running = "backups/db-backup-20261120T030000Z.sql.gz"
    assert left == sorted([*keys[1:], *manifests, running])
    assert [b.key for b in await service.list_backups(store)] == keys[:0:-1]
