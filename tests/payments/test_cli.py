"""`boothcloud payments list|show|reconcile|set-sub-account` against a real database file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from boothcloud.db import open_database
from boothcloud.db.migrate import migrate
from boothcloud.payments.cli import app
from boothcloud.settings import get_settings

runner = CliRunner()


async def _seed() -> None:
    db = open_database(get_settings())
    try:
        await migrate(db, get_settings().migrations_path)
        await db.execute(
            "INSERT INTO customers (id, name, email, license_key, purchase_date) "
            "VALUES ('cus_cli', 'CLI Studio', 'cli@example.com', 'PB-KEY', datetime('now'))"
        )
        await db.execute(
            "INSERT INTO payments (id, customer_id, amount, platform_fee, status, expires_at) "
            "VALUES ('pay_cli', 'cus_cli', 25000, 1250, 'pending', '2000-01-01 00:00:00')"
        )
    finally:
        await db.close()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("BOOTHCLOUD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BOOTHCLOUD_XENDIT_SECRET_KEY", "")
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


def test_list_show_reconcile_and_errors(data_dir: Path) -> None:
    asyncio.run(_seed())
    listed = runner.invoke(app, ["list", "--status", "pending"], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert "pay_cli" in listed.output
    assert "Rp 25.000" in listed.output

    shown = runner.invoke(app, ["show", "pay_cli"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "platform_fee" in shown.output
    assert "1250" in shown.output

    missing = runner.invoke(app, ["show", "pay_nope"])
    assert missing.exit_code == 1
    assert "payment pay_nope not found" in missing.output
    assert "Traceback" not in missing.output

    bad = runner.invoke(app, ["list", "--status", "paid"])
    assert bad.exit_code == 2

    # No Xendit key: reconcile still fails the payment that is past its expiry.
    reconciled = runner.invoke(app, ["reconcile"], terminal_width=200)
    assert reconciled.exit_code == 0, reconciled.output
    assert "1 failed" in reconciled.output
    failed = runner.invoke(app, ["list", "--status", "failed"], terminal_width=200)
    assert "pay_cli" in failed.output

    sub = runner.invoke(app, ["set-sub-account", "cus_cli", "sub_42"])
    assert sub.exit_code == 0, sub.output
    assert runner.invoke(app, ["set-sub-account", "cus_nope", "x"]).exit_code == 1


def test_unmigrated_database_is_one_line_error(data_dir: Path) -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 1
    assert "error:" in result.output
    assert "Traceback" not in result.output
