"""All SQL about printers.

The default-printer rule is kept by the schema and by batches, never by a read followed
by a write: `printers_one_default` (a partial unique index) allows at most one default per
customer, and every change of the default unsets and sets in one atomic batch, so two
concurrent "make default" requests both succeed and leave exactly one default.
"""

from __future__ import annotations

from typing import Any

from boothcloud.db.base import Database, Row, Statement
from boothcloud.errors import Conflict, register_constraint
from boothcloud.pagination import pack_cursor, page_of, unpack_cursor

register_constraint(
    "printers.customer_id",  # printers_one_default: SQLite names the indexed column
    Conflict,
    "is_default",
    "another printer became the default at the same moment; retry",
)

COLUMNS = "id, customer_id, name, type, connection_type, is_default, created_at"
PATCHABLE = ("name", "type", "connection_type")

# Unset the current default of a customer, but only when the new default exists (so a
# request for a missing printer never leaves the customer without a default).
_UNSET_OTHERS = (
    "UPDATE printers SET is_default = 0 WHERE customer_id = ? AND is_default = 1 AND id <> ? "
    "AND EXISTS (SELECT 1 FROM printers WHERE id = ? AND customer_id = ?)"
)
# Give a customer without a default its oldest printer as default; a no-op otherwise.
_PROMOTE_OLDEST = (
    "UPDATE printers SET is_default = 1 WHERE id = "
    "(SELECT id FROM printers WHERE customer_id = ? ORDER BY created_at, id LIMIT 1) "
    "AND NOT EXISTS (SELECT 1 FROM printers WHERE customer_id = ? AND is_default = 1)"
)


async def insert(db: Database, values: dict[str, Any], *, make_default: bool) -> Row:
    """Insert a printer; it is the default when asked or when the customer has none."""
    customer_id = values["customer_id"]
    row_values = [values[k] for k in ("id", "customer_id", "name", "type", "connection_type")]
    if make_default:
        results = await db.batch(
            [
                Statement(
                    "UPDATE printers SET is_default = 0 WHERE customer_id = ? AND is_default = 1",
                    (customer_id,),
                ),
                Statement(
                    "INSERT INTO printers (id, customer_id, name, type, connection_type, "
                    f"is_default) VALUES (?, ?, ?, ?, ?, 1) RETURNING {COLUMNS}",
                    row_values,
                ),
            ]
        )
        row = results[-1].first()
    else:
        result = await db.execute(
            "INSERT INTO printers (id, customer_id, name, type, connection_type, is_default) "
            "SELECT ?, ?, ?, ?, ?, NOT EXISTS "
            "(SELECT 1 FROM printers WHERE customer_id = ? AND is_default = 1) "
            f"RETURNING {COLUMNS}",
            [*row_values, customer_id],
        )
        row = result.first()
    assert row is not None
    return row


async def get(db: Database, printer_id: str) -> Row | None:
    return await db.fetch_one(f"SELECT {COLUMNS} FROM printers WHERE id = ?", (printer_id,))


async def exists(db: Database, printer_id: str, customer_id: str) -> bool:
    row = await db.fetch_one(
        "SELECT 1 AS found FROM printers WHERE id = ? AND customer_id = ?",
        (printer_id, customer_id),
    )
    return row is not None


def _encode_cursor(row: Row) -> str:
    return pack_cursor([1 - int(row["is_default"]), str(row["created_at"]), str(row["id"])])


def _decode_cursor(cursor: str) -> list[Any]:
    return unpack_cursor(
        cursor,
        lambda v: len(v) == 3 and v[0] in (0, 1) and all(isinstance(x, str) for x in v[1:]),
    )


async def page(
    db: Database, *, customer_id: str | None, cursor: str | None, limit: int
) -> tuple[list[Row], str | None]:
    """Default printers first, then in the order they were registered."""
    where: list[str] = []
    params: list[Any] = []
    if customer_id is not None:
        where.append("customer_id = ?")
        params.append(customer_id)
    if cursor is not None:
        where.append("(1 - is_default, created_at, id) > (?, ?, ?)")
        params += _decode_cursor(cursor)
    sql = f"SELECT {COLUMNS} FROM printers"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY is_default DESC, created_at, id LIMIT ?"
    rows = await db.fetch_all(sql, [*params, limit + 1])
    return page_of(rows, limit, _encode_cursor)


async def update(
    db: Database,
    printer_id: str,
    customer_id: str,
    changes: dict[str, Any],
    *,
    make_default: bool,
) -> Row | None:
    """Apply changes (and take over the default) in one batch; None if the printer is gone."""
    assert set(changes) <= set(PATCHABLE)
    assignments = [f"{name} = ?" for name in changes]
    params: list[Any] = list(changes.values())
    statements: list[Statement] = []
    if make_default:
        statements.append(
            Statement(_UNSET_OTHERS, (customer_id, printer_id, printer_id, customer_id))
        )
        assignments.append("is_default = 1")
    if not assignments:
        row = await get(db, printer_id)
        return row if row is not None and row["customer_id"] == customer_id else None
    statements.append(
        Statement(
            f"UPDATE printers SET {', '.join(assignments)} WHERE id = ? AND customer_id = ? "
            f"RETURNING {COLUMNS}",
            [*params, printer_id, customer_id],
        )
    )
    results = await db.batch(statements)
    return results[-1].first()


async def delete(db: Database, printer_id: str, customer_id: str) -> Row | None:
    """Delete a printer, promote the oldest remaining one if it was the default, and put
    its queued photos back in the customer's shared queue: one atomic batch."""
    results = await db.batch(
        [
            Statement(
                f"DELETE FROM printers WHERE id = ? AND customer_id = ? RETURNING {COLUMNS}",
                (printer_id, customer_id),
            ),
            Statement(_PROMOTE_OLDEST, (customer_id, customer_id)),
            Statement(
                "UPDATE photos SET printer_id = NULL, updated_at = datetime('now') "
                "WHERE printer_id = ? AND customer_id = ? "
                "AND print_status IN ('pending', 'failed') "
                "AND NOT EXISTS (SELECT 1 FROM printers WHERE id = ?)",
                (printer_id, customer_id, printer_id),
            ),
        ]
    )
    return results[0].first()
