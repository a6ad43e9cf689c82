"""Cursor pagination shared by every list route: newest first, keyset on (created_at, id).

The cursor is opaque to clients (base64url JSON of the last row's sort key), stable under
inserts, and answers in O(limit) whatever the page depth, unlike OFFSET.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, Field

from boothcloud.db.base import Row
from boothcloud.errors import invalid

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size, 1-200.")]
CursorQuery = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` of the previous page."),
]


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


def encode_cursor(row: Row) -> str:
    raw = orjson.dumps([row["created_at"], row["id"]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = orjson.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(created_at, str) or not isinstance(row_id, str):
            raise ValueError("cursor fields must be strings")
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as error:
        raise invalid("cursor", "not a cursor this API issued") from error
    return created_at, row_id


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


def page_of(rows: list[Row], limit: int) -> tuple[list[Row], str | None]:
    """Split the limit+1 rows a keyset query returned into a page and the next cursor."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1])
    return rows, None
