"""A plain SQL dump that imports into both `sqlite3` and Cloudflare D1.

D1's importer (`wrangler d1 execute --file`) rejects `BEGIN`/`COMMIT` and statements over
100 KB, and needs foreign keys deferred while tables load in any order; so, unlike
`sqlite3.Connection.iterdump`, this writes `PRAGMA defer_foreign_keys=TRUE;` first and no
transaction statements. Same layout as `wrangler d1 export`: tables, rows, then indexes,
triggers and views.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator

DUMP_HEADER = "PRAGMA defer_foreign_keys=TRUE;"
MAX_STATEMENT_BYTES = 100_000


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and math.isinf(value):
        return "9e999" if value > 0 else "-9e999"  # repr() gives `inf`, which is not SQL
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, bytes):
        return "X'" + value.hex() + "'"
    text = "'" + str(value).replace("'", "''") + "'"
    if "\r" in text:  # the sqlite3 shell reads `\r\n` as a line end and drops the `\r`
        text = "(" + text.replace("\r", "'||char(13)||'") + ")"
    return text


def iter_dump(conn: sqlite3.Connection) -> Iterator[str]:
    """Yield one SQL statement at a time; the caller holds a read transaction."""
    yield DUMP_HEADER
    cursor = conn.execute(
        "SELECT type, name, sql FROM sqlite_master "
        "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    )
    cursor.row_factory = None  # plain tuples, whatever the connection's factory
    schema: list[tuple[str, str, str]] = cursor.fetchall()
    tables = [(name, sql) for kind, name, sql in schema if kind == "table"]
    # Every table before any row: with foreign keys on, SQLite refuses a row whose
    # parent table does not exist yet (sessions and payments reference each other).
    for _, sql in tables:
        yield _create_if_missing(sql) + ";"
    for name, _ in tables:
        yield from _rows(conn, name)
    if conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    ).fetchone():
        yield "DELETE FROM sqlite_sequence;"
        yield from _rows(conn, "sqlite_sequence")
    for kind, _, sql in schema:
        if kind != "table":
            yield sql + ";"


def _create_if_missing(sql: str) -> str:
    if sql.upper().startswith("CREATE TABLE ") and "IF NOT EXISTS" not in sql[:40].upper():
        return "CREATE TABLE IF NOT EXISTS " + sql[len("CREATE TABLE ") :]
    return sql


def _rows(conn: sqlite3.Connection, table: str) -> Iterator[str]:
    cursor = conn.execute(f"SELECT * FROM {quote_identifier(table)}")
    cursor.row_factory = None  # plain tuples, whatever the connection's factory
    prefix = f"INSERT INTO {quote_identifier(table)} VALUES("
    for values in cursor:
        statement = prefix + ",".join(_literal(v) for v in values) + ");"
        if len(statement.encode()) > MAX_STATEMENT_BYTES:
            raise ValueError(
                f"a row of {table} needs a statement over {MAX_STATEMENT_BYTES} bytes, "
                "which D1 cannot import"
            )
        yield statement
