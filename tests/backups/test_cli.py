"""`boothcloud backup ...` through Typer's runner, on a data folder set by environment."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from boothcloud.backups.cli import app
from boothcloud.db.migrate import migrate
from boothcloud.db.sqlite import SQLiteDatabase
from boothcloud.settings import get_settings
from tests.backups.conftest import table_rows

runner = CliRunner()
WRANGLER_EXPORT = Path(__file__).parent / "data" / "wrangler_export.sql"


async def _prepare(path: Path, migrations: Path) -> None:
    db = SQLiteDatabase(path)
    try:
        await migrate(db, migrations)
        await db.execute(
            "INSERT INTO customers (id, name, email, license_key, purchase_date) "
            "VALUES ('cus_1', 'Mall Booth', 'mall@example.com', 'PB-1', '2026-11-01 10:00:00')"
        )
    finally:
        await db.close()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "data"
    monkeypatch.setenv("BOOTHCLOUD_DATA_DIR", str(folder))
    monkeypatch.setenv("BOOTHCLOUD_ENVIRONMENT", "test")
    monkeypatch.setenv("BOOTHCLOUD_BACKUP_RETENTION", "2")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    asyncio.run(_prepare(folder / "boothcloud.db", get_settings().migrations_path))
    yield folder
    get_settings.cache_clear()


def _listed() -> list[dict[str, object]]:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    items: list[dict[str, object]] = json.loads(result.stdout)["items"]
    return items


def test_create_list_verify_restore(data_dir: Path, tmp_path: Path) -> None:
    created = runner.invoke(app, ["create"])
    assert created.exit_code == 0, created.output
    assert "created backups/db-backup-" in created.stdout
    assert "customers 1" in created.stdout
    [item] = _listed()
    key = str(item["key"])
    assert isinstance(item["tables"], dict)
    assert item["tables"]["customers"] == 1
    human = runner.invoke(app, ["list"])
    assert key in human.stdout

    verified = runner.invoke(app, ["verify", key])
    assert verified.exit_code == 0, verified.output
    assert f"ok {key}: checksum ok" in verified.stdout

    target = tmp_path / "restored.db"
    restored = runner.invoke(app, ["restore", key, "--to", str(target)])
    assert restored.exit_code == 0, restored.output
    assert "integrity ok, foreign keys ok, rows match" in restored.stdout
    assert table_rows(target) == table_rows(data_dir / "boothcloud.db")

    again = runner.invoke(app, ["restore", key, "--to", str(target)])
    assert again.exit_code == 1
    assert "already exists; pass --force" in again.stderr
    assert "Traceback" not in again.output
    forced = runner.invoke(app, ["restore", key, "--to", str(target), "--force"])
    assert forced.exit_code == 0, forced.output


def test_retention_prunes_old_backups(data_dir: Path) -> None:
    keys = []
    for _ in range(3):
        result = runner.invoke(app, ["create"])
        assert result.exit_code == 0, result.output
        keys.append(result.stdout.split()[1])
    assert [i["key"] for i in _listed()] == sorted(keys, reverse=True)[:2]
    kept = sorted(keys)[1:]
    expected = sorted([Path(k).name for k in kept] + [Path(k).name[:-7] + ".json" for k in kept])
    assert sorted(p.name for p in (data_dir / "objects" / "backups").iterdir()) == expected


def test_errors_are_one_line_without_traceback(data_dir: Path) -> None:
    result = runner.invoke(app, ["create"])
    key = result.stdout.split()[1]
    path = data_dir / "objects" / key
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"\n"))
    for args in (["verify", key], ["restore", key, "--to", str(data_dir / "x.db")]):
        failed = runner.invoke(app, args)
        assert failed.exit_code == 1
        assert "checksum mismatch" in failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1
        assert "Traceback" not in failed.output
    live = runner.invoke(app, ["restore", key, "--to", str(data_dir / "boothcloud.db")])
    assert live.exit_code == 1
    assert "live database" in live.stderr
    missing = runner.invoke(app, ["verify", "backups/nope.sql.gz"])
    assert missing.exit_code == 1
    assert "no backup" in missing.stderr


def test_restore_a_wrangler_export_file(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "from-d1.db"
    result = runner.invoke(app, ["restore", str(WRANGLER_EXPORT), "--to", str(target)])
    assert result.exit_code == 0, result.output
    assert "no manifest, checksum not checked" in result.stdout
    assert table_rows(target)["customers"][0][0] == "cus_01"


def test_create_without_database_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOTHCLOUD_DATA_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["create"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "no database at" in result.stderr
    assert not (tmp_path / "empty" / "boothcloud.db").exists()
