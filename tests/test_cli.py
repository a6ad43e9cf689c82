"""The CLI through Typer's runner, on a real data folder set by environment variables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from boothcloud.cli import app
from boothcloud.settings import get_settings

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "data"
    monkeypatch.setenv("BOOTHCLOUD_DATA_DIR", str(folder))
    monkeypatch.setenv("BOOTHCLOUD_ENVIRONMENT", "test")
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("BOOTHCLOUD_PUBLIC_URL", "BOOTHCLOUD_HOST", "BOOTHCLOUD_PORT"):
        monkeypatch.setenv(name, "")  # records the original, so `serve` setting it is undone
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def test_help_everywhere() -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["migrate", "--help"],
        ["customers", "--help"],
        ["customers", "create", "--help"],
        ["customers", "list", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_migrate_then_create_and_list(data_dir: Path) -> None:
    first = runner.invoke(app, ["migrate"])
    assert first.exit_code == 0
    assert "applied 0001_init.sql" in first.output
    assert "no pending migrations" in runner.invoke(app, ["migrate"]).output
    created = runner.invoke(
        app,
        [
            "customers",
            "create",
            "--name",
            "Mall Booth",
            "--email",
            "mall@example.com",
            "--license-type",
            "pro",
        ],
    )
    assert created.exit_code == 0, created.output
    assert "license key: PB-" in created.output
    listed = runner.invoke(app, ["customers", "list"])
    assert listed.exit_code == 0
    assert "mall@example.com" in listed.output
    assert (data_dir / "boothcloud.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["customers", "create", "--name", "X", "--email", "nope"], "not a valid email address"),
        (
            [
                "customers",
                "create",
                "--name",
                "X",
                "--email",
                "a@example.com",
                "--license-type",
                "gold",
            ],
            "license_type",
        ),
    ],
)
def test_bad_input_is_one_clear_line(data_dir: Path, args: list[str], message: str) -> None:
    runner.invoke(app, ["migrate"])
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_duplicate_email_and_pending_migrations_are_clear(data_dir: Path) -> None:
    pending = runner.invoke(app, ["customers", "list"])
    assert pending.exit_code == 1
    assert "boothcloud migrate" in pending.output
    runner.invoke(app, ["migrate"])
    runner.invoke(app, ["customers", "create", "--name", "A", "--email", "a@example.com"])
    again = runner.invoke(app, ["customers", "create", "--name", "B", "--email", "A@EXAMPLE.com"])
    assert again.exit_code == 1
    assert "a customer with this email exists" in again.output


def test_serve_refuses_pending_migrations_and_placeholder_secrets(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = runner.invoke(app, ["serve"])
    assert refused.exit_code == 1
    assert "pending migration" in refused.output
    monkeypatch.setenv("BOOTHCLOUD_ENVIRONMENT", "production")
    get_settings.cache_clear()
    insecure = runner.invoke(app, ["serve"])
    assert insecure.exit_code == 1
    assert "BOOTHCLOUD_ADMIN_TOKEN must be set" in insecure.output


def test_serve_refuses_a_damaged_signing_key_in_one_line(data_dir: Path) -> None:
    """Checked once before any worker starts: one line and exit 1, not a traceback from
    every worker; the file is kept (booths hold certificates it signed)."""
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    key = get_settings().signing_key_path
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI")
    refused = runner.invoke(app, ["serve"])
    assert refused.exit_code == 1
    assert f"license signing key {key} is damaged" in " ".join(refused.output.split())
    assert "Traceback" not in refused.output
    assert key.read_bytes().endswith(b"MC4CAQAwBQYDK2VwBCIEI")
