"""Cursor pagination shared by every list route: newest first, keyset on (created_at, id).

The cursor is opaque to clients (base64url JSON of the last row's sort key), stable under
inserts, and answers in O(limit) whatever the page depth, unlike OFFSET.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import Query
from pydantic import BaseModel, Field

from boothcloud.db.base import Row
from boothcloud.errors import invalid
from boothcloud.schemas import Cursor, Ref

MAX_PAGE_SIZE = 200
LIMIT_HELP = f"Page size, 1-{MAX_PAGE_SIZE}."
CURSOR_HELP = "`next_cursor` of the previous page (opaque)."
SCOPE_HELP = "Operator only; a booth sees its own."
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=LIMIT_HELP)]
CursorQuery = Annotated[Cursor | None, Query(description=CURSOR_HELP)]
# Whose rows a list shows: the operator picks a customer, a booth's own are the only ones.
CustomerQuery = Annotated[Ref | None, Query(description=SCOPE_HELP)]


class PageQuery(BaseModel):
    """`cursor` and `limit` as a query model's fields, for a list whose filters are a model
    too: FastAPI (0.136) reads a query model only when it is the route's one query
    parameter, so such a route declares one model holding all of them."""

    cursor: Cursor | None = Field(default=None, description=CURSOR_HELP)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE, description=LIMIT_HELP)


def pack_cursor(values: list[Any]) -> str:
    """An opaque cursor for a page's last sort key (base64url JSON)."""
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def unpack_cursor(cursor: str, valid: Callable[[list[Any]], bool]) -> list[Any]:
    """The sort key a cursor carries; 422 on `cursor` unless `valid` accepts its shape."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or not valid(values):
            raise ValueError("not a cursor's shape")
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as error:
        raise invalid("cursor", "not a cursor this API issued") from error
    return values


def encode_cursor(row: Row) -> str:
    return pack_cursor([row["created_at"], row["id"]])


def decode_cursor(cursor: str) -> tuple[str, str]:
    created_at, row_id = unpack_cursor(
        cursor, lambda v: len(v) == 2 and all(isinstance(x, str) for x in v)
    )
    return created_at, row_id


def conditions(
    filters: tuple[tuple[str, Any, str], ...],
) -> tuple[list[str], list[Any]]:
    """WHERE conditions of a list's filters, `(column, value, operator)`; None: no filter."""
    where = [f"{column} {operator} ?" for column, value, operator in filters if value is not None]
    return where, [value for _, value, _ in filters if value is not None]


def keyset(
    where: list[str], params: list[Any], cursor: str | None, limit: int, alias: str = ""
) -> tuple[str, list[Any]]:
    """WHERE/ORDER/LIMIT tail for a newest-first page; fetches one extra row to see more."""
    prefix = f"{alias}." if alias else ""
    clauses = list(where)
    args = list(params)
    if cursor is not None:
        created_at, row_id = decode_cursor(cursor)
        clauses.append(f"({prefix}created_at, {prefix}id) < (?, ?)")
        args += [created_at, row_id]
    sql = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    sql += f" ORDER BY {prefix}created_at DESC, {prefix}id DESC LIMIT ?"
    args.append(limit + 1)
    return sql, args


def page_of(
    rows: list[Row], limit: int, cursor_of: Callable[[Row], str] = encode_cursor
) -> tuple[list[Row], str | None]:
    """Split the limit+1 rows a keyset query returned into a page and the next cursor."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, cursor_of(rows[-1])
    return rows, None
