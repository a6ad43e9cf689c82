"""Verify and restore: round trips, tampering, refusals, and foreign dumps (wrangler)."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from boothcloud.backups import service, source
from boothcloud.backups.base import BackupError
from boothcloud.backups.restore import restore_backup
from boothcloud.backups.schemas import Backup
from boothcloud.deps import Services
from boothcloud.settings import Settings
from boothcloud.storage.local import LocalStore
from tests.backups.conftest import schema, seed, table_rows

WRANGLER_EXPORT = Path(__file__).parent / "data" / "wrangler_export.sql"
SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
async def backup(client: httpx.AsyncClient, services: Services) -> Backup:
    await seed(client, services)
    return await service.create_backup(services.db, services.store)


async def test_round_trip_gives_equal_data(
    backup: Backup, store: LocalStore, settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / "restored" / "boothcloud.db"
    report = await restore_backup(store, backup.key, target, live_path=settings.sqlite_path)
    assert report.checksum_checked
    assert report.tables == backup.tables
    assert table_rows(target) == table_rows(settings.sqlite_path)
    assert schema(target) == schema(settings.sqlite_path)
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert names(target.parent) == ["boothcloud.db"]  # no temporary file left behind


async def test_verify_passes_an_intact_backup(backup: Backup, store: LocalStore) -> None:
    report = await source.verify(store, backup.key)
    assert report.checksum_checked
    assert report.tables == backup.tables
    assert report.sha256 == backup.sha256


def _tamper(store: LocalStore, key: str) -> None:
    """A different but perfectly valid dump under the same key: only the checksum tells."""
    path = store.path_for(key)
    text = gzip.decompress(path.read_bytes()).replace(b"DNP", b"XNP")
    path.write_bytes(gzip.compress(text))


async def test_tampered_backup_is_rejected_by_verify_and_restore(
    backup: Backup, store: LocalStore, tmp_path: Path
) -> None:
    _tamper(store, backup.key)
    with pytest.raises(BackupError, match="checksum mismatch"):
        await source.verify(store, backup.key)
    target = tmp_path / "restore" / "never.db"
    with pytest.raises(BackupError, match="checksum mismatch"):
        await restore_backup(store, backup.key, target)
    assert not target.parent.exists()


async def test_missing_manifest_is_refused(
    backup: Backup, store: LocalStore, tmp_path: Path
) -> None:
    await store.delete(backup.key.replace(".sql.gz", ".json"))
    with pytest.raises(BackupError, match="no manifest"):
        await restore_backup(store, backup.key, tmp_path / "x.db")


async def test_truncated_backup_fails_verify(backup: Backup, store: LocalStore) -> None:
    path = store.path_for(backup.key)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(BackupError):
        await source.verify(store, backup.key)


async def test_restore_refuses_existing_file_and_live_database(
    backup: Backup, store: LocalStore, settings: Settings, tmp_path: Path
) -> None:
    existing = tmp_path / "existing.db"
    existing.write_bytes(b"precious")
    with pytest.raises(BackupError, match="already exists"):
        await restore_backup(store, backup.key, existing)
    assert existing.read_bytes() == b"precious"
    with pytest.raises(BackupError, match="live database"):
        await restore_backup(
            store, backup.key, settings.sqlite_path, live_path=settings.sqlite_path
        )
    report = await restore_backup(store, backup.key, existing, force=True)
    assert table_rows(existing) == table_rows(settings.sqlite_path)
    assert report.target == existing


async def test_failed_restore_leaves_the_target_untouched(
    store: LocalStore, tmp_path: Path
) -> None:
    work = tmp_path / "restore"
    work.mkdir()
    broken = work / "broken.sql"
    broken.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t(x);\nINSERT INTO nope VALUES(1);\n"
    )
    target = work / "target.db"
    target.write_bytes(b"old")
    with pytest.raises(BackupError, match="no such table: nope"):
        await restore_backup(store, str(broken), target, force=True)
    assert target.read_bytes() == b"old"
    assert names(work) == ["broken.sql", "target.db"]


async def test_restore_reports_foreign_key_violations(store: LocalStore, tmp_path: Path) -> None:
    orphan = tmp_path / "orphan.sql"
    orphan.write_text(
        "PRAGMA defer_foreign_keys=TRUE;\n"
        "CREATE TABLE p(id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE c(id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id));\n"
        'INSERT INTO "c" VALUES(1,42);\n'
    )
    with pytest.raises(BackupError, match="foreign_key_check found 1"):
        await restore_backup(store, str(orphan), tmp_path / "o.db")
    assert not (tmp_path / "o.db").exists()


async def test_restores_a_wrangler_d1_export(store: LocalStore, tmp_path: Path) -> None:
    """A real `wrangler d1 export --local` output (wrangler 4.86): escaped newlines, CR,
    unquoted `CREATE TABLE`, `sqlite_sequence` rows, indexes, a trigger and a view."""
    target = tmp_path / "from-d1.db"
    report = await restore_backup(store, str(WRANGLER_EXPORT), target)
    assert not report.checksum_checked
    assert report.tables["customers"] == 2
    assert report.tables["d1_migrations"] == 4
    conn = sqlite3.connect(target)
    names = dict(conn.execute("SELECT id, name FROM customers").fetchall())
    notes = [r[0] for r in conn.execute("SELECT body FROM notes ORDER BY id")]
    sequence = dict(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
    kinds = {r[0] for r in conn.execute("SELECT type FROM sqlite_master")}
    conn.close()
    assert names == {"cus_01": 'Photobox "Grand" O\'Neil', "cus_02": "Line one\nline two"}
    assert notes == ["tab\tand 'quotes'", "cr\rlf\nend"]
    assert sequence == {"d1_migrations": 4, "notes": 2}
    assert kinds == {"table", "index", "trigger", "view"}


async def test_wrangler_export_verifies_and_restores_from_the_store_gzipped(
    store: LocalStore, tmp_path: Path
) -> None:
    key = "imports/photobooth-db.sql.gz"
    await store.put(key, gzip.compress(WRANGLER_EXPORT.read_bytes()))
    report = await source.verify(store, key)
    assert not report.checksum_checked
    assert report.tables["payments"] == 1
    restored = await restore_backup(store, key, tmp_path / "d1.db")
    assert restored.tables == report.tables


@pytest.mark.skipif(not Path(SQLITE3).exists(), reason="no sqlite3 binary")
async def test_restores_a_sqlite3_shell_dump(
    backup: Backup, settings: Settings, store: LocalStore, tmp_path: Path
) -> None:
    """`sqlite3 .dump` brackets itself in BEGIN/COMMIT: restore skips those, verify refuses."""
    shell_dump = tmp_path / "shell.sql"
    dumped = await asyncio.to_thread(
        subprocess.run, [SQLITE3, str(settings.sqlite_path), ".dump"], capture_output=True
    )
    assert dumped.returncode == 0, dumped.stderr
    shell_dump.write_bytes(dumped.stdout)
    report = await restore_backup(store, str(shell_dump), tmp_path / "shell.db")
    assert report.tables == backup.tables
    assert table_rows(tmp_path / "shell.db") == table_rows(settings.sqlite_path)
    with pytest.raises(BackupError, match="transaction statement"):
        await source.verify(store, str(shell_dump))


async def test_downloaded_backup_with_manifest_beside_it(
    backup: Backup, store: LocalStore, tmp_path: Path
) -> None:
    for key in (backup.key, backup.key.replace(".sql.gz", ".json")):
        shutil.copy(store.path_for(key), tmp_path / Path(key).name)
    local = tmp_path / Path(backup.key).name
    assert (await source.verify(store, str(local))).checksum_checked
    _tamper(store, backup.key)
    shutil.copy(store.path_for(backup.key), local)
    with pytest.raises(BackupError, match="checksum mismatch"):
        await source.verify(store, str(local))


async def test_unknown_source_is_a_clear_error(store: LocalStore, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no backup"):
        await restore_backup(store, "backups/db-backup-20200101T000000Z.sql.gz", tmp_path / "x.db")
