"""Database backends behind one interface (`boothcloud.db.base.Database`)."""

from __future__ import annotations

from boothcloud.db.base import Database
from boothcloud.settings import Settings


def open_database(settings: Settings) -> Database:
    if settings.database_backend == "d1":
        from boothcloud.db.d1 import D1Database

        return D1Database.from_settings(settings)
    from boothcloud.db.sqlite import SQLiteDatabase

    return SQLiteDatabase(
        settings.sqlite_path,
        synchronous=settings.sqlite_synchronous,
        # Litestream must see every WAL frame before a checkpoint: then it alone checkpoints.
        wal_max_bytes=None if settings.litestream_enabled else settings.sqlite_wal_max_bytes,
    )
