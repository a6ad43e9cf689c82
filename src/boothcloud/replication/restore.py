"""`backup restore --at <time> --to <file>`: the database as it was at a moment, from Litestream.

`litestream restore -timestamp` rebuilds the file from the replica's newest snapshot before
that moment plus every transaction file created before it, into a hidden file beside the
target. Then the same checks as a dump restore (`backups.restore.check_database`:
integrity_check, foreign_key_check) and the same atomic rename; a refused or failed
restore leaves the target as it was. The moment is exclusive and as precise as Litestream's
transaction files: a commit is in the restored file if Litestream had read it from the WAL
before that moment (it looks every second).

Litestream's own bookkeeping tables (`_litestream_seq`, `_litestream_lock`) are dropped from
the restored copy: they belong to a replicating Litestream, which creates them again.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from boothcloud.backups.base import BackupError
from boothcloud.backups.restore import (
    check_database,
    check_target,
    move_into_place,
    remove_database,
)
from boothcloud.replication.litestream import ReplicationError, prepare
from boothcloud.settings import Settings

RESTORE_TIMEOUT_SECONDS = 6 * 3600
LITESTREAM_TABLES = ("_litestream_seq", "_litestream_lock")


@dataclass(frozen=True, slots=True)
class PointInTimeReport:
    at: datetime
    target: Path
    tables: dict[str, int]


def rfc3339(moment: datetime) -> str:
    """Litestream's `-timestamp` format, in UTC with its microseconds."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def restore_at(
    settings: Settings, at: datetime, target: Path, *, force: bool = False
) -> PointInTimeReport:
    if at.tzinfo is None:
        raise BackupError("give the moment with its offset, e.g. 2026-12-01T13:45:00Z")
    live = settings.sqlite_path if settings.database_backend == "sqlite" else None
    check_target(target, live, force=force)
    try:
        litestream = prepare(settings)
    except ReplicationError as error:
        raise BackupError(str(error)) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    remove_database(temporary)
    command = litestream.command(
        "restore", "-timestamp", rfc3339(at), "-o", str(temporary), str(litestream.database)
    )

    def work() -> dict[str, int]:
        done = subprocess.run(  # noqa: S603 - our binary, our arguments
            command,
            env=litestream.env,
            capture_output=True,
            text=True,
            timeout=RESTORE_TIMEOUT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise BackupError(f"litestream restore at {rfc3339(at)} failed: {reason}")
        conn = sqlite3.connect(str(temporary), isolation_level=None)
        try:
            for table in LITESTREAM_TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            tables = check_database(conn)
            move_into_place(conn, temporary, target)
        except BaseException:
            with suppress(sqlite3.Error):
                conn.close()
            raise
        return tables

    try:
        tables = await asyncio.to_thread(work)
    except BaseException:
        remove_database(temporary)
        raise
    return PointInTimeReport(at, target, tables)
