"""Object keys of backups: `backups/db-backup-<UTC timestamp>.sql.gz` plus a `.json` manifest.

The timestamp is `YYYYMMDDTHHMMSSZ`, so keys sort by time as plain strings and the store's
listing alone tells which backups are oldest (retention never downloads a dump).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

PREFIX = "backups/db-backup-"
DUMP_SUFFIX = ".sql.gz"
MANIFEST_SUFFIX = ".json"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_KEY = re.compile(r"^backups/db-backup-(\d{8}T\d{6}Z)(\.sql\.gz|\.json)$")


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def dump_key(moment: datetime) -> str:
    return f"{PREFIX}{stamp(moment)}{DUMP_SUFFIX}"


def manifest_key(key: str) -> str:
    """The manifest beside a dump key (`...Z.sql.gz` -> `...Z.json`)."""
    return key.removesuffix(DUMP_SUFFIX) + MANIFEST_SUFFIX


def parse(key: str) -> tuple[str, str] | None:
    """(timestamp, suffix) of a backup object key, or None for any other object."""
    match = _KEY.match(key)
    return (match.group(1), match.group(2)) if match else None


def is_backup_dump(key: str) -> bool:
    found = parse(key)
    return found is not None and found[1] == DUMP_SUFFIX
