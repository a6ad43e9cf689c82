"""The Cloudflare D1 backend: the `Database` interface over HTTP to the D1 bridge Worker.

A Worker (`d1/src/index.js`) bound to the RFC's `photobooth-db` answers `/query`,
`/batch`, `/exec` and `/dump`; this class is its client. D1 is SQLite, so the SQL is the
same as on the embedded backend, and the semantics match it:

- `execute` is one statement (atomic on its own); `batch` is one `DB.batch()`, which D1
  runs as one transaction: a failing statement leaves nothing written.
- `executescript` is split the way `wrangler d1 execute` splits a file and sent as one
  batch, so a script (a migration with its `d1_migrations` record) is atomic too.
- A refused write raises `IntegrityViolation` with the constraint named exactly as the
  SQLite backend names it: the bridge hands back SQLite's own message, parsed by the same
  `integrity_violation()`.
- `dump` pages through each table by key (any size fits the Worker's memory and D1's
  limits), formats rows with the same code as the SQLite dump, and reports in
  `last_dump` the Time Travel bookmark it began at and whether D1 changed meanwhile.

Statements go over `bridgehttp.BridgeHTTP` (HTTP/1.1 keep-alive, orjson; a fraction of
httpx's CPU per call); only reads are retried after a broken connection. A pending
`Precondition` (booth auth riding along, see `auth.require_caller_pipelined`) leads the
next call's batch, so a booth's hot route is one round trip.

Values travel as JSON: integers beyond +/-2**53 cannot (JavaScript numbers) and are
refused here rather than silently rounded; blobs go as base64 and infinities tagged. A
REAL that happens to be whole comes back as an `int` (D1 gives JavaScript numbers), see
docs/d1.md.
"""

from __future__ import annotations

import base64
import json
import math
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Self

import httpx
import orjson

from boothcloud.db.base import (
    PRECONDITION,
    IntegrityViolation,
    Params,
    Precondition,
    Result,
    Row,
    Statement,
)
from boothcloud.db.bridgehttp import BridgeHTTP, TransportError
from boothcloud.db.dump import (
    DUMP_HEADER,
    MAX_STATEMENT_BYTES,
    _create_if_missing,
    _literal,
    quote_identifier,
)
from boothcloud.db.sqlite import integrity_violation
from boothcloud.settings import Settings

MAX_SAFE_INTEGER = 2**53 - 1
UNAVAILABLE = 503
# A dump page: at most this many rows and about this many bytes of values (the bridge
# caps both; a few MB of JSON at most in the Worker and here, whatever the table's size).
DUMP_PAGE_ROWS = 5_000
DUMP_PAGE_BYTES = 2 << 20
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


@dataclass(frozen=True, slots=True)
class DumpReport:
    """What changed in D1 while a paged dump ran (see `D1Database.dump`)."""

    bookmark: str | None  # Time Travel bookmark when the dump began
    end_bookmark: str | None  # ... and when it ended
    # Tables whose fingerprint (rows, largest key, and per column its non-NULL count, total
    # and largest value: the bridge's `fingerprintTerms`) moved meanwhile.
    changed_tables: list[str]

    @property
    def consistent(self) -> bool:
        """No table's fingerprint moved: as far as D1 can tell, the dump is D1 at `bookmark`."""
        return not self.changed_tables

    @classmethod
    def compare(cls, start: dict[str, Any], end: dict[str, Any]) -> DumpReport:
        def marks(state: dict[str, Any]) -> dict[str, Any]:
            return {str(t["name"]): t.get("fingerprint") for t in state["tables"]}

        before, after = marks(start), marks(end)
        changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
        return cls(start.get("bookmark"), end.get("bookmark"), changed)


class D1Error(Exception):
    """The bridge or D1 refused a request (bad SQL, auth, the bridge unreachable)."""

    def __init__(self, message: str, *, status: int | None = None, kind: str = "sql") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


def encode_param(value: Any) -> Any:
    """A Python parameter as the bridge's JSON value (what sqlite3 accepts, and bool)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"integer {value} is beyond what D1 can take exactly (2**53)")
        return value
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError("NaN cannot be sent to D1")
        if math.isinf(value):
            return {"$float": "inf" if value > 0 else "-inf"}  # JSON has no infinities
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$blob": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"type {type(value).__name__!r} is not supported as a SQL parameter")


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        blob = value.get("$blob")
        if isinstance(blob, str):
            return base64.b64decode(blob)
        special = value.get("$float")
        if special in ("inf", "-inf"):
            return float(special)
    return value


def _decode_row(row: dict[str, Any]) -> Row:
    return {key: decode_value(value) for key, value in row.items()}


def _result(payload: Any) -> Result:
    rows = [_decode_row(row) for row in payload.get("rows", [])]
    return Result(rows=rows, changes=int(payload.get("changes", 0)))


def _pending() -> Precondition | None:
    precondition = PRECONDITION.get()
    return None if precondition is None or precondition.spent else precondition


def _reads_only(sql: str) -> bool:
    """A plain SELECT (no CTE, which could hide a write): safe to send twice."""
    return sql.lstrip()[:7].upper() == "SELECT " and "RETURNING" not in sql.upper()


def _statement(sql: str, params: Params) -> dict[str, Any]:
    return {"sql": sql, "params": [encode_param(p) for p in params]}


class D1Database:
    """`Database` on Cloudflare D1 through the bridge Worker."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    ) -> None:
        if not url:
            raise ValueError("the D1 bridge URL is empty")
        if not token:
            raise ValueError("the D1 bridge token is empty")
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}", "User-Agent": "boothcloud-d1"}
        self.last_dump: DumpReport | None = None  # set when a dump has run to its end
        limits = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        # Every call goes through the lean client (a fraction of httpx's CPU per call).
        self._bridge = BridgeHTTP(
            self.url,
            headers,
            timeout=limits.read or DEFAULT_TIMEOUT.read or 30.0,
            connect_timeout=limits.connect or DEFAULT_TIMEOUT.connect or 5.0,
        )
        self.round_trips = 0  # bridge calls made (benchmarks and tests count them)

    # Booth authentication may ride along with a request's first call (`Precondition`).
    pipelines = True

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if not settings.d1_url or settings.d1_token is None:
            raise ValueError(
                "database_backend is d1: set BOOTHCLOUD_D1_URL and BOOTHCLOUD_D1_TOKEN "
                "(the D1 bridge Worker's address and BRIDGE_TOKEN)"
            )
        return cls(settings.d1_url, settings.d1_token.get_secret_value())

    # -- plumbing -------------------------------------------------------------------------
    async def _post(self, path: str, body: dict[str, Any], *, safe: bool = False) -> Any:
        """One bridge call. `safe` (only reads) lets a broken connection, or a 503 from a
        Worker that restarted mid-request (`wrangler dev` does), be retried once."""
        encoded = orjson.dumps(body)
        status, data = await self._send(path, encoded, safe)
        if status == UNAVAILABLE and safe:
            status, data = await self._send(path, encoded, safe)
        if status == 200:
            return orjson.loads(data)
        self._raise(status, data.decode("utf-8", "replace"))

    async def _send(self, path: str, body: bytes, safe: bool) -> tuple[int, bytes]:
        self.round_trips += 1
        try:
            return await self._bridge.post(path, body, safe=safe)
        except TransportError as error:
            raise D1Error(
                f"D1 bridge at {self.url} unreachable: {error}", kind="transport"
            ) from error

    @staticmethod
    def _raise(status: int, text: str) -> NoReturn:
        try:
            detail = json.loads(text)["error"]
            message = str(detail["message"])
            kind = str(detail.get("kind", "sql"))
        except (ValueError, KeyError, TypeError):
            message, kind = f"D1 bridge answered {status}: {text[:200]}", "bridge"
        if kind == "constraint":
            raise integrity_violation(sqlite3.IntegrityError(message))
        raise D1Error(message, status=status, kind=kind)

    # -- Database interface ---------------------------------------------------------------
    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        return (await self.execute(sql, params)).first()

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return (await self.execute(sql, params)).rows

    async def execute(self, sql: str, params: Params = ()) -> Result:
        if _pending() is not None:
            return (await self.batch([Statement(sql, params)]))[0]
        payload = await self._post("/query", _statement(sql, params), safe=_reads_only(sql))
        return _result(payload)

    async def batch(self, statements: Sequence[Statement]) -> list[Result]:
        if not statements:
            return []
        precondition = _pending()
        if precondition is None:
            return await self._batch(statements)
        # The request's authentication rides along: one round trip, and nothing applies
        # unless its check holds (the batch is one transaction).
        precondition.spent = True
        try:
            return (await self._batch([precondition.statement, *statements]))[1:]
        except (D1Error, IntegrityViolation) as error:
            if isinstance(error, D1Error) and error.status != 422:
                raise  # not the database refusing: a write may have applied, not resent
        await precondition.recheck()  # raises 401/403; returns if the check holds now
        return await self._batch(statements)  # the failure was the statements' own

    async def _batch(self, statements: Sequence[Statement]) -> list[Result]:
        body = {"statements": [_statement(s.sql, s.params) for s in statements]}
        safe = all(_reads_only(s.sql) for s in statements)
        payload = await self._post("/batch", body, safe=safe)
        return [_result(r) for r in payload["results"]]

    async def executescript(self, script: str) -> None:
        await self._post("/exec", {"sql": script})

    async def dump(self) -> AsyncIterator[str]:
        """Every table paged by key, formatted exactly as `boothcloud.db.dump` formats SQLite's.

        D1 cannot hold a read transaction across requests, so this is not one snapshot:
        each page is consistent in itself, and the bridge's state before and after (the
        Time Travel bookmark and each table's fingerprint) tells whether anything was
        written meanwhile. `last_dump` holds that verdict once the dump ends.
        """
        self.last_dump = None
        start = await self._post("/dump", {})
        schema: list[dict[str, Any]] = start["schema"]
        tables: list[dict[str, Any]] = start["tables"]
        sql = {str(entry["name"]): str(entry["sql"]) for entry in schema}
        user = [t for t in tables if t["name"] != "sqlite_sequence"]
        yield DUMP_HEADER
        for table in user:  # every table before any row, as the SQLite dump does
            yield _create_if_missing(sql[table["name"]]) + ";"
        for table in user:
            async for statement in self._table_rows(table):
                yield statement
        for table in tables:
            if table["name"] == "sqlite_sequence":
                yield "DELETE FROM sqlite_sequence;"
                async for statement in self._table_rows(table):
                    yield statement
        for entry in schema:
            if entry["type"] != "table":
                yield str(entry["sql"]) + ";"
        end = await self._post("/dump", {})
        self.last_dump = DumpReport.compare(start, end)

    async def _table_rows(self, table: dict[str, Any]) -> AsyncIterator[str]:
        name = str(table["name"])
        prefix = f"INSERT INTO {quote_identifier(name)} VALUES("
        after: list[Any] | None = None
        while True:
            body = {
                "table": name,
                "key": table["key"],
                "after": after,
                "limit": DUMP_PAGE_ROWS,
                "budget": DUMP_PAGE_BYTES,
            }
            page = await self._post("/dump", body)
            for row in page["rows"]:
                statement = prefix + ",".join(_literal(decode_value(v)) for v in row) + ");"
                if len(statement.encode()) > MAX_STATEMENT_BYTES:
                    raise ValueError(
                        f"a row of {name} needs a statement over {MAX_STATEMENT_BYTES} "
                        "bytes, which D1 cannot import"
                    )
                yield statement
            if not page["rows"] or page["last"] is None:
                return
            after = page["last"]

    async def close(self) -> None:
        await self._bridge.close()
