"""Background job of sessions: abandon stale open sessions, purge ended galleries."""

from __future__ import annotations

from datetime import datetime, timedelta

from boothcloud.deps import Services
from boothcloud.jobs import Job
from boothcloud.settings import Settings
from boothcloud.timeutil import utcnow


async def _housekeeping(services: Services) -> None:
    from boothcloud.sessions.retention import abandon_stale, purge_expired

    now = utcnow()
    await abandon_stale(services.db, services.settings, now)
    await purge_expired(services.db, services.store, now)


def jobs(settings: Settings) -> list[Job]:
    interval = settings.session_job_interval_seconds
    if interval == 0:
        return []

    def next_run(now: datetime) -> datetime:
        return now + timedelta(seconds=interval)

    return [Job(name="sessions.housekeeping", next_run=next_run, run=_housekeeping)]
