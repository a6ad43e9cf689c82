"""The weekly backup inside `serve`: a cron expression from settings, off when disabled.

The cron is checked when `serve` starts, so a typo fails loudly at start-up rather than
silently never backing up. Times are UTC.
"""

from __future__ import annotations

from datetime import datetime

from croniter import croniter

from boothcloud.backups import service
from boothcloud.deps import Services
from boothcloud.jobs import Job
from boothcloud.settings import Settings


def next_backup(cron: str, now: datetime) -> datetime:
    """The first time strictly after `now` that the cron expression names."""
    following: datetime = croniter(cron, now).get_next(datetime)
    return following


def jobs(settings: Settings) -> list[Job]:
    if not settings.backup_enabled:
        return []
    cron = settings.backup_cron
    if not croniter.is_valid(cron):
        raise ValueError(f"BOOTHCLOUD_BACKUP_CRON is not a valid cron expression: {cron!r}")

    async def run(services: Services) -> object:
        return await service.create_backup(
            services.db, services.store, retention=services.settings.backup_retention
        )

    return [Job("backup", lambda now: next_backup(cron, now), run)]
