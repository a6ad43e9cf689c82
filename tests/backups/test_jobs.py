"""The weekly backup job: next run from the cron, off when disabled, and it really backs up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from boothcloud.backups import service
from boothcloud.backups.jobs import jobs, next_backup
from boothcloud.deps import Services
from tests.conftest import make_settings


def test_next_run_follows_the_cron(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, backup_enabled=True)  # default "0 3 * * 0"
    [job] = jobs(settings)
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert job.next_run(wednesday) == datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    sunday_at_three = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
    assert job.next_run(sunday_at_three) == datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
    assert next_backup("30 1 * * *", wednesday) == datetime(2026, 11, 26, 1, 30, tzinfo=UTC)


def test_disabled_means_no_job(tmp_path: Path) -> None:
    assert jobs(make_settings(tmp_path, backup_enabled=False)) == []


def test_a_bad_cron_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="BOOTHCLOUD_BACKUP_CRON"):
        jobs(make_settings(tmp_path, backup_enabled=True, backup_cron="every sunday"))


async def test_the_job_takes_a_backup(services: Services, tmp_path: Path) -> None:
    [job] = jobs(make_settings(tmp_path, backup_enabled=True))
    await job.run(services)
    [backup] = await service.list_backups(services.store)
    assert backup.tables["d1_migrations"] > 0
