"""Backups from the console: taken and verified as background work, never in the request.

The button starts an asyncio task in the serving process (the same `create_backup` and
`verify` the API, the CLI and the weekly job call) and answers at once; the page polls
the task's progress, reported through the backups' own `Progress` hook. One task at a
time per process: a second click while one runs is told so. The task's state lives in
memory (a restart forgets a finished task; the backup itself is in the store).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

from boothcloud.backups import service as backups
from boothcloud.backups import source
from boothcloud.backups.base import BackupError
from boothcloud.deps import Services
from boothcloud.errors import Conflict

log = logging.getLogger("boothcloud.console")


@dataclass
class BackupTask:
    """What the progress panel shows; written from worker threads, hence the lock."""

    kind: str  # "backup" or "verify"
    target: str | None = None  # the verified key
    step: str = "Starting"
    done: int = 0
    total: int | None = None
    finished: bool = False
    error: str | None = None
    outcome: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, description: str, total: int | None) -> None:
        with self._lock:
            self.step, self.total, self.done = description, total, 0

    def advance(self, amount: int) -> None:
        with self._lock:
            self.done += amount

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(self.done * 100 / self.total))


_KEY = "console_backup_task"
_RUNNING: set[asyncio.Task[None]] = set()  # strong references until each task ends


def current(services: Services) -> BackupTask | None:
    task: BackupTask | None = services.extras.get(_KEY)
    return task


def start(services: Services, kind: str, target: str | None = None) -> BackupTask:
    """Begin a backup (or a verification of `target`) in the background."""
    running = current(services)
    if running is not None and not running.finished:
        raise Conflict(f"a {running.kind} is already running", code="BACKUP_RUNNING")
    task = BackupTask(kind=kind, target=target)
    services.extras[_KEY] = task
    job = asyncio.get_running_loop().create_task(_run(services, task))
    _RUNNING.add(job)
    job.add_done_callback(_RUNNING.discard)
    return task


async def _run(services: Services, task: BackupTask) -> None:
    try:
        if task.kind == "verify":
            assert task.target is not None
            report = await source.verify(services.store, task.target, task)
            checked = "checksum matches" if report.checksum_checked else "no checksum"
            rows = sum(report.tables.values())
            task.outcome = f"{task.target}: {checked}, {rows} rows read back"
        else:
            made = await backups.create_backup(
                services.db,
                services.store,
                retention=services.settings.backup_retention,
                progress=task,
            )
            task.outcome = f"{made.key} taken ({made.size} bytes)"
    except BackupError as error:
        task.error = str(error)
    except Exception:
        log.exception("console %s failed", task.kind)
        task.error = f"the {task.kind} failed unexpectedly; see the server log"
    finally:
        task.step = "Done" if task.error is None else "Failed"
        task.finished = True
