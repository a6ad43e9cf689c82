"""The D1 side against wrangler itself: migrations, imports, exports and the bridge's auth.

- `wrangler d1 migrations apply` (run by the session fixture) applies `migrations/` and
  records it in a `d1_migrations` table identical to the one `boothcloud migrate` keeps,
  so each tool sees what the other applied.
- A boothcloud SQL dump imports into local D1 with `wrangler d1 execute --file`.
- A `wrangler d1 export` restores into boothcloud's SQLite backend.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from boothcloud.backups.restore import restore_backup
from boothcloud.backups.sqltext import values_rows
from boothcloud.db.base import Database, Statement
from boothcloud.db.d1 import D1Database
from boothcloud.db.migrate import MIGRATIONS_TABLE, discover, migrate, pending
from boothcloud.db.sqlite import SQLiteDatabase
from boothcloud.storage.local import LocalStore
from tests.db.d1server import (
    MIGRATIONS,
    Bridge,
    apply_migrations,
    execute_file,
    export_local,
    query_json,
)

pytestmark = pytest.mark.d1

SCHEMA = (
    "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL "
    "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY type, name"
)


def normalized(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")").strip()


SCRATCH = re.compile(r"^t_[0-9a-f]{12}")  # the contract tests' own tables (shared D1)


async def schema_of(db: Database) -> list[tuple[str, str, str, str]]:
    return [
        (r["type"], r["name"], r["tbl_name"], normalized(r["sql"]))
        for r in await db.fetch_all(SCHEMA)
        if not SCRATCH.match(r["tbl_name"])
    ]


async def table_shape(db: Database, table: str) -> dict[str, Any]:
    return {
        "columns": await db.fetch_all(
            'SELECT cid, name, type, "notnull", dflt_value, pk, hidden '
            "FROM pragma_table_xinfo(?) ORDER BY cid",
            (table,),
        ),
        "indexes": await db.fetch_all(
            'SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name',
            (table,),
        ),
    }


@pytest.fixture
async def migrated_sqlite(tmp_path: Path) -> Any:
    db = SQLiteDatabase(tmp_path / "boothcloud.db")
    await migrate(db, MIGRATIONS)
    yield db
    await db.close()


async def test_wrangler_records_migrations_as_boothcloud_does(
    d1_db: D1Database, migrated_sqlite: SQLiteDatabase
) -> None:
    names = [m.name for m in discover(MIGRATIONS)]
    recorded = await d1_db.fetch_all(f"SELECT id, name, applied_at FROM {MIGRATIONS_TABLE}")
    assert [r["name"] for r in recorded] == names
    assert [r["id"] for r in recorded] == list(range(1, len(names) + 1))
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r["applied_at"]) for r in recorded)

    # boothcloud, on the D1 backend, sees everything wrangler applied as applied.
    assert await pending(d1_db, MIGRATIONS) == []
    assert await migrate(d1_db, MIGRATIONS) == []

    # The same table: columns, types, defaults, keys, indexes, and the same CREATE text
    # up to whitespace; and boothcloud records the same names with the same ids.
    assert await table_shape(d1_db, MIGRATIONS_TABLE) == await table_shape(
        migrated_sqlite, MIGRATIONS_TABLE
    )
    ours = await migrated_sqlite.fetch_all(f"SELECT id, name FROM {MIGRATIONS_TABLE}")
    assert ours == [{"id": r["id"], "name": r["name"]} for r in recorded]

    # And the whole schema the migrations build is the same on both.
    assert await schema_of(d1_db) == await schema_of(migrated_sqlite)


async def test_wrangler_sees_what_boothcloud_applied(
    migrated_sqlite: SQLiteDatabase, tmp_path: Path
) -> None:
    """A boothcloud-migrated database, dumped and imported into D1, needs no migration."""
    dump = tmp_path / "boothcloud.sql"
    dump.write_text("\n".join([s async for s in migrated_sqlite.dump()]) + "\n")
    persist = tmp_path / "imported"
    execute_file(persist, dump)
    assert "No migrations to apply" in apply_migrations(persist)


async def test_boothcloud_dump_imports_into_local_d1(
    migrated_sqlite: SQLiteDatabase, tmp_path: Path
) -> None:
    db = migrated_sqlite
    await db.batch(
        [
            Statement(
                "INSERT INTO customers (id, name, email, license_key, purchase_date) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    f"cus_{i}",
                    f"Studio O'Brien \u2603 {i}",
                    f"o{i}@example.com",
                    f"PB-{i}",
                    "2026-11-25 10:00:00",
                ),
            )
            for i in range(50)
        ]
        + [
            Statement(
                "INSERT INTO payments (id, customer_id, amount, platform_fee, status) "
                "VALUES (?, ?, ?, ?, 'completed')",
                (f"pay_{i}", f"cus_{i % 50}", 10_000 + i, 500),
            )
            for i in range(120)
        ]
        + [
            Statement(
                "INSERT INTO license_activations (id, customer_id, fingerprint) VALUES (?, ?, ?)",
                ("act_1", "cus_1", "fp\nwith newline; and 'quotes'"),
            )
        ]
        + [  # small rows: multi-row INSERTs of thousands of rows near D1's 100 KB limit
            Statement(
                "INSERT INTO license_activations (id, customer_id, fingerprint) VALUES (?, ?, ?)",
                (f"act_many_{i}", f"cus_{i % 50}", f"fp{i}"),
            )
            for i in range(4_000)
        ]
    )
    dump = tmp_path / "dump.sql"
    statements = [s async for s in db.dump()]
    assert max(values_rows(s) for s in statements) > 1_000  # really multi-row
    dump.write_text("\n".join(statements) + "\n")

    persist = tmp_path / "d1"
    execute_file(persist, dump)

    tables = [
        r["name"]
        for r in await db.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    # One row of subqueries: D1 limits the terms of a compound SELECT.
    counts = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{t}") AS "{t}"' for t in tables)
    got_counts, fingerprints, names, d1_schema = query_json(
        persist,
        counts,
        "SELECT fingerprint FROM license_activations WHERE id = 'act_1'",
        "SELECT name FROM customers WHERE id = 'cus_7'",
        SCHEMA,
    )
    assert got_counts == await db.fetch_all(counts)
    assert fingerprints == [{"fingerprint": "fp\nwith newline; and 'quotes'"}]
    assert names == [{"name": "Studio O'Brien \u2603 7"}]
    assert [(r["type"], r["name"]) for r in d1_schema] == [
        (r["type"], r["name"]) for r in await db.fetch_all(SCHEMA)
    ]


async def test_wrangler_export_restores_into_boothcloud(
    d1_bridge: Bridge, d1_db: D1Database, tmp_path: Path
) -> None:
    await d1_db.execute(
        "INSERT INTO customers (id, name, email, license_key, purchase_date) "
        "VALUES ('cus_export', 'Export ''me''', 'export@example.com', 'PB-EXPORT', "
        "'2026-11-25 10:00:00')"
    )
    await d1_db.execute(  # a child whose parent tables (sessions, venues) were created later
        "INSERT INTO payments (id, customer_id, amount, platform_fee, status) "
        "VALUES ('pay_export', 'cus_export', 25000, 750, 'pending')"
    )
    exported = tmp_path / "export.sql"
    export_local(d1_bridge.persist_to, exported, tmp_path)
    # Through `backup restore`, as an operator would: wrangler writes each table's CREATE
    # and rows in creation order, and with foreign keys on SQLite refuses a row whose parent
    # table comes later (payments -> sessions, venues), so the restore loads with them off
    # and runs `foreign_key_check` afterwards.
    store = LocalStore(tmp_path / "objects", "http://127.0.0.1", "test-secret")
    await restore_backup(store, str(exported), tmp_path / "restored.db")
    restored = SQLiteDatabase(tmp_path / "restored.db")
    try:
        assert await restored.fetch_one("SELECT name FROM customers WHERE id = 'cus_export'") == {
            "name": "Export 'me'"
        }
        assert await restored.fetch_one("SELECT amount FROM payments") == {"amount": 25000}
        assert await pending(restored, MIGRATIONS) == []
        assert await restored.fetch_all(
            f"SELECT id, name FROM {MIGRATIONS_TABLE} ORDER BY id"
        ) == await d1_db.fetch_all(f"SELECT id, name FROM {MIGRATIONS_TABLE} ORDER BY id")
    finally:
        await restored.close()


async def test_bridge_requires_its_token(d1_bridge: Bridge) -> None:
    body = {"sql": "SELECT 1 AS one"}
    async with httpx.AsyncClient(base_url=d1_bridge.url) as http:
        assert (await http.post("/query", json=body)).status_code == 401
        wrong = {"Authorization": "Bearer " + "x" * len(d1_bridge.token)}
        assert (await http.post("/query", json=body, headers=wrong)).status_code == 401
        prefix = {"Authorization": f"Bearer {d1_bridge.token[:-1]}"}
        assert (await http.post("/query", json=body, headers=prefix)).status_code == 401
        good = {"Authorization": f"Bearer {d1_bridge.token}"}
        answer = await http.post("/query", json=body, headers=good)
        assert answer.json() == {"rows": [{"one": 1}], "changes": 0}
        assert (await http.get("/query", headers=good)).status_code == 405
        assert (await http.post("/nope", json=body, headers=good)).status_code == 404
        bad = await http.post("/query", content=b"{not json", headers=good)
        assert bad.status_code == 400
        assert (await http.get("/health")).json() == {"ok": True}
