"""Restore a dump into a new SQLite file, check it, and only then move it into place.

The dump loads into a hidden file beside the target; its checksum, `integrity_check`,
`foreign_key_check` and the rows per table (counted by SQLite, against the manifest, or
against the dump's own INSERTs for a foreign dump) must all pass before an atomic rename
makes it the target. So a failed or interrupted restore leaves the target exactly as it
was (folders it had to create are removed again). That file is scratch until the rename,
so it loads without a journal and without syncs (`journal_mode=OFF`, `synchronous=OFF`),
then is synced once, whole.

The dump streams in: blocks of whole statements (cut where SQLite's tokenizer says a
statement ends, see `stream.statement_blocks`) run through `executescript` inside a
`BEGIN ... COMMIT` we write ourselves (Python 3.11's `executescript` commits any open
transaction first, so one transaction cannot span blocks). A foreign dump is split
statement by statement instead, to count its rows and to skip the `BEGIN`/`COMMIT` that
`sqlite3 .dump` writes. Foreign keys are off while loading, because dumps list tables in
creation order, not dependency order; `foreign_key_check` catches what they would have.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from boothcloud.backups.base import BackupError, NoProgress, Progress
from boothcloud.backups.source import (
    Source,
    check_blocks,
    describe_differences,
    load_source,
    read_checked,
    scan_statements,
)
from boothcloud.backups.sqltext import DumpStats, is_internal_table, is_transaction_statement
from boothcloud.db.dump import quote_identifier
from boothcloud.storage import ObjectStore

CHUNK_CHARS = 4 << 20  # a foreign dump's statements per executescript call
# SQLite's page cache while loading. Index builds sort in a second buffer of the same
# size (vdbesort's PMA), so a restore holds twice this: on the 1 GB benchmark database
# (bench/backup.py) 16 MiB peaked at 111 MB, 4 MiB at 79 MB, in 28.6-33.8 s against
# 29.0-29.2 s, within the shared machine's noise (longer sorts spill sorted runs to
# temporary files, which the OS caches, not the process).
CACHE_KIB = 4 << 10
SIDECARS = ("-journal", "-wal", "-shm")


@dataclass(frozen=True, slots=True)
class RestoreReport:
    source: str
    target: Path
    checksum_checked: bool
    statements: int | None  # None: a checksummed dump, loaded in blocks without parsing
    tables: dict[str, int]  # rows found in the restored file, all equal to the expected


def check_target(target: Path, live_path: Path | None, *, force: bool) -> None:
    """Refuse before downloading anything: never clobber a file or the live database."""
    if target.is_dir():
        raise BackupError(f"{target} is a directory; give a database file path")
    if force:
        return
    if live_path is not None and target.resolve() == live_path.resolve():
        raise BackupError(
            f"{target} is the live database; restore elsewhere, or stop the server and pass --force"
        )
    if target.exists():
        raise BackupError(f"{target} already exists; pass --force to replace it")


async def restore_backup(
    store: ObjectStore,
    name: str,
    target: Path,
    *,
    live_path: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> RestoreReport:
    progress = progress or NoProgress()
    check_target(target, live_path, force=force)
    source = await load_source(store, name)
    return await asyncio.to_thread(restore_file, source, target, progress)


def remove_database(path: Path) -> None:
    """The file and its sidecars (a half-restored temporary)."""
    for suffix in ("", *SIDECARS):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; return those created, deepest first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def restore_file(source: Source, target: Path, progress: Progress) -> RestoreReport:
    created = _make_folders(target.parent)
    temporary = target.with_name(f".{target.name}.restoring-{os.getpid()}")
    remove_database(temporary)
    conn = sqlite3.connect(str(temporary), isolation_level=None)
    try:
        for pragma in ("foreign_keys = OFF", "journal_mode = OFF", "synchronous = OFF"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        stats, _ = read_checked(source, progress, lambda texts: _load(conn, source, texts))
        progress.start("Checking", None)
        tables = _check(conn, source, stats)
        move_into_place(conn, temporary, target)
    except BaseException:
        with suppress(sqlite3.Error):
            conn.close()
        remove_database(temporary)
        for folder in created:
            with suppress(OSError):
                folder.rmdir()
        raise
    checked = source.manifest is not None
    statements = None if checked else stats.statements
    return RestoreReport(source.name, target, checked, statements, tables)


def move_into_place(conn: sqlite3.Connection, temporary: Path, target: Path) -> None:
    """Close the checked file in WAL mode, sync it, and rename it over `target` (atomic)."""
    conn.execute("PRAGMA journal_mode = WAL")  # what boothcloud runs on
    conn.close()
    _sync(temporary)
    for suffix in SIDECARS:  # a stale WAL beside the target would corrupt the new file
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    temporary.replace(target)


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _chunks(statements: Iterator[str]) -> Iterator[str]:
    chunk: list[str] = []
    size = 0
    for statement in statements:
        if is_transaction_statement(statement):
            continue  # `sqlite3 .dump` brackets its dump; we own the transaction
        chunk.append(statement)
        size += len(statement)
        if size >= CHUNK_CHARS:
            yield "\n".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield "\n".join(chunk)


def _load(conn: sqlite3.Connection, source: Source, texts: Iterable[bytes]) -> DumpStats:
    """Run the dump's statements; the rows a foreign dump's INSERTs add are counted."""
    stats = DumpStats()
    blocks = (
        check_blocks(source.name, texts)
        if source.manifest is not None
        else _chunks(scan_statements(texts, stats))
    )
    for number, block in enumerate(blocks, 1):
        try:
            conn.executescript("BEGIN;\n" + block + "\nCOMMIT;")
        except (sqlite3.Error, ValueError) as error:  # ValueError: a NUL in the SQL text
            raise BackupError(
                f"restoring {source.name} failed in block {number} of its statements: {error}"
            ) from None
    return stats


def _check(conn: sqlite3.Connection, source: Source, stats: DumpStats) -> dict[str, int]:
    tables = check_database(conn)
    expected = source.manifest.tables if source.manifest is not None else stats.tables
    if tables != expected:
        raise BackupError(
            "rows per table differ after restore: " + describe_differences(expected, tables)
        )
    return tables


def check_database(conn: sqlite3.Connection) -> dict[str, int]:
    """`integrity_check` and `foreign_key_check` must pass; returns the rows per table."""
    integrity = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        raise BackupError("integrity_check failed: " + "; ".join(integrity[:3]))
    violations = conn.execute("PRAGMA foreign_key_check").fetchall()
    if violations:
        table, rowid, parent = violations[0][:3]
        raise BackupError(
            f"foreign_key_check found {len(violations)} violation(s), "
            f"e.g. {table} rowid {rowid} -> {parent}"
        )
    names = [
        str(row[0])
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not is_internal_table(str(row[0]))
    ]
    return {
        name: int(conn.execute(f"SELECT count(*) FROM {quote_identifier(name)}").fetchone()[0])
        for name in names
    }
