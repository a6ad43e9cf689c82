"""The embedded SQLite backend: WAL, short inline writes, reads inline or on a pool.

Why this shape (after Datasette's `database.py`, then measured in bench/): SQLite allows
one writer at a time. Writes are short indexed statements, so each unit runs as one
`BEGIN IMMEDIATE ... COMMIT` right on the event loop, and processes sharing the file take
turns on an flock (`writer.py` says why, with the numbers). Reads in WAL mode see a
consistent snapshot and never wait for the writer: point lookups (`fetch_one`) run inline
too, scans and lists (`fetch_all`) and dumps on a small reader pool. Anything that could
be slow (scans, dumps, migration scripts) stays off the event loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import Literal, TypeVar

from boothcloud.db.base import IntegrityViolation, Params, Result, Row, Statement
from boothcloud.db.dump import iter_dump
from boothcloud.db.writer import BUSY_TIMEOUT_MS, SQLiteWriter

T = TypeVar("T")
Synchronous = Literal["NORMAL", "FULL"]
DEFAULT_WAL_MAX_BYTES = 64 * 1024 * 1024
DUMP_CHUNK = 500  # statements fetched per hop to the reader thread, at most
DUMP_CHUNK_CHARS = 1 << 20  # and about this much text (multi-row INSERTs are ~100 KB)


def _one(cursor: sqlite3.Cursor) -> Row | None:
    row = cursor.fetchone()
    names = [column[0] for column in cursor.description]
    cursor.close()  # ends the read snapshot now, not whenever the cursor is collected
    if row is None:
        return None
    return dict(zip(names, row, strict=True))


def _all(cursor: sqlite3.Cursor) -> list[Row]:
    """Rows as dicts, naming the columns once per query rather than once per row."""
    rows = cursor.fetchall()
    if not rows:
        return []
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _chunk(statements: Iterator[str]) -> list[str]:
    """The next statements of a dump, up to `DUMP_CHUNK` of them or `DUMP_CHUNK_CHARS`."""
    chunk: list[str] = []
    size = 0
    for statement in islice(statements, DUMP_CHUNK):
        chunk.append(statement)
        size += len(statement)
        if size >= DUMP_CHUNK_CHARS:
            break
    return chunk


def connect(
    path: Path | str, *, readonly: bool = False, synchronous: Synchronous = "NORMAL"
) -> sqlite3.Connection:
    """Open a connection with the pragmas every boothcloud connection needs.

    `synchronous=NORMAL` in WAL mode syncs the WAL only at checkpoints: a power loss (not
    a process crash, which loses nothing committed) can lose the transactions committed
    since the last sync, and never corrupts the database. `FULL` syncs every commit.
    """
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        # Switching needs an exclusive lock; once WAL (persistent), never ask again.
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


def integrity_violation(error: sqlite3.IntegrityError) -> IntegrityViolation:
    """Name the constraint SQLite refused: `UNIQUE constraint failed: customers.email`."""
    message = str(error)
    head, _, tail = message.partition(" constraint failed")
    constraint = tail.removeprefix(": ").strip()
    if constraint.startswith("index '"):
        constraint = constraint.removeprefix("index '").removesuffix("'")
    if not constraint:
        constraint = head.upper()  # FOREIGN KEY carries no name
    return IntegrityViolation(head.lower().replace(" ", "_"), constraint, message)


class SQLiteDatabase:
    """`Database` on a local SQLite file."""

    def __init__(
        self,
        path: Path | str,
        *,
        readers: int = 4,
        synchronous: Synchronous = "NORMAL",
        wal_max_bytes: int | None = DEFAULT_WAL_MAX_BYTES,  # None: Litestream checkpoints
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._reader_pool = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="sqlite-r")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._inline: sqlite3.Connection | None = None  # reads on the event loop thread
        self._writer = SQLiteWriter(
            lambda: connect(self.path, synchronous=synchronous),
            Path(f"{self.path}.write-lock"),
            integrity_violation,
            db_path=self.path,
            wal_max_bytes=wal_max_bytes,
        )

    # -- plumbing -------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    async def _run(self, pool: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn)

    @staticmethod
    def _run_statement(conn: sqlite3.Connection, sql: str, params: Params) -> Result:
        before = conn.total_changes
        rows = _all(conn.execute(sql, tuple(params)))
        return Result(rows=rows, changes=conn.total_changes - before)

    # -- Database interface ---------------------------------------------------------------
    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        # Point lookups (by key or unique index) take microseconds: cheaper inline than a
        # hop to a reader thread and back. Scans and lists stay on the reader pool.
        return _one(self._loop_reader().execute(sql, tuple(params)))

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        def work() -> list[Row]:
            return _all(self._reader().execute(sql, tuple(params)))

        return await self._run(self._reader_pool, work)

    def _loop_reader(self) -> sqlite3.Connection:
        conn = self._inline
        if conn is None:
            conn = self._inline = connect(self.path, readonly=True)
            with self._lock:
                self._connections.append(conn)
        return conn

    async def execute(self, sql: str, params: Params = ()) -> Result:
        return await self._writer.run(lambda conn: self._run_statement(conn, sql, params))

    async def batch(self, statements: Sequence[Statement]) -> list[Result]:
        def work(conn: sqlite3.Connection) -> list[Result]:
            return [self._run_statement(conn, s.sql, s.params) for s in statements]

        return await self._writer.run(work)

    async def executescript(self, script: str) -> None:
        await self._writer.run_script(script)

    async def dump(self) -> AsyncIterator[str]:
        """Stream a consistent dump from a read snapshot; writers carry on meanwhile."""
        conn = await self._run(self._reader_pool, lambda: connect(self.path, readonly=True))
        try:
            await self._run(self._reader_pool, lambda: conn.execute("BEGIN"))
            statements: Iterator[str] = iter_dump(conn)
            while chunk := await self._run(self._reader_pool, lambda: _chunk(statements)):
                for statement in chunk:
                    yield statement
        finally:
            await self._run(self._reader_pool, conn.close)

    async def close(self) -> None:
        self._writer.close()
        self._reader_pool.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
