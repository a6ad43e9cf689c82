"""Point-in-time recovery with the real Litestream binary replicating to SeaweedFS.

Write, note the time, write more, restore at the noted time: exactly the first writes are
there. And `serve` supervises Litestream: killed, it comes back, and `/readyz` and the CLI
report its state.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from boothcloud.cli import app as cli
from boothcloud.db import open_database
from boothcloud.db.base import Database, Statement
from boothcloud.db.migrate import migrate
from boothcloud.replication.litestream import prepare
from boothcloud.replication.status import replication_status
from boothcloud.replication.supervisor import Supervisor
from boothcloud.settings import Settings, get_settings
from tests.conftest import make_settings
from tests.live import serve_process
from tests.s3server import S3Server

pytestmark = pytest.mark.s3
WAIT_SECONDS = 60.0


def litestream_settings(tmp_path: Path, server: S3Server, **overrides: Any) -> Settings:
    return make_settings(
        tmp_path / "data",
        **server.settings(),
        litestream_enabled=True,
        litestream_path=f"litestream/{tmp_path.name}",
        **overrides,
    )


def env_of(settings: Settings) -> dict[str, str]:
    """The settings as the BOOTHCLOUD_* environment the CLI and `serve` read."""
    fields = ("data_dir", "storage_backend", "s3_endpoint_url", "s3_bucket", "s3_region")
    values = {name: str(getattr(settings, name)) for name in fields}
    assert settings.s3_access_key_id is not None
    assert settings.s3_secret_access_key is not None
    values["s3_access_key_id"] = settings.s3_access_key_id.get_secret_value()
    values["s3_secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
    values["litestream_enabled"] = "true"
    values["litestream_path"] = settings.litestream_path
    return values


@pytest.fixture
def litestream(tmp_path: Path, s3_server: S3Server) -> Iterator[tuple[Settings, Supervisor]]:
    settings = litestream_settings(tmp_path, s3_server)
    supervisor = Supervisor(prepare(settings))
    yield settings, supervisor
    supervisor.stop()


@pytest.fixture
async def database(litestream: tuple[Settings, Supervisor]) -> AsyncIterator[Database]:
    settings, supervisor = litestream
    db = open_database(settings)
    await migrate(db, settings.migrations_path)
    await db.executescript("CREATE TABLE ledger (id INTEGER PRIMARY KEY, note TEXT NOT NULL);")
    supervisor.start()
    try:
        yield db
    finally:
        await db.close()


async def write(db: Database, first: int, count: int) -> None:
    for start in range(first, first + count, 50):  # several transactions, as requests are
        ids = range(start, min(start + 50, first + count))
        await db.batch(
            [Statement("INSERT INTO ledger (id, note) VALUES (?, ?)", (n, f"n{n}")) for n in ids]
        )


async def synced(settings: Settings) -> None:
    """Have Litestream read the WAL and upload to the replica now, and wait for it."""
    sock = str(prepare(settings).socket_path)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            async with httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=sock), base_url="http://litestream"
            ) as client:
                body = {"path": str(settings.sqlite_path.resolve()), "wait": True, "timeout": 30}
                response = await client.post("/sync", json=body, timeout=40)
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        assert time.monotonic() < deadline, "litestream never synced"
        await asyncio.sleep(0.2)


def ledger(path: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT id, note FROM ledger ORDER BY id").fetchall()
    finally:
        conn.close()


async def cli_in_thread(settings: Settings, *args: str) -> Any:
    """The CLI runs its own event loop: off this test's."""
    return await asyncio.to_thread(run_cli, settings, *args)


def run_cli(settings: Settings, *args: str) -> Any:
    env = {f"BOOTHCLOUD_{k.upper()}": v for k, v in env_of(settings).items()}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, list(args), env=env)
    finally:
        get_settings.cache_clear()


async def test_restore_at_a_moment_has_exactly_the_writes_before_it(
    litestream: tuple[Settings, Supervisor], database: Database, tmp_path: Path
) -> None:
    settings, _ = litestream
    await write(database, 1, 300)
    await synced(settings)
    noted = datetime.now(UTC)
    await asyncio.sleep(1.5)  # S3 keeps whole seconds: the next writes land a second later
    await write(database, 301, 200)
    await synced(settings)

    target = tmp_path / "restored" / "at.db"
    done = await cli_in_thread(
        settings, "backup", "restore", "--at", noted.isoformat(), "--to", str(target)
    )
    assert done.exit_code == 0, done.output
    assert "integrity ok, foreign keys ok" in done.output
    assert ledger(target) == [(n, f"n{n}") for n in range(1, 301)]
    conn = sqlite3.connect(target)
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert "customers" in names
    assert not any(n.startswith("_litestream") for n in names)

    latest = tmp_path / "restored" / "latest.db"
    now = datetime.now(UTC).isoformat()
    done = await cli_in_thread(settings, "backup", "restore", "--at", now, "--to", str(latest))
    assert done.exit_code == 0, done.output
    assert ledger(latest) == [(n, f"n{n}") for n in range(1, 501)]

    # The target exists now: refused, and left exactly as it was.
    again = await cli_in_thread(
        settings, "backup", "restore", "--at", noted.isoformat(), "--to", str(target)
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert len(ledger(target)) == 300


async def test_restore_before_any_replica_fails_cleanly(
    litestream: tuple[Settings, Supervisor], database: Database, tmp_path: Path
) -> None:
    settings, _ = litestream
    await synced(settings)
    target = tmp_path / "early.db"
    done = await cli_in_thread(
        settings, "backup", "restore", "--at", "2001-01-01T00:00:00Z", "--to", str(target)
    )
    assert done.exit_code == 1
    assert "litestream restore at 2001-01-01T00:00:00Z failed" in done.output
    assert await asyncio.to_thread(lambda: sorted(tmp_path.iterdir())) == [settings.data_dir]


def test_restore_needs_a_key_or_a_moment(tmp_path: Path, s3_server: S3Server) -> None:
    settings = litestream_settings(tmp_path, s3_server)
    for args in ([], ["somekey", "--at", "2026-01-01T00:00:00Z"]):
        done = run_cli(settings, "backup", "restore", "--to", str(tmp_path / "x.db"), *args)
        assert done.exit_code == 1
        assert "either a backup key or --at" in done.output
    naive = run_cli(settings, "backup", "restore", "--at", "2026-01-01T00:00:00", "--to", "x.db")
    assert naive.exit_code == 2  # typer refuses a moment without its offset


async def test_the_app_leaves_checkpoints_to_litestream(
    tmp_path: Path, s3_server: S3Server
) -> None:
    settings = litestream_settings(tmp_path, s3_server, sqlite_wal_max_bytes=1024 * 1024)
    db = open_database(settings)
    try:
        await db.executescript("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB);")
        for _ in range(20):  # 2 MB of WAL: past the ceiling, which the app would truncate
            await db.execute("INSERT INTO t (b) VALUES (zeroblob(100000))")
        await asyncio.sleep(1.0)  # the app's checkpoint thread would have run meanwhile
        assert "sqlite-checkpoint" not in {t.name for t in threading.enumerate()}
        wal = await asyncio.to_thread(os.path.getsize, f"{settings.sqlite_path}-wal")
        assert wal > 2_000_000
    finally:
        await db.close()


async def test_status_is_down_when_litestream_is_not_running(
    tmp_path: Path, s3_server: S3Server
) -> None:
    settings = litestream_settings(tmp_path, s3_server)
    found = await replication_status(settings)
    assert found.state == "down"
    assert "not answering" in found.detail
    done = await cli_in_thread(settings, "backup", "replication", "status")
    assert done.exit_code == 1
    assert "replication down" in done.output


def readyz(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/readyz")
    assert response.status_code == 200  # replication is reported, never gating
    body: dict[str, Any] = response.json()
    return body


def wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


def test_serve_supervises_litestream(tmp_path: Path, s3_server: S3Server) -> None:
    settings = litestream_settings(tmp_path, s3_server)
    pid_file = settings.sqlite_path.resolve().parent / "litestream.pid"
    values = {k: v for k, v in env_of(settings).items() if k != "data_dir"}
    with serve_process(settings.data_dir, workers=2, **values) as served:
        wait_for(lambda: readyz(served.url)["replication"] == "ok", "replication ok")
        status = run_cli(settings, "backup", "replication", "status", "--json")
        assert status.exit_code == 0
        assert '"state": "ok"' in status.output
        first = int(pid_file.read_text())

        os.kill(first, signal.SIGKILL)  # Litestream dies; serve starts another
        wait_for(lambda: readyz(served.url)["replication"] != "ok", "replication reported down")
        second = wait_for(
            lambda: (
                pid_file.exists()
                and int(pid_file.read_text() or 0) not in (0, first)
                and int(pid_file.read_text())
            ),
            "a new litestream",
        )
        wait_for(lambda: readyz(served.url)["replication"] == "ok", "replication ok again")
        log = served.stop()
    assert "litestream exited with status -9; restarting" in log
    assert (
        not Path(f"/proc/{second}").exists()
        or b"litestream" not in Path(f"/proc/{second}/cmdline").read_bytes()
    )  # stopping serve stopped its litestream


def test_litestream_is_refused_on_d1(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="D1 has Time Travel instead"):
        make_settings(tmp_path, database_backend="d1", litestream_enabled=True)
