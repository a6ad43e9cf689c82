"""The backup is a plain SQL dump that `sqlite3` and D1 import as is."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from boothcloud.backups import service
from boothcloud.backups.sqltext import is_transaction_statement
from boothcloud.db.dump import DUMP_HEADER, MAX_STATEMENT_BYTES, iter_dump
from boothcloud.deps import Services
from boothcloud.settings import Settings
from boothcloud.storage.local import LocalStore
from tests.backups.conftest import ODD_VALUES, dump_text, schema, seed, statements, table_rows

SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"


@pytest.fixture
async def dumped(
    client: httpx.AsyncClient, services: Services, store: LocalStore, settings: Settings
) -> str:
    await seed(client, services)
    await services.db.execute(
        "INSERT INTO odd (t) VALUES (?)", ("y" * (MAX_STATEMENT_BYTES - 1_000),)
    )
    backup = await service.create_backup(services.db, services.store)
    return dump_text(store, backup.key)


async def test_d1_shape(dumped: str) -> None:
    found = statements(dumped)
    assert found[0] == DUMP_HEADER
    assert not [s for s in found if is_transaction_statement(s)]
    assert max(len(s.encode()) for s in found) < MAX_STATEMENT_BYTES
    assert max(len(s.encode()) for s in found) > MAX_STATEMENT_BYTES - 1_100  # the big row
    words = {s.split(None, 1)[0].upper() for s in found}
    assert words <= {"PRAGMA", "CREATE", "INSERT", "DELETE"}


async def test_imports_into_stdlib_sqlite3_with_equal_data(
    dumped: str, settings: Settings, tmp_path: Path
) -> None:
    copy = tmp_path / "stdlib.db"
    conn = sqlite3.connect(copy)
    conn.executescript(dumped)
    conn.close()
    assert table_rows(copy) == table_rows(settings.sqlite_path)
    assert schema(copy) == schema(settings.sqlite_path)
    odd = table_rows(copy)["odd"]
    assert [row[1:] for row in odd[: len(ODD_VALUES)]] == ODD_VALUES


@pytest.mark.skipif(not Path(SQLITE3).exists(), reason="no sqlite3 binary")
async def test_imports_into_the_sqlite3_cli(
    dumped: str, settings: Settings, tmp_path: Path
) -> None:
    copy = tmp_path / "cli.db"
    result = await asyncio.to_thread(
        subprocess.run, [SQLITE3, "-bail", str(copy)], input=dumped.encode(), capture_output=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    assert table_rows(copy) == table_rows(settings.sqlite_path)
    assert schema(copy) == schema(settings.sqlite_path)


async def test_sequence_and_migrations_survive(dumped: str, tmp_path: Path) -> None:
    copy = tmp_path / "seq.db"
    conn = sqlite3.connect(copy)
    conn.executescript(dumped)
    sequences = dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
    migrations = conn.execute("SELECT count(*) FROM d1_migrations").fetchone()[0]
    conn.close()
    assert sequences["odd"] == len(ODD_VALUES) + 1
    assert sequences["d1_migrations"] == migrations > 0


def test_litestream_bookkeeping_stays_out_of_the_dump(tmp_path: Path) -> None:
    """With point-in-time recovery on, Litestream keeps two tables in the database; they are
    its state, not data, and a D1 import must not get them."""
    conn = sqlite3.connect(tmp_path / "replicated.db")
    conn.executescript(
        "CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);"
        "CREATE TABLE _litestream_lock (id INTEGER);"
        "CREATE TABLE litestream_notes (id INTEGER PRIMARY KEY);"  # a user table, kept
        "INSERT INTO _litestream_seq VALUES (1, 7); INSERT INTO litestream_notes VALUES (1);"
    )
    dumped = "\n".join(iter_dump(conn))
    conn.close()
    assert "_litestream" not in dumped
    assert "litestream_notes" in dumped  # only Litestream's own tables are left out
