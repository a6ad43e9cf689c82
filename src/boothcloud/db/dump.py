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
MAX_PRINTF_COLUMNS = 100  # SQLite functions take at most 127 arguments


class InsertStatement(str):
    """A multi-row `INSERT` that also says which table and how many rows it holds, so the
    backup counts rows without parsing; to anything else it is a plain `str`."""

    table: str
    rows: int

    def __new__(cls, text: str, table: str, rows: int) -> InsertStatement:
        statement = super().__new__(cls, text)
        statement.table = table
        statement.rows = rows
        return statement


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
        "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        # Litestream's bookkeeping (`_litestream_seq`, `_litestream_lock`) is not data and
        # must not travel into a D1 import.
        "AND name NOT LIKE '\\_litestream\\_%' ESCAPE '\\' ORDER BY rowid"
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


def _affinity(declared: str) -> str:
    """SQLite's column affinity from a declared type (https://sqlite.org/datatype3.html)."""
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not upper or "BLOB" in upper:
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def _literal_sql(column: str) -> str:
    """Any value of `column` as an SQL literal: SQLite's `quote()`, except for infinities,
    which it writes as `Inf` (not SQL)."""
    return (
        f"iif(typeof({column}) = 'real' AND abs({column}) > 1.7976931348623157e308, "
        f"iif({column} > 0, '9e999', '-9e999'), quote({column}))"
    )


def _expected_sql(column: str, affinity: str) -> tuple[str, str, str]:
    """(printf format, argument, condition) rendering the values a column of this affinity
    normally holds (text or NULL in a TEXT or NUMERIC column, integers in an INTEGER one):
    one `printf()` per row costs half of `quote()` per value joined with `||`."""
    if affinity == "INTEGER":
        return (
            "%s",
            f"ifnull({column}, 'NULL')",
            f"({column} IS NULL OR typeof({column}) = 'integer')",
        )
    if affinity in ("TEXT", "NUMERIC"):
        return "%Q", column, f"({column} IS NULL OR typeof({column}) = 'text')"
    finite = f"(typeof({column}) <> 'real' OR abs({column}) <= 1.7976931348623157e308)"
    return "%s", f"quote({column})", finite


def _row_sql(columns: list[tuple[str, str]]) -> str:
    """SQL that renders a row as its `(v1,v2,...)` tuple of literals, in SQLite's C code.

    Rows holding only what their columns normally hold take one `printf()`; any other row
    (a blob in a TEXT column, an infinity) falls back to `quote()` per value.
    """
    names = [quote_identifier(name) for name, _ in columns]
    slow = "'(' || " + " || ',' || ".join(_literal_sql(name) for name in names) + " || ')'"
    if len(columns) > MAX_PRINTF_COLUMNS:
        return slow
    parts = [_expected_sql(name, _affinity(t)) for name, (_, t) in zip(names, columns, strict=True)]
    template = "(" + ",".join(f for f, _, _ in parts) + ")"
    arguments = ", ".join(a for _, a, _ in parts)
    expected = " AND ".join(c for _, _, c in parts)
    return f"CASE WHEN {expected} THEN printf({_text(template)}, {arguments}) ELSE {slow} END"


def _rows(conn: sqlite3.Connection, table: str) -> Iterator[InsertStatement]:
    """The table's rows as multi-row INSERTs of at most `MAX_STATEMENT_BYTES` (D1's limit),
    the literals rendered by SQLite: Python only joins strings.

    A carriage return becomes `'||char(13)||'` (the sqlite3 shell reads `\\r\\n` as a line
    end and drops the `\\r`); rendered values hold one only inside a string literal.
    """
    columns = conn.execute(f"SELECT name, type FROM pragma_table_info({_text(table)})")
    names = [(str(n), str(t)) for n, t in columns.fetchall()]
    prefix = f"INSERT INTO {quote_identifier(table)} VALUES"
    room = MAX_STATEMENT_BYTES - len(prefix.encode()) - 1  # and the closing `;`
    cursor = conn.execute(f"SELECT {_row_sql(names)} FROM {quote_identifier(table)}")
    cursor.row_factory = None  # plain tuples, whatever the connection's factory
    rows: list[str] = []
    size = -1  # no comma before the first row
    for (row,) in cursor:  # one row at a time: memory holds one statement, whatever the rows
        if "\r" in row:
            row = row.replace("\r", "'||char(13)||'")
        length = len(row) if row.isascii() else len(row.encode())
        if length > room:
            raise ValueError(
                f"a row of {table} needs a statement over {MAX_STATEMENT_BYTES} bytes, "
                "which D1 cannot import"
            )
        if size + 1 + length > room:
            yield InsertStatement(prefix + ",".join(rows) + ";", table, len(rows))
            rows, size = [], -1
        rows.append(row)
        size += 1 + length
    if rows:
        yield InsertStatement(prefix + ",".join(rows) + ";", table, len(rows))


def _text(value: str) -> str:
    """A Python string as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
