"""The SQLite write path: short transactions on the event loop, one lock for all processes.

Each write unit (one statement, or a batch that must be atomic) runs right where it is
awaited, on the event loop thread, as `BEGIN IMMEDIATE ... COMMIT`: an indexed insert or
update takes a fraction of a millisecond, less than handing it to a thread and back.
Measured in bench/ against the alternative, a writer thread with group commit: that
thread is starved of the GIL by the busy event loop (every SQLite call releases the GIL
and must win it back), which put write p99 at 50-80 ms; inline, p99 is 21-23 ms.

Server processes sharing the file take turns on an `flock` beside the database, so a
waiting writer is woken by the kernel the moment the other releases, instead of sleeping
in SQLite's busy handler (1, 2, 5 ... 100 ms between tries). Scripts (migrations, which
may be long) run on a thread under the same lock; run `boothcloud migrate` before
starting servers, not beside them (`serve` refuses pending migrations anyway).

WAL checkpoints run on a background thread (`wal_autocheckpoint=0` on the writer), so no
request pays for copying the WAL back into the database: +50% photo inserts in bench/.
That PASSIVE checkpoint copies frames but never makes the WAL start over: SQLite rewinds
the WAL only when a writer begins while every frame is copied and no reader is on one,
which under sustained writes never happens (the WAL reached 246 MB in 19 s). So once the
WAL holds more than half of its ceiling, the checkpoint thread copies it (PASSIVE, writers
go on), flushes the files and copies again (`_catch_up`), then takes the write lock itself
and runs a RESTART checkpoint, which has only the last frames left to copy and makes the
next writer start the WAL over from its beginning, waiting at most `RESTART_WAIT_MS` for
readers on old snapshots (a dump) before backing off. Writers of every process wait for it
1-6 ms, about once a second under bench/'s photo load. It was a TRUNCATE checkpoint run
by the next writer: shrinking a 32 MB file under the lock took 15 ms alone and 45-96 ms
under load, every second, stalling both workers' writes (p99 97 ms in bench/). RESTART
keeps the file at its size and reuses it; `journal_size_limit` (three quarters of the
ceiling) trims it on the first commit after a restart when a long read let it grow past.

With Litestream replicating the file (`wal_max_bytes=None`) the app checkpoints nothing:
Litestream must copy every WAL frame before it is checkpointed away, so it alone
checkpoints (its documented setup); a RESTART of ours could drop frames it has not
shipped yet and force it to upload a whole new snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

from boothcloud.db.base import IntegrityViolation

log = logging.getLogger("boothcloud.db")
T = TypeVar("T")
BUSY_TIMEOUT_MS = 5_000
CHECKPOINT_EVERY_SECONDS = 1.0
WAL_CHECK_EVERY_SECONDS = 0.2  # a stat() of the WAL file
RESTART_WAIT_MS = 10  # how long a restart waits for readers on old snapshots to move on
RESTART_RETRY_MAX_SECONDS = 5.0  # back-off ceiling while a long read pins the WAL


class SQLiteWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        lock_path: Path,
        translate: Callable[[sqlite3.IntegrityError], IntegrityViolation],
        *,
        db_path: Path,
        wal_max_bytes: int | None,
    ) -> None:
        self._connect = connect
        self._lock_path = lock_path
        self._translate = translate
        self._db_path = db_path
        self._wal_path = Path(f"{db_path}-wal")
        # None: another process (Litestream) checkpoints; no checkpoint thread here.
        self._wal_max_bytes = wal_max_bytes
        self._conn: sqlite3.Connection | None = None
        self._lock: IO[bytes] | None = None
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` as one transaction on this thread, all or nothing."""
        conn, lock = self._open()
        # Blocks the loop only while another process is inside a write transaction
        # (a fraction of a millisecond); the kernel hands the lock over in turn, where
        # polling for it with short sleeps starved one process (p99 64 ms in bench/).
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return self._transaction(conn, work)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    async def run_script(self, script: str) -> None:
        """A multi-statement script (migrations) in its own transaction, on a thread."""

        def work() -> None:
            conn = self._connect()
            try:
                with self._lock_path.open("ab") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    # executescript commits any open transaction first, so the script
                    # carries its own BEGIN/COMMIT.
                    conn.executescript(f"BEGIN IMMEDIATE;\n{script}\n;COMMIT;")
            except sqlite3.Error as error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(error, sqlite3.IntegrityError):
                    raise self._translate(error) from error
                raise
            finally:
                conn.close()

        await asyncio.to_thread(work)

    def close(self) -> None:
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
            self._checkpointer = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # -- plumbing -------------------------------------------------------------------------
    def _open(self) -> tuple[sqlite3.Connection, IO[bytes]]:
        if self._conn is None or self._lock is None:
            self._conn = self._connect()
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpoint thread does it
            self._lock = self._lock_path.open("ab")
            if self._wal_max_bytes is not None:
                self._conn.execute(f"PRAGMA journal_size_limit = {self._wal_max_bytes * 3 // 4}")
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop,
                    args=(self._wal_max_bytes // 2,),
                    name="sqlite-checkpoint",
                    daemon=True,
                )
                self._checkpointer.start()
        return self._conn, self._lock

    def _transaction(self, conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            out = work(conn)
            conn.execute("COMMIT")
        except sqlite3.IntegrityError as error:
            conn.execute("ROLLBACK")
            raise self._translate(error) from error
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return out

    def _wal_bytes(self) -> int:
        try:
            return self._wal_path.stat().st_size
        except FileNotFoundError:
            return 0

    def _checkpoint_loop(self, restart_above: int) -> None:
        """Move the WAL into the database off the request path (PASSIVE never waits), and
        make it start over (`_restart_wal`) once it holds more than `restart_above` bytes.

        The file's size only bounds what the WAL holds: after a restart the file keeps its
        size while the WAL starts over inside it. So a `stat` says when to look, and the
        frame count the PASSIVE pass reports says whether to restart. Once a restart has
        left the file above `restart_above`, every look runs that PASSIVE pass (0.2 s of
        frames at a time instead of 1 s)."""
        conn: sqlite3.Connection | None = None
        frame_bytes = 0
        last_checkpoint = time.monotonic()
        restart_not_before = 0.0
        backoff = WAL_CHECK_EVERY_SECONDS
        try:
            while not self._stop_checkpoints.wait(WAL_CHECK_EVERY_SECONDS):
                now = time.monotonic()
                big = self._wal_bytes() > restart_above
                if not big and now - last_checkpoint < CHECKPOINT_EVERY_SECONDS:
                    continue
                last_checkpoint = now
                try:
                    if conn is None:
                        conn = self._connect()
                        frame_bytes = conn.execute("PRAGMA page_size").fetchone()[0] + 24
                    # (busy, frames in the WAL, frames copied); -1s while another process
                    # checkpoints, which then does this work itself.
                    frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
                    if frames * frame_bytes <= restart_above or now < restart_not_before:
                        continue
                    self._catch_up(conn)
                    if self._restart_wal(conn):
                        backoff = WAL_CHECK_EVERY_SECONDS
                    else:  # a long read pins the WAL: try again later, less and less often
                        restart_not_before = time.monotonic() + backoff
                        backoff = min(backoff * 2, RESTART_RETRY_MAX_SECONDS)
                except (sqlite3.Error, OSError):
                    log.warning("WAL checkpoint failed; trying again", exc_info=True)
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            if conn is not None:
                conn.close()

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        """Before taking the write lock, flush the database file (written by the PASSIVE
        pass) and the WAL to disk, then copy and flush the frames written meanwhile once
        more, so the RESTART checkpoint under the lock has only the last few frames to
        copy and sync. Under the lock, RESTART took 20-27 ms in bench/ right after one
        PASSIVE, 8-14 ms after one flush, 1-6 ms after this. SQLite still syncs as it
        always does; this only does most of that work earlier, outside the lock."""
        self._sync_files()
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._sync_files()

    def _sync_files(self) -> None:
        for path in (self._db_path, self._wal_path):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _restart_wal(self, conn: sqlite3.Connection) -> bool:
        """Copy the frames written since the PASSIVE pass and make the next writer start
        the WAL over; under the write lock (this thread's own descriptor of it, so it
        excludes this process's writer too), so no writer adds frames meanwhile. Readers
        get `RESTART_WAIT_MS` to finish. True when the WAL will start over."""
        conn.execute(f"PRAGMA busy_timeout = {RESTART_WAIT_MS}")
        try:
            with self._lock_path.open("ab") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
                busy = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return not busy
