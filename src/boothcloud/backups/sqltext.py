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

from boothcloud.db.dump import DUMP_HEADER, MAX_STATEMENT_BYTES

_NAME = r"(\"(?:[^\"]|\"\")+\"|`[^`]+`|\[[^\]]+\]|'(?:[^']|'')+'|[^\s(\"'`\[;]+)"
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _NAME, re.I)
_INSERT = re.compile(
    r"(?:INSERT|REPLACE)(?:\s+OR\s+\w+)?\s+INTO\s+" + _NAME + r"\s*(?:\(|VALUES|SELECT)", re.I
)
_LEADING_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
# Statements D1's importer refuses and that a restore must not run itself: it owns the
# transaction. `sqlite3 .dump` writes `BEGIN TRANSACTION;` ... `COMMIT;`.
TRANSACTION_WORDS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})


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
    """What a dump holds: rows per table (one INSERT is one row in both dump formats)."""

    tables: dict[str, int] = field(default_factory=dict)
    statements: int = 0
    first_statement: str | None = None

    def add(self, statement: str) -> None:
        self.statements += 1
        if self.first_statement is None:
            self.first_statement = statement
        if (name := inserted_table(statement)) is not None:
            if not is_internal_table(name):
                self.tables[name] = self.tables.get(name, 0) + 1
        elif (name := created_table(statement)) is not None and not is_internal_table(name):
            self.tables.setdefault(name, 0)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


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
