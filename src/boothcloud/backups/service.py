"""Take, list and prune backups.

A backup streams `Database.dump()` (one read snapshot, writers carry on) into the store:
one-row INSERTs are packed into multi-row ones (`InsertPacker`, which also counts rows per
table, so the counts describe exactly the snapshot in the dump), and blocks of text go to
a second thread that gzips, hashes and uploads them in parts (`GzipUpload`). Nothing is
held whole, so memory stays flat however large the database. The dump object is written
first and its `.json` manifest second: a backup without a manifest is unfinished, is not
listed, and is cleaned up by retention.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from boothcloud.backups import naming
from boothcloud.backups.base import NoProgress, Progress
from boothcloud.backups.schemas import Backup
from boothcloud.backups.sqltext import DumpStats, InsertPacker, is_internal_table
from boothcloud.backups.stream import GzipUpload
from boothcloud.db.base import Database
from boothcloud.db.d1 import D1Database
from boothcloud.db.dump import quote_identifier
from boothcloud.storage import ObjectStore
from boothcloud.timeutil import utcnow

log = logging.getLogger("boothcloud.backups")

BLOCK_CHARS = 1 << 20  # dump text handed to the compressing thread at a time
_reserved: set[str] = set()  # keys being written by this process right now


async def create_backup(
    db: Database,
    store: ObjectStore,
    *,
    retention: int | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> Backup:
    """Dump, compress, upload, write the manifest, then prune past `retention` backups."""
    total = await _estimate_rows(db) if progress is not None else None
    progress = progress or NoProgress()
    moment = await _free_moment(store, now or utcnow())
    key = naming.dump_key(moment)
    try:
        writer = await asyncio.to_thread(store.open_writer, key, "application/gzip")
        upload = GzipUpload(writer)
        progress.start("Dumping", total)
        try:
            stats = await _dump_into(db, upload, progress)
            await upload.commit()
        except BaseException:
            await upload.abort()
            raise
        backup = Backup(
            key=key,
            size=upload.size,
            sha256=upload.sha256.hexdigest(),
            tables=stats.tables,
            created_at=moment,
            **_d1_report(db, key),
        )
        manifest = backup.model_dump_json(indent=2).encode()
        await store.put(naming.manifest_key(key), manifest, "application/json")
    finally:
        _reserved.discard(key)
    log.info("backup %s: %d bytes, %d rows", key, backup.size, stats.rows)
    if retention is not None:
        try:
            await prune(store, retention)
        except Exception:  # the backup itself is safe; pruning runs again next time
            log.exception("pruning old backups failed")
    return backup


def _d1_report(db: Database, key: str) -> dict[str, object]:
    """A D1 dump's bookmark and whether D1 changed under it, for the manifest."""
    report = db.last_dump if isinstance(db, D1Database) else None
    if report is None:
        return {}
    if not report.consistent:
        log.warning(
            "backup %s: D1 changed during the paged dump (tables: %s); for an exact copy "
            "restore D1 to bookmark %s with Time Travel",
            key,
            ", ".join(report.changed_tables) or "unknown",
            report.bookmark,
        )
    return {
        "d1_bookmark": report.bookmark,
        "consistent": report.consistent,
        "changed_tables": report.changed_tables,
    }


async def _free_moment(store: ObjectStore, moment: datetime) -> datetime:
    """A timestamp no other backup uses: two backups within one second get the next one."""
    while True:
        key = naming.dump_key(moment)
        if key not in _reserved:
            _reserved.add(key)  # before awaiting, so a concurrent backup skips it
            if await store.head(key) is None:
                return moment
            _reserved.discard(key)
        moment += timedelta(seconds=1)


async def _dump_into(db: Database, upload: GzipUpload, progress: Progress) -> DumpStats:
    out: list[str] = []
    packer = InsertPacker(out)
    reported = chars = 0

    async def send() -> None:
        nonlocal reported, chars
        out.append("")  # the last statement's line end
        block = "\n".join(out).encode()
        out.clear()
        chars = 0
        await upload.send(block)
        progress.advance(packer.stats.rows - reported)
        reported = packer.stats.rows

    stream = db.dump()
    try:
        async for statement in stream:
            before = len(out)
            packer.add(statement)
            if len(out) != before:
                chars += sum(len(s) for s in out[before:])
                if chars >= BLOCK_CHARS:
                    await send()
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    packer.flush()
    if out:
        await send()
    return packer.stats


async def _estimate_rows(db: Database) -> int | None:
    """Rows to dump, for a progress bar only (read outside the dump's snapshot)."""
    try:
        names = await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
        total = 0
        for row in names:
            name = str(row["name"])
            if not is_internal_table(name):
                counted = await db.fetch_all(f"SELECT count(*) AS n FROM {quote_identifier(name)}")
                total += int(counted[0]["n"]) if counted else 0
        return total
    except Exception:
        return None


async def list_backups(store: ObjectStore) -> list[Backup]:
    """Every backup with a readable manifest, newest first; no dump is downloaded."""
    keys = [o.key for o in await store.list(naming.PREFIX) if _suffix(o.key) == ".json"]
    manifests = await asyncio.gather(*(store.get(k) for k in keys), return_exceptions=True)
    items: list[Backup] = []
    for key, raw in zip(keys, manifests, strict=True):
        try:
            if isinstance(raw, BaseException):
                raise raw
            items.append(Backup.model_validate_json(raw))
        except Exception as error:
            log.warning("skipping unreadable backup manifest %s: %s", key, error)
    items.sort(key=lambda b: b.key, reverse=True)
    return items


def _suffix(key: str) -> str | None:
    parsed = naming.parse(key)
    return parsed[1] if parsed else None


async def prune(store: ObjectStore, retention: int) -> list[str]:
    """Keep the newest `retention` complete backups; delete every backup object older.

    Manifests go first, so a half-deleted backup is never listed. Unfinished backups (a
    dump without manifest) older than the oldest kept one go too; newer ones may still be
    in progress and stay.
    """
    stamps: dict[str, set[str]] = {}
    for info in await store.list(naming.PREFIX):
        if (parsed := naming.parse(info.key)) is not None:
            stamps.setdefault(parsed[0], set()).add(parsed[1])
    complete = sorted(
        (s for s, found in stamps.items() if {naming.DUMP_SUFFIX, naming.MANIFEST_SUFFIX} <= found),
        reverse=True,
    )
    if len(complete) <= retention:
        return []
    oldest_kept = complete[retention - 1]
    deleted: list[str] = []
    for stamp in sorted(s for s in stamps if s < oldest_kept):
        for suffix in (naming.MANIFEST_SUFFIX, naming.DUMP_SUFFIX):
            if suffix in stamps[stamp]:
                key = f"{naming.PREFIX}{stamp}{suffix}"
                await store.delete(key)
                deleted.append(key)
    if deleted:
        log.info("retention %d: deleted %s", retention, ", ".join(deleted))
    return deleted
