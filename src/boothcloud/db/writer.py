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
WAL passes half of its ceiling, the checkpoint thread copies it (PASSIVE, writers go on)
and flags it; the next writer, right after its commit and still holding the lock, runs a
TRUNCATE checkpoint that only has the last few frames left to copy, waiting at most
`TRUNCATE_WAIT_MS` for readers on old snapshots (a dump) before trying again later.

With Litestream replicating the file (`wal_max_bytes=None`) the app checkpoints nothing:
Litestream must copy every WAL frame before it is checkpointed away, so it alone
checkpoints (its documented setup); a TRUNCATE of ours could drop frames it has not
shipped yet and force it to upload a whole new snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
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
TRUNCATE_WAIT_MS = 10  # how long a truncating writer waits for readers to move on
TRUNCATE_RETRY_MAX_SECONDS = 5.0  # back-off ceiling while a long read pins the WAL


class SQLiteWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        lock_path: Path,
        translate: Callable[[sqlite3.IntegrityError], IntegrityViolation],
        *,
        wal_path: Path,
        wal_max_bytes: int | None,
    ) -> None:
        self._connect = connect
        self._lock_path = lock_path
        self._translate = translate
        self._wal_path = wal_path
        # None: another process (Litestream) checkpoints; no checkpoint thread here.
        self._truncate_above = None if wal_max_bytes is None else wal_max_bytes // 2
        # Set by the checkpoint thread, done by the next writer (plain attributes: the GIL
        # makes each read and write atomic, and a missed or doubled flag is harmless).
        self._truncate_due = False
        self._truncate_not_before = 0.0
        self._truncate_backoff = WAL_CHECK_EVERY_SECONDS
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
            out = self._transaction(conn, work)
            if self._truncate_due:
                self._truncate_wal(conn)
            return out
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    def _truncate_wal(self, conn: sqlite3.Connection) -> None:
        """Copy the WAL's last frames and truncate it; under the write lock, so no writer
        of any process adds frames meanwhile. Readers get `TRUNCATE_WAIT_MS` to finish."""
        self._truncate_due = False
        conn.execute(f"PRAGMA busy_timeout = {TRUNCATE_WAIT_MS}")
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.Error:  # never fail the write that just committed
            log.warning("WAL truncation failed; trying again later", exc_info=True)
            busy = 1
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if busy:
            self._truncate_not_before = time.monotonic() + self._truncate_backoff
            self._truncate_backoff = min(self._truncate_backoff * 2, TRUNCATE_RETRY_MAX_SECONDS)
        else:
            self._truncate_backoff = WAL_CHECK_EVERY_SECONDS

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
            if self._truncate_above is not None:
                self._checkpointer = threading.Thread(
                    target=self._checkpoint_loop,
                    args=(self._truncate_above,),
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

    def _checkpoint_loop(self, truncate_above: int) -> None:
        """Move the WAL into the database off the request path (PASSIVE never waits), and
        flag a truncation for the next writer when the WAL has grown past its threshold."""
        conn: sqlite3.Connection | None = None
        last_checkpoint = time.monotonic()
        try:
            while not self._stop_checkpoints.wait(WAL_CHECK_EVERY_SECONDS):
                now = time.monotonic()
                over = self._wal_bytes() > truncate_above
                if not over and now - last_checkpoint < CHECKPOINT_EVERY_SECONDS:
                    continue
                last_checkpoint = now
                try:
                    conn = conn or self._connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    log.warning("WAL checkpoint failed; trying again", exc_info=True)
                    continue
                if over and now >= self._truncate_not_before:
                    self._truncate_due = True
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            if conn is not None:
                conn.close()
