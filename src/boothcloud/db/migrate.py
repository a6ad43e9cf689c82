"""Apply `boothcloud/migrations/NNNN_name.sql` in order, recorded exactly as wrangler records them.

`wrangler d1 migrations apply` keeps a `d1_migrations(id, name, applied_at)` table and
stores each file's name (with `.sql`). Using the same table means one folder of migrations
deploys to a real D1 with wrangler and to SQLite with `boothcloud migrate`, and either
tool sees what the other applied. Each file runs atomically together with its record, so
a failing migration leaves the earlier ones applied and itself unrecorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from boothcloud.db.base import Database

MIGRATIONS_TABLE = "d1_migrations"
CREATE_MIGRATIONS_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);
"""
_NAME = re.compile(r"^\d{4}_[A-Za-z0-9_\-]+\.sql$")


class MigrationError(Exception):
    """A migration file failed; the message names it and the database's reason."""


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover(folder: Path) -> list[Migration]:
    """Every `NNNN_name.sql` in the folder, in order; other files are ignored."""
    if not folder.is_dir():
        raise MigrationError(f"migrations folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if _NAME.match(p.name))
    return [Migration(p.name, p) for p in files]


async def applied(db: Database) -> list[str]:
    """Names recorded so far; a read only (readiness probes call this), so a database
    that was never migrated simply has none."""
    exists = await db.fetch_all(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (MIGRATIONS_TABLE,)
    )
    if not exists:
        return []
    rows = await db.fetch_all(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY id")
    return [str(r["name"]) for r in rows]


async def pending(db: Database, folder: Path) -> list[Migration]:
    done = set(await applied(db))
    return [m for m in discover(folder) if m.name not in done]


async def migrate(db: Database, folder: Path) -> list[str]:
    """Apply what is pending, one atomic unit per file; return the names applied."""
    await db.executescript(CREATE_MIGRATIONS_TABLE)
    names: list[str] = []
    for migration in await pending(db, folder):
        script = (
            migration.sql()
            + f"\n;\nINSERT INTO {MIGRATIONS_TABLE} (name) VALUES ('{migration.name}');"
        )
        try:
            await db.executescript(script)
        except Exception as error:
            raise MigrationError(f"{migration.name} failed: {error}") from error
        names.append(migration.name)
    return names
