"""Background work inside `serve`: payment reconciliation, stuck-print recovery, backups.

With several worker processes, only the one holding `data/scheduler.lock` runs jobs, so a
weekly backup is taken once, not once per worker. Each domain declares its jobs in its own
`jobs.py`; a job that fails is logged and tried again at its next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from boothcloud.deps import Services
from boothcloud.timeutil import utcnow

log = logging.getLogger("boothcloud.jobs")


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    next_run: Callable[[datetime], datetime]  # given now (UTC), when to run next
    run: Callable[[Services], Awaitable[object]]


def declared_jobs(services: Services) -> list[Job]:
    from boothcloud.backups.jobs import jobs as backup_jobs
    from boothcloud.payments.jobs import jobs as payment_jobs
    from boothcloud.photos.jobs import jobs as photo_jobs
    from boothcloud.sessions.jobs import jobs as session_jobs

    settings = services.settings
    return [
        *payment_jobs(settings),
        *photo_jobs(settings),
        *session_jobs(settings),
        *backup_jobs(settings),
    ]


class JobRunner:
    def __init__(self, tasks: list[asyncio.Task[None]], lock: IO[bytes] | None) -> None:
        self._tasks = tasks
        self._lock = lock

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._lock is not None:
            self._lock.close()


async def _loop(job: Job, services: Services) -> None:
    while True:
        now = utcnow()
        delay = max((job.next_run(now) - now).total_seconds(), 0.0)
        await asyncio.sleep(delay)
        try:
            await job.run(services)
        except Exception:
            log.exception("job %s failed; it runs again at its next time", job.name)


def _take_lock(services: Services) -> IO[bytes] | None:
    path = services.settings.data_dir / "scheduler.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def start(services: Services) -> JobRunner:
    jobs = declared_jobs(services)
    if not jobs:
        return JobRunner([], None)
    lock = _take_lock(services)
    if lock is None:
        log.info("another worker runs the background jobs")
        return JobRunner([], None)
    tasks = [asyncio.create_task(_loop(job, services), name=job.name) for job in jobs]
    return JobRunner(tasks, lock)
