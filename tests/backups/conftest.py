"""Backup test helpers: seed every table on the real app database, read files back whole."""

from __future__ import annotations

import gzip
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from boothcloud.backups.sqltext import is_internal_table, split_statements
from boothcloud.deps import Services
from boothcloud.storage.local import LocalStore
from tests.conftest import create_customer
from tests.s3server import s3_server  # noqa: F401 - the session fixture (test_streaming)

# Values a dump must carry unchanged: quotes, both newlines, `;` in text, NUL-free binary,
# unicode, the largest integers, floats including infinities, NULL.
ODD_VALUES: list[tuple[Any, ...]] = [
    ('it\'s; "quoted"\nline two\r\nthree', b"\x00\x01\xff", 1.5, 2**63 - 1),
    ("Kopi \u2615 Jakarta \u2013 \u00bd", b"", float("inf"), -(2**63)),
    (None, None, float("-inf"), 0),
    ("-- not a comment; END; COMMIT;", b"BEGIN", 0.1, -1),
]


async def seed(client: httpx.AsyncClient, services: Services, customers: int = 3) -> None:
    """Rows in every table: customers through the API, the rest straight into SQLite."""
    ids = [(await create_customer(client))["id"] for _ in range(customers)]
    db = services.db
    for n, customer_id in enumerate(ids):
        await db.execute(
            "INSERT INTO payments (id, customer_id, amount, platform_fee, status) "
            "VALUES (?, ?, ?, ?, 'completed')",
            (f"pay_{n}", customer_id, 25_000 + n, 750),
        )
        await db.execute(
            "INSERT INTO printers (id, customer_id, name, type, connection_type, is_default) "
            "VALUES (?, ?, ?, 'dye-sub', 'usb', 1)",
            (f"prn_{n}", customer_id, f"DNP 'DS620' #{n}"),
        )
        await db.execute(
            "INSERT INTO photos (id, customer_id, r2_key, printer_id) VALUES (?, ?, ?, ?)",
            (f"pho_{n}", customer_id, f"photos/{customer_id}/{n}.jpg", f"prn_{n}"),
        )
    await db.executescript(
        "CREATE TABLE odd (id INTEGER PRIMARY KEY AUTOINCREMENT, t TEXT, b BLOB, r REAL, i INT);"
        "CREATE TRIGGER odd_touch AFTER UPDATE ON odd BEGIN SELECT 1; END;"
        "CREATE VIEW odd_view AS SELECT id, t FROM odd;"
    )
    for values in ODD_VALUES:
        await db.execute("INSERT INTO odd (t, b, r, i) VALUES (?, ?, ?, ?)", values)


def table_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every user table's rows in rowid order, for comparing two databases."""
    conn = sqlite3.connect(path)
    try:
        names = [
            str(r[0])
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not is_internal_table(str(r[0]))
        ]
        return {n: conn.execute(f'SELECT * FROM "{n}" ORDER BY rowid').fetchall() for n in names}
    finally:
        conn.close()


def schema(path: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        return {(str(t), str(n)) for t, n in rows}
    finally:
        conn.close()


def dump_text(store: LocalStore, key: str) -> str:
    return gzip.decompress(store.path_for(key).read_bytes()).decode()


def statements(text: str) -> list[str]:
    return list(split_statements(text.splitlines(keepends=True)))


@pytest.fixture
def store(services: Services) -> LocalStore:
    assert isinstance(services.store, LocalStore)
    return services.store
