"""What a refused request must leave unchanged: a digest of every table of a SQLite file.

Read through a separate read-only connection to the real file, so it sees exactly what
the server committed, whether the app runs in this process or behind a live socket.
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path


def table_digests(path: Path, exclude: frozenset[str] = frozenset()) -> dict[str, str]:
    """SHA-256 of each table's rows (in a fixed order), by table name."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        names = [
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if row[0] not in exclude
        ]
        digests = {}
        for name in sorted(names):
            rows = sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{name}"'))
            digests[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return digests
