"""The one database interface every backend implements.

Cloudflare D1 has no interactive transactions: a multi-statement write is a *batch* that
runs atomically or not at all. Domain code therefore writes every multi-statement change
as a batch, and the embedded SQLite backend offers the same shape, so the same domain code
runs unchanged on both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

Row = dict[str, Any]
Params = Sequence[Any]


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement with positional (`?`) parameters."""

    sql: str
    params: Params = ()


@dataclass(frozen=True, slots=True)
class Result:
    """What one statement produced: its rows (SELECT or RETURNING) and rows changed."""

    rows: list[Row] = field(default_factory=list)
    changes: int = 0

    def first(self) -> Row | None:
        return self.rows[0] if self.rows else None


@dataclass(slots=True)
class Precondition:
    """A check that rides along with the request's next database call (one round trip).

    Set by authentication on a backend that pipelines (`D1Database`): the backend sends
    `statement` first in the same atomic batch as the next call, and the statement fails
    (so the batch applies nothing) unless the check holds. When the call fails, `recheck`
    runs: it raises the precise error (401, 403) or returns when the check holds after all,
    and the call is then made again on its own. Spent after the first call.
    """

    statement: Statement
    recheck: Callable[[], Awaitable[None]]
    spent: bool = False


# The current request's pending precondition (a context variable: one per request task).
PRECONDITION: ContextVar[Precondition | None] = ContextVar("boothcloud_precondition", default=None)


class IntegrityViolation(Exception):
    """A constraint refused a write; `constraint` names it so the API can map it to a field.

    `constraint` is the table-qualified column list for UNIQUE/NOT NULL violations
    (`customers.email`), the index name for an expression index (`customers_email_lower`),
    the CHECK constraint's name, or `FOREIGN KEY`.
    """

    def __init__(self, kind: str, constraint: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.constraint = constraint


class Database(Protocol):
    """The small surface domain code may use. All SQL is SQLite dialect (D1 is SQLite)."""

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """A point lookup by key or unique index (microseconds; SQLite runs it inline).

        Anything that scans (counts, aggregates, lists) goes through `fetch_all`.
        """
        ...

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Any read; SQLite runs it on a reader thread, never on the event loop."""
        ...

    async def execute(self, sql: str, params: Params = ()) -> Result:
        """Run one write statement atomically; RETURNING rows come back in the result."""
        ...

    async def batch(self, statements: Sequence[Statement]) -> list[Result]:
        """Run statements as one atomic unit: all apply or none (D1's `batch()`)."""
        ...

    async def executescript(self, script: str) -> None:
        """Run a multi-statement SQL script atomically (migrations, restores)."""
        ...

    def dump(self) -> AsyncIterator[str]:
        """Yield a consistent SQL dump, statement by statement, without blocking writers."""
        ...

    async def close(self) -> None: ...
