"""Backups that stream: multipart uploads on a real S3 server (SeaweedFS), flat memory
measured in a subprocess, multi-row INSERTs counted without a manifest, and values that
leave the fast rendering path."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
import pytest

from boothcloud.app import create_app
from boothcloud.backups import service, source
from boothcloud.backups.base import BackupError
from boothcloud.backups.restore import restore_backup
from boothcloud.backups.sqltext import InsertPacker, values_rows
from boothcloud.db.dump import MAX_STATEMENT_BYTES
from boothcloud.deps import Services
from boothcloud.settings import Settings
from boothcloud.storage import s3 as s3_module
from boothcloud.storage.local import LocalStore
from boothcloud.storage.s3 import S3Store
from tests.backups.conftest import dump_text, seed, statements, table_rows
from tests.conftest import make_settings
from tests.s3server import S3Server

PART = 5 * 1024 * 1024  # the smallest part S3 (and SeaweedFS) accept


@pytest.fixture
async def s3_store(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[S3Store]:
    monkeypatch.setattr(s3_module, "PART_BYTES", PART)
    store = S3Store.from_settings(make_settings(Path("/nonexistent"), **s3_server.settings()))
    yield store
    await store.close()


def _raw_client(server: S3Server) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    )


async def test_s3_writer_uploads_in_parts_and_publishes_on_commit(
    s3_store: S3Store, tmp_path: Path
) -> None:
    store = s3_store
    key = f"t/{tmp_path.name}/big.bin"
    data = os.urandom(2 * PART + 12_345)
    try:
        writer = await asyncio.to_thread(store.open_writer, key, "application/octet-stream")
        for start in range(0, len(data), 1_000_000):  # pieces that do not align with parts
            await asyncio.to_thread(writer.write, data[start : start + 1_000_000])
        assert await store.head(key) is None  # nothing visible before the commit
        info = await asyncio.to_thread(writer.commit)
        assert info.size == len(data)
        assert info.etag is not None
        assert info.etag.endswith("-3")  # S3's multipart ETag: three parts
        reader = await asyncio.to_thread(store.open_reader, key)
        read = b""
        while piece := await asyncio.to_thread(reader.read, 700_000):
            read += piece
        reader.close()
        assert read == data
    finally:
        await store.delete(key)


async def test_s3_writer_abort_leaves_no_object_and_no_upload(
    s3_store: S3Store, s3_server: S3Server, tmp_path: Path
) -> None:
    key = f"t/{tmp_path.name}/aborted.bin"
    writer = await asyncio.to_thread(s3_store.open_writer, key)
    await asyncio.to_thread(writer.write, os.urandom(2 * PART))
    await asyncio.to_thread(writer.abort)
    assert await s3_store.head(key) is None
    uploads = _raw_client(s3_server).list_multipart_uploads(Bucket=s3_server.bucket, Prefix=key)
    assert uploads.get("Uploads", []) == []


async def test_local_writer_is_invisible_until_commit_and_gone_on_abort(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "objects", "http://testserver", "s" * 32)
    writer = store.open_writer("backups/x.bin")
    writer.write(b"partial")
    assert await store.list("backups/") == []
    writer.abort()
    assert list((tmp_path / "objects" / "backups").iterdir()) == []
    writer = store.open_writer("backups/x.bin")
    writer.write(b"whole")
    assert writer.commit().size == 5
    assert await store.get("backups/x.bin") == b"whole"


async def test_backup_round_trip_through_s3_in_parts(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """create -> verify -> restore on SeaweedFS, the dump several multipart parts long."""
    monkeypatch.setattr(s3_module, "PART_BYTES", PART)
    settings = make_settings(tmp_path / "data", **s3_server.settings())
    app = create_app(settings, apply_migrations=True)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as api:
            await seed(api, services)
        for _ in range(400):  # about 13 MB of gzip: three parts
            await services.db.execute(
                "INSERT INTO odd (t) VALUES (?)", (os.urandom(30_000).hex()[:60_000],)
            )
        backup = await service.create_backup(services.db, services.store)
        try:
            info = await services.store.head(backup.key)
            assert info is not None
            assert info.etag is not None
            assert "-" in info.etag  # uploaded in parts
            assert backup.size > 2 * PART
            report = await source.verify(services.store, backup.key)
            assert report.checksum_checked
            assert report.tables == backup.tables
            target = tmp_path / "restored.db"
            restored = await restore_backup(services.store, backup.key, target)
            assert restored.tables == backup.tables
            assert table_rows(target) == table_rows(settings.sqlite_path)
        finally:
            for key in (backup.key, backup.key.replace(".sql.gz", ".json")):
                await services.store.delete(key)


_MEASURE = textwrap.dedent(
    """
    import asyncio, json, resource, sys
    from pathlib import Path
    from boothcloud.backups import service, source
    from boothcloud.backups.restore import restore_backup
    from boothcloud.db.sqlite import SQLiteDatabase
    from boothcloud.storage.local import LocalStore

    step, database, objects, target = sys.argv[1:5]
    store = LocalStore(Path(objects), "http://testserver", "s" * 32)

    async def main():
        db = SQLiteDatabase(database)
        await db.fetch_all("SELECT 1")  # connections open before the baseline
        key = None
        if step != "create":
            key = [o.key for o in await store.list("backups/") if o.key.endswith(".gz")][0]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if step == "create":
            await service.create_backup(db, store)
        elif step == "verify":
            await source.verify(store, key)
        else:
            await restore_backup(store, key, Path(target))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        await db.close()
        print(json.dumps({"growth_mb": (after - before) / 1024}))

    asyncio.run(main())
    """
)


def test_memory_stays_flat_on_a_database_of_large_rows(tmp_path: Path) -> None:
    """A 100 MB database of 90 KB rows (hex: gzip halves it, so the old whole-object
    upload and download held about 50 MB): each step's peak memory grows by far less."""
    database = tmp_path / "large.db"
    conn = sqlite3.connect(database)
    conn.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany(
        "INSERT INTO big (body) VALUES (?)",
        ((os.urandom(45_000).hex(),) for _ in range(1_100)),
    )
    conn.commit()
    conn.close()
    assert database.stat().st_size > 95e6
    growth = {}
    for step in ("create", "verify", "restore"):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                _MEASURE,
                step,
                str(database),
                str(tmp_path / "objects"),
                str(tmp_path / "restored.db"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        growth[step] = json.loads(result.stdout)["growth_mb"]
    dumped = next((tmp_path / "objects" / "backups").glob("*.sql.gz")).stat().st_size
    assert dumped > 45e6
    print(f"peak memory growth per step (MB): {growth}")
    assert all(mb < 40 for mb in growth.values()), growth


def test_packer_turns_one_row_inserts_into_multi_row_ones_within_the_limit() -> None:
    out: list[str] = []
    packer = InsertPacker(out, limit=200)
    packer.add("PRAGMA defer_foreign_keys=TRUE;")
    for n in range(20):
        packer.add(f"INSERT INTO \"t\" VALUES({n},'a),(b; {n}');")
    packer.add('INSERT INTO "u""v" VALUES(1);')
    packer.add("CREATE INDEX i ON t (id);")
    packer.flush()
    assert out[0] == "PRAGMA defer_foreign_keys=TRUE;"
    inserts = [s for s in out if s.startswith('INSERT INTO "t"')]
    assert len(inserts) > 1
    assert all(len(s.encode()) <= 200 for s in inserts)
    assert sum(values_rows(s) for s in inserts) == 20
    assert packer.stats.tables == {"t": 20, 'u"v': 1}
    assert out[-2:] == ['INSERT INTO "u""v" VALUES(1);', "CREATE INDEX i ON t (id);"]
    restored = sqlite3.connect(":memory:")
    restored.executescript('CREATE TABLE t (id, s); CREATE TABLE "u""v" (x);' + "\n".join(out))
    assert restored.execute("SELECT count(*), max(s) FROM t").fetchone() == (20, "a),(b; 9")


async def test_values_off_the_fast_path_survive(
    client: httpx.AsyncClient,
    services: Services,
    store: LocalStore,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """A blob in a TEXT column, text in an INTEGER one, infinities in a NUMERIC one."""
    await services.db.executescript(
        "CREATE TABLE mixed (id INTEGER PRIMARY KEY, t TEXT, i INTEGER, n NUMERIC, d DATETIME);"
    )
    rows = [
        (b"\x00blob", "twelve", float("inf"), "2026-11-01 10:00:00"),
        ("fine", 12, float("-inf"), None),
        ("cr\rlf", -1, 1.25, 20261101),
    ]
    for row in rows:
        await services.db.execute("INSERT INTO mixed (t, i, n, d) VALUES (?, ?, ?, ?)", row)
    backup = await service.create_backup(services.db, services.store)
    assert max(len(s.encode()) for s in statements(dump_text(store, backup.key))) <= (
        MAX_STATEMENT_BYTES
    )
    target = tmp_path / "mixed.db"
    await restore_backup(store, backup.key, target)
    assert table_rows(target)["mixed"] == table_rows(settings.sqlite_path)["mixed"]
    conn = sqlite3.connect(target)
    types = conn.execute("SELECT typeof(t), typeof(i), typeof(n) FROM mixed").fetchall()
    conn.close()
    assert types == [
        ("blob", "text", "real"),
        ("text", "integer", "real"),
        ("text", "integer", "real"),
    ]


async def test_a_dump_without_its_manifest_is_counted_from_its_multi_row_inserts(
    client: httpx.AsyncClient, services: Services, store: LocalStore, tmp_path: Path
) -> None:
    await seed(client, services, customers=30)
    backup = await service.create_backup(services.db, services.store)
    loose = tmp_path / "copied.sql.gz"  # no manifest beside it
    shutil.copy(store.path_for(backup.key), loose)
    report = await source.verify(store, str(loose))
    assert not report.checksum_checked
    assert report.tables == backup.tables
    restored = await restore_backup(store, str(loose), tmp_path / "loose.db")
    assert restored.tables == backup.tables


async def test_same_size_corruption_is_a_checksum_mismatch_and_creates_no_folder(
    client: httpx.AsyncClient, services: Services, store: LocalStore, tmp_path: Path
) -> None:
    await seed(client, services)
    backup = await service.create_backup(services.db, services.store)
    path = store.path_for(backup.key)
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(BackupError, match="checksum mismatch"):
        await source.verify(store, backup.key)
    target = tmp_path / "new" / "folder" / "never.db"
    with pytest.raises(BackupError, match="checksum mismatch"):
        await restore_backup(store, backup.key, target)
    assert not (tmp_path / "new").exists()


async def test_gzip_of_the_dump_is_plain_gzip(
    client: httpx.AsyncClient, services: Services, store: LocalStore
) -> None:
    """One gzip member that `gzip -t` and Python's gzip read (the zlib stream we write)."""
    await seed(client, services)
    backup = await service.create_backup(services.db, services.store)
    path = store.path_for(backup.key)
    assert gzip.decompress(path.read_bytes()).startswith(b"PRAGMA defer_foreign_keys=TRUE;\n")
    if shutil.which("gzip"):
        checked = await asyncio.to_thread(subprocess.run, ["gzip", "-t", str(path)], check=False)
        assert checked.returncode == 0


PEAK_RSS_BOUND_MB = 100  # issue 11's ceiling for each backup command, whatever the size


# The command as the console script runs it, then its own high-water mark: VmHWM starts
# afresh at exec, where `ru_maxrss` would carry over the forking test process's size.
_RUN_AND_REPORT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from boothcloud.cli import app
    try:
        app(sys.argv[2:], prog_name="boothcloud")
    finally:
        status = Path("/proc/self/status").read_text().splitlines()
        Path(sys.argv[1]).write_text(next(s for s in status if s.startswith("VmHWM:")))
    """
)


def _peak_rss_mb(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[float, str]:
    """Run `boothcloud <args>` as a process of its own: (its peak RSS in MB, its stdout)."""
    peak = tmp_path / "peak.txt"
    command = [sys.executable, "-c", _RUN_AND_REPORT, str(peak), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return int(peak.read_text().split()[1]) / 1024, result.stdout


def test_backup_commands_peak_under_the_bound_on_an_indexed_database(tmp_path: Path) -> None:
    """A 150 MB database whose index alone sorts 60 MB of keys: every command's whole
    process (imports included) peaks under the bound. SQLite's page cache and its index
    sorter both grow to `cache_size`, and the CLI's imports are most of the rest, so a
    larger cache, eager imports of the server, or a dump held whole would break it."""
    data = tmp_path / "data"
    database = data / "boothcloud.db"
    data.mkdir()
    conn = sqlite3.connect(database)
    conn.executescript(
        """
        CREATE TABLE big (id INTEGER PRIMARY KEY, tag TEXT NOT NULL, body TEXT NOT NULL);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
        INSERT INTO big (tag, body)
        SELECT lower(hex(randomblob(150))), lower(hex(randomblob(100))) FROM n;
        CREATE INDEX big_tag ON big (tag);
        """
    )
    conn.close()
    assert database.stat().st_size > 140e6
    env = {
        **os.environ,
        "BOOTHCLOUD_ENVIRONMENT": "test",
        "BOOTHCLOUD_DATA_DIR": str(data),
        "BOOTHCLOUD_DATABASE_PATH": str(database),
    }
    peaks: dict[str, float] = {}
    peaks["create"], out = _peak_rss_mb(["backup", "create"], env, tmp_path)
    key = out.split()[1]
    peaks["verify"], _ = _peak_rss_mb(["backup", "verify", key], env, tmp_path)
    restored = tmp_path / "restored.db"
    peaks["restore"], _ = _peak_rss_mb(
        ["backup", "restore", key, "--to", str(restored)], env, tmp_path
    )
    with sqlite3.connect(restored) as check:
        assert check.execute("SELECT count(*) FROM big").fetchone() == (200_000,)
    print(f"peak RSS per command (MB): {peaks}")
    assert all(mb < PEAK_RSS_BOUND_MB for mb in peaks.values()), peaks
