"""Read SQL dumps statement by statement: ours, `wrangler d1 export`'s, or `sqlite3 .dump`'s.

A dump is split with `sqlite3.complete_statement`, SQLite's own tokenizer, rather than on
newlines or semicolons: string literals may hold both (our dumps keep raw newlines,
wrangler writes `replace('a\\nb','\\n',char(10))`) and triggers end in `END;` after inner
semicolons. Statements stream from a line iterator, so a large dump is never held whole.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from boothcloud.db.dump import DUMP_HEADER, MAX_STATEMENT_BYTES, InsertStatement

_NAME = r"(\"(?:[^\"]|\"\")+\"|`[^`]+`|\[[^\]]+\]|'(?:[^']|'')+'|[^\s(\"'`\[;]+)"
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.I)
_INSERT = re.compile(
    r"(?:INSERT|REPLACE)(?:\s+OR\s+\w+)?\s+INTO\s+" + _NAME + r"\s*(?:\(|VALUES|SELECT)", re.I
)
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
# Statements D1's importer refuses and that a restore must not run itself: it owns the
# transaction. `sqlite3 .dump` writes `BEGIN TRANSACTION;` ... `COMMIT;`.
TRANSACTION_WORDS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})


_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_PARENTHESIS = re.compile(r"[()]")
_COLUMNS_THEN_VALUES = re.compile(r"\([^()]*\)\s*VALUES", re.I)


class DumpFormatError(ValueError):
    """The text is not a dump we can read (cut short, or not SQL)."""


def _unquote(name: str) -> str:
    if len(name) >= 2 and name[0] in "\"'`[":
        closing = "]" if name[0] == "[" else name[0]
        inner = name[1:-1]
        return inner if closing == "]" else inner.replace(closing * 2, closing)
    return name


def strip_leading_comments(statement: str) -> str:
    return _LEADING_COMMENTS.sub("", statement, count=1)


def first_word(statement: str) -> str:
    body = strip_leading_comments(statement)
    match = re.match(r"[A-Za-z_]+", body)
    return match.group(0).upper() if match else ""


def is_transaction_statement(statement: str) -> bool:
    return first_word(statement) in TRANSACTION_WORDS


def created_table(statement: str) -> str | None:
    match = _CREATE_TABLE.match(strip_leading_comments(statement))
    return _unquote(match.group(1)) if match else None


def inserted_table(statement: str) -> str | None:
    match = _INSERT.match(strip_leading_comments(statement))
    return _unquote(match.group(1)) if match else None


def is_internal_table(name: str) -> bool:
    """SQLite's and Cloudflare's own tables: restored if present, never counted."""
    return name.startswith(("sqlite_", "_cf_"))


def split_statements(lines: Iterable[str]) -> Iterator[str]:
    """Yield each complete statement (with its `;`); raise if the text ends mid-statement."""
    pending = ""
    for line in lines:
        rest, search = line, 0
        while (pos := rest.find(";", search)) >= 0:
            candidate = pending + rest[: pos + 1]
            if sqlite3.complete_statement(candidate):
                statement = candidate.strip()
                if strip_leading_comments(statement) != ";":
                    yield statement
                pending, rest, search = "", rest[pos + 1 :], 0
            else:
                search = pos + 1
        pending += rest
    if strip_leading_comments(pending).strip():
        raise DumpFormatError("the dump ends in the middle of a statement (truncated?)")


@dataclass(slots=True)
class DumpStats:
    """What a dump holds: rows per table, from one- or multi-row INSERTs."""

    tables: dict[str, int] = field(default_factory=dict)
    statements: int = 0
    first_statement: str | None = None

    def add(self, statement: str) -> None:
        self.statements += 1
        if self.first_statement is None:
            self.first_statement = statement
        if (name := inserted_table(statement)) is not None:
            if not is_internal_table(name):
                self.tables[name] = self.tables.get(name, 0) + values_rows(statement)
        elif (name := created_table(statement)) is not None and not is_internal_table(name):
            self.tables.setdefault(name, 0)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def values_rows(statement: str) -> int:
    """Rows an INSERT adds: its `VALUES` tuples, counted outside string literals.

    A one-row INSERT (the only kind `sqlite3 .dump` and `wrangler d1 export` write) has no
    `),(` anywhere and costs one substring search; only multi-row ones are tokenized.
    """
    if "),(" not in statement:
        return 1
    statement = strip_leading_comments(statement)
    match = _INSERT.match(statement)
    if match is None:
        return 1
    start = match.end()
    if match.group(0).endswith("("):  # a column list, then VALUES
        columns = _COLUMNS_THEN_VALUES.match(statement, start - 1)
        if columns is None:
            return 1
        start = columns.end()
    elif not match.group(0).upper().endswith("VALUES"):
        return 1  # INSERT ... SELECT
    depth, rows = 0, 0
    body = _STRING_LITERAL.sub("", statement[start:])
    for paren in _PARENTHESIS.finditer(body):
        if paren.group() == "(":
            rows += depth == 0
            depth += 1
        else:
            depth -= 1
    return max(rows, 1)


def d1_problem(statement: str) -> str | None:
    """Why D1's importer would refuse this statement, or None when it is fine."""
    if is_transaction_statement(statement):
        return f"transaction statement not allowed: {statement[:40]}"
    size = len(statement.encode())
    if size > MAX_STATEMENT_BYTES:
        return f"statement of {size} bytes exceeds {MAX_STATEMENT_BYTES}: {statement[:40]}..."
    return None


def header_ok(stats: DumpStats) -> bool:
    return stats.first_statement == DUMP_HEADER


_ONE_ROW_PREFIX = re.compile(r'INSERT INTO "(?:[^"]|"")+" VALUES\(')


class InsertPacker:
    """Turn one-row INSERTs (D1's dump) into multi-row INSERTs within D1's limit.

    Consecutive rows of one table share one `INSERT INTO "t" VALUES(..),(..);` of at most
    `limit` bytes: a tenth of the statements for SQLite to parse on restore and far fewer
    lines to split, with the same import into `sqlite3` and `wrangler d1 execute`. Rows
    are counted on the way (the manifest's counts); an `InsertStatement` (the SQLite
    dump's, packed already) and any other statement pass unchanged.
    """

    def __init__(self, out: list[str], limit: int = MAX_STATEMENT_BYTES) -> None:
        self.stats = DumpStats()
        self._out = out
        self._limit = limit
        self._prefix = ""  # `INSERT INTO "t" VALUES(` of the open statement
        self._table: str | None = None
        self._rows: list[str] = []
        self._base = 0  # bytes of the prefix
        self._size = 0  # bytes of the open statement with its separators

    def add(self, statement: str) -> None:
        if isinstance(statement, InsertStatement):  # packed already, rows counted
            self.flush()
            if not is_internal_table(statement.table):
                tables = self.stats.tables
                tables[statement.table] = tables.get(statement.table, 0) + statement.rows
            self._count(statement)
            return
        if not (self._prefix and statement.startswith(self._prefix)):
            self.flush()
            match = _ONE_ROW_PREFIX.match(statement)
            if match is None or not statement.endswith(");"):
                self.stats.add(statement)
                self._out.append(statement)
                return
            self._prefix = match.group(0)
            self._base = self._size = len(self._prefix.encode())
            name = inserted_table(statement)
            self._table = None if name is None or is_internal_table(name) else name
            if self._table is not None:
                self.stats.tables.setdefault(self._table, 0)
        row = statement[len(self._prefix) - 1 : -1]  # `(...)`
        size = len(row) if row.isascii() else len(row.encode())
        if self._rows and self._size + size + 1 > self._limit:
            self._emit()
        self._rows.append(row)
        self._size += size + 1
        if self._table is not None:
            self.stats.tables[self._table] += values_rows(statement)

    def flush(self) -> None:
        """Close the open multi-row statement (call once more after the last statement)."""
        if self._rows:
            self._emit()
        self._prefix, self._table = "", None

    def _emit(self) -> None:
        self._count(self._prefix[:-1] + ",".join(self._rows) + ";")
        self._rows.clear()
        self._size = self._base

    def _count(self, statement: str) -> None:
        if self.stats.first_statement is None:
            self.stats.first_statement = statement
        self.stats.statements += 1
        self._out.append(statement)
