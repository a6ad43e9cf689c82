"""Fixtures for the database tests: a real local D1 (session) and both backends.

`db` is parametrized over the embedded SQLite backend and the D1 backend so that one
contract test checks that both behave the same. The D1 side is one database for the whole
session (migrated by `wrangler d1 migrations apply`), so tests work in tables of their
own or with rows of their own, never assuming an empty database.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from boothcloud.db.base import Database
from boothcloud.db.d1 import D1Database
from boothcloud.db.migrate import migrate
from boothcloud.db.sqlite import SQLiteDatabase
from tests.db.d1server import MIGRATIONS, Bridge, start_bridge


def serve_local_d1(workdir: Path) -> Iterator[Bridge]:
    """A fresh migrated local D1 behind the bridge for a fixture's lifetime."""
    if os.environ.get("BOOTHCLOUD_SKIP_D1") == "1":
        pytest.skip("BOOTHCLOUD_SKIP_D1=1: no local D1")
    bridge = start_bridge(workdir)
    try:
        yield bridge
    finally:
        bridge.stop()


@pytest.fixture(scope="session")
def d1_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    yield from serve_local_d1(tmp_path_factory.mktemp("d1"))


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    db = SQLiteDatabase(tmp_path / "contract.db")
    await migrate(db, MIGRATIONS)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def d1_db(d1_bridge: Bridge) -> AsyncIterator[D1Database]:
    db = D1Database(d1_bridge.url, d1_bridge.token)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture(params=["sqlite", pytest.param("d1", marks=pytest.mark.d1)])
def db(request: pytest.FixtureRequest) -> Database:
    found: Database = request.getfixturevalue(f"{request.param}_db")
    return found
