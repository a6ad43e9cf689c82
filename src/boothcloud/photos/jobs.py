"""Background job of the print queue: prints stuck in `printing` go back to `pending`.

A booth that crashes mid-print never reports `completed` or `failed`; without this its
photo would sit in `printing` forever. The claim route performs the same sweep for its
own customer, so the job is a backstop for customers whose booths are all down.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from boothcloud.deps import Services
from boothcloud.jobs import Job
from boothcloud.settings import Settings


async def _requeue(services: Services) -> int:
    from boothcloud.photos.service import requeue_stuck

    return await requeue_stuck(services.db, services.settings)


def jobs(settings: Settings) -> list[Job]:
    interval = settings.print_requeue_interval_seconds
    if interval == 0:
        return []

    def next_run(now: datetime) -> datetime:
        return now + timedelta(seconds=interval)

    return [Job(name="photos.requeue_stuck", next_run=next_run, run=_requeue)]
