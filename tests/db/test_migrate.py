"""Migrations: fresh, incremental, failing; recorded exactly as wrangler records them."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from boothcloud.db.migrate import MigrationError, applied, migrate, pending
from boothcloud.db.sqlite import SQLiteDatabase
from boothcloud.settings import Settings

MIGRATIONS = Settings().migrations_path
RFC_COLUMNS = {
    "customers": [
        "id",
        "name",
        "email",
        "phone",
        "license_key",
        "license_type",
        "purchase_date",
        "created_at",
        "updated_at",
    ],
    "payments": [
        "id",
        "customer_id",
        "xendit_payment_id",
        "amount",
        "platform_fee",
        "status",
        "paid_at",
        "created_at",
    ],
    "photos": ["id", "customer_id", "r2_key", "print_status", "printer_id", "created_at"],
    "printers": [
        "id",
        "customer_id",
        "name",
        "type",
        "connection_type",
        "is_default",
        "created_at",
    ],
}


def copy_migrations(tmp_path: Path, upto: int) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql"))[:upto]:
        shutil.copy(path, folder / path.name)
    return folder


async def test_fresh_database_gets_every_migration(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "fresh.db")
    names = await migrate(db, MIGRATIONS)
    assert names == sorted(p.name for p in MIGRATIONS.glob("*.sql"))
    assert names[0] == "0001_init.sql"
    assert await applied(db) == names
    assert await pending(db, MIGRATIONS) == []
    assert await migrate(db, MIGRATIONS) == []  # idempotent
    await db.close()


async def test_0001_is_the_rfc_schema_column_for_column(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "rfc.db")
    await migrate(db, copy_migrations(tmp_path, 1))
    for table, columns in RFC_COLUMNS.items():
        rows = await db.fetch_all(f"SELECT name FROM pragma_table_info('{table}') ORDER BY cid")
        assert [r["name"] for r in rows] == columns
    await db.close()


async def test_d1_migrations_table_matches_wrangler(tmp_path: Path) -> None:
    db = SQLiteDatabase(tmp_path / "w.db")
    await migrate(db, MIGRATIONS)
    columns = await db.fetch_all("SELECT name, type, pk FROM pragma_table_info('d1_migrations')")
    assert [(c["name"], c["type"], c["pk"]) for c in columns] == [
        ("id", "INTEGER", 1),
        ("name", "TEXT", 0),
        ("applied_at", "TIMESTAMP", 0),
    ]
    rows = await db.fetch_all("SELECT id, name, applied_at FROM d1_migrations ORDER BY id")
    assert [r["id"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["name"].endswith(".sql") and r["applied_at"] for r in rows)
    await db.close()


async def test_incremental_applies_only_the_new_ones(tmp_path: Path) -> None:
    folder = copy_migrations(tmp_path, 1)
    db = SQLiteDatabase(tmp_path / "inc.db")
    assert await migrate(db, folder) == ["0001_init.sql"]
    await db.execute(
        "INSERT INTO customers (id, name, email, license_key, purchase_date) "
        "VALUES ('cus_1', 'Old', 'old@example.com', 'PB-OLD', datetime('now'))"
    )
    for path in sorted(MIGRATIONS.glob("*.sql"))[1:]:
        shutil.copy(path, folder / path.name)
    assert await migrate(db, folder) == [p.name for p in sorted(MIGRATIONS.glob("*.sql"))[1:]]
    row = await db.fetch_one("SELECT name, license_status FROM customers WHERE id = 'cus_1'")
    assert row == {"name": "Old", "license_status": "active"}
    await db.close()


async def test_failing_migration_keeps_earlier_ones_and_is_not_recorded(tmp_path: Path) -> None:
    folder = copy_migrations(tmp_path, 2)
    (folder / "0099_broken.sql").write_text(
        "CREATE TABLE half_done (id INTEGER);\nALTER TABLE no_such_table ADD COLUMN x TEXT;\n"
    )
    db = SQLiteDatabase(tmp_path / "fail.db")
    with pytest.raises(MigrationError, match=r"0099_broken\.sql"):
        await migrate(db, folder)
    assert await applied(db) == ["0001_init.sql", "0002_licenses.sql"]
    tables = await db.fetch_all("SELECT name FROM sqlite_master WHERE name = 'half_done'")
    assert tables == []  # the failing file left nothing behind
    await db.close()


async def test_serve_refuses_pending_migrations(tmp_path: Path) -> None:
    from boothcloud.app import PendingMigrations, create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path / "data"))
    with pytest.raises(PendingMigrations, match=r"0001_init\.sql"):
        async with app.router.lifespan_context(app):
            pass


def test_database_file_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    import asyncio

    async def run() -> None:
        db = SQLiteDatabase(tmp_path / "wal.db")
        await migrate(db, MIGRATIONS)
        assert (await db.fetch_one("PRAGMA foreign_keys")) == {"foreign_keys": 1}
        await db.close()

    asyncio.run(run())
    with sqlite3.connect(tmp_path / "wal.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
