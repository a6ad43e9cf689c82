"""Session housekeeping: open sessions the booth never closed become `abandoned`, and
expired or revoked galleries lose their objects (originals and thumbnails).

The clock is a parameter (`now`), so tests move time instead of waiting. Rows stay for
accounting: a purged photo keeps its row with `purged_at` set. A photo that is queued
(pending and uploaded) or printing is never touched; its session is purged on a later run,
once the print is done.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from boothcloud.db.base import Database
from boothcloud.sessions import repository
from boothcloud.settings import Settings
from boothcloud.storage import ObjectStore
from boothcloud.storage.keys import InvalidKey
from boothcloud.timeutil import to_db

log = logging.getLogger("boothcloud.sessions")

SESSIONS_PER_RUN = 100


@dataclass(frozen=True, slots=True)
class Purged:
    sessions: int = 0  # galleries now wholly purged
    photos: int = 0
    objects: int = 0


async def abandon_stale(db: Database, settings: Settings, now: datetime) -> int:
    cutoff = now - timedelta(minutes=settings.session_abandon_after_minutes)
    moved = await repository.abandon_open(db, to_db(cutoff))
    if moved:
        log.info("abandoned %d open session(s) older than %s", moved, to_db(cutoff))
    return moved


async def _delete(store: ObjectStore, key: str) -> None:
    with contextlib.suppress(InvalidKey):  # nothing this API could have stored there
        await store.delete(key)


async def purge_expired(db: Database, store: ObjectStore, now: datetime) -> Purged:
    """Mark each ended gallery's purgeable photos purged (one conditional UPDATE, so a
    photo claimed meanwhile is skipped), then delete their objects; photos whose objects
    could not be deleted are unmarked and tried again next run."""
    stamp = to_db(now)
    sessions = photos = objects = 0
    for session in await repository.expired_unpurged(db, stamp, SESSIONS_PER_RUN):
        session_id = str(session["id"])
        marked = await repository.mark_purged(db, session_id, stamp)
        failed: list[str] = []
        for photo in marked:
            keys = [str(photo["r2_key"])] + (
                [str(photo["thumb_key"])] if photo["thumb_key"] else []
            )
            try:
                for key in keys:
                    await _delete(store, key)
            except Exception:
                log.exception("purging photo %s failed; it is tried again", photo["id"])
                failed.append(str(photo["id"]))
                continue
            objects += len(keys)
        if failed:
            await repository.unmark_purged(db, failed)
        photos += len(marked) - len(failed)
        if await repository.finish_purge(db, session_id, stamp):
            sessions += 1
    if photos:
        log.info("purged %d photo(s); %d gallery(ies) done", photos, sessions)
    return Purged(sessions, photos, objects)
