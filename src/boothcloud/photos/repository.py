"""All SQL about photos and the print queue.

Every state change is one conditional statement (or one batch), so concurrent requests
never act on a status they read earlier: a transition's `WHERE print_status IN (...)`
names the statuses it may come from, and the claim picks and takes a photo in a single
UPDATE, so two booths can never take the same one. A photo reaches `printing` only with
`uploaded_at` set, and that too is a condition of the same statement.
"""

from __future__ import annotations

from typing import Any

from boothcloud.db.base import Database, Row, Statement
from boothcloud.errors import Conflict, register_constraint
from boothcloud.pagination import conditions, keyset
from boothcloud.sessions import repository as sessions

register_constraint("photos.r2_key", Conflict, "r2_key", "another photo already uses this key")

COLUMNS = (
    "id, customer_id, r2_key, print_status, printer_id, created_at, "
    "coalesce(updated_at, created_at) AS updated_at, claimed_at, uploaded_at, object_size, "
    "content_type, session_id, purged_at"
)


def _printer_ok(owner: str) -> str:
    """The rule that a photo's printer (the two `?`: its id, twice) is none or its own
    customer's, `owner` being that customer in SQL (`?`, or `photos.customer_id`)."""
    return (
        "(? IS NULL OR EXISTS (SELECT 1 FROM printers p "
        f"WHERE p.id = ? AND p.customer_id = {owner}))"
    )


async def insert(db: Database, values: dict[str, Any]) -> Row | None:
    """Insert unless the id or key is taken, or the printer or session is not the
    customer's (None): one conditional statement, as D1 has no transaction to check in."""
    customer_id, printer_id = values["customer_id"], values["printer_id"]
    session_ok, session_params = sessions.belongs_clause(values["session_id"], customer_id)
    result = await db.execute(
        "INSERT INTO photos (id, customer_id, r2_key, printer_id, session_id, request_hash, "
        "print_status, updated_at) SELECT ?, ?, ?, ?, ?, ?, 'pending', datetime('now') "
        f"WHERE {_printer_ok('?')} AND {session_ok} ON CONFLICT DO NOTHING RETURNING {COLUMNS}",
        [
            values["id"],
            customer_id,
            values["r2_key"],
            printer_id,
            values["session_id"],
            values["request_hash"],
            printer_id,
            printer_id,
            customer_id,
            *session_params,
        ],
    )
    return result.first()


async def get(db: Database, photo_id: str) -> Row | None:
    return await db.fetch_one(
        f"SELECT {COLUMNS}, request_hash FROM photos WHERE id = ?", (photo_id,)
    )


async def get_by_key(db: Database, r2_key: str) -> Row | None:
    return await db.fetch_one(f"SELECT {COLUMNS} FROM photos WHERE r2_key = ?", (r2_key,))


async def record_upload(
    db: Database, photo_id: str, size: int, content_type: str, *, replace: bool
) -> Row | None:
    """Mark the photo uploaded with what landed. The first upload's time stays. With
    `replace` (a new PUT replaced the object) size and type follow the new object; without
    it only a photo not yet uploaded changes (None otherwise: a confirm changes nothing)."""
    only_first = "" if replace else " AND uploaded_at IS NULL"
    result = await db.execute(
        "UPDATE photos SET uploaded_at = coalesce(uploaded_at, datetime('now')), "
        "object_size = ?, content_type = ?, updated_at = datetime('now') "
        f"WHERE id = ?{only_first} RETURNING {COLUMNS}",
        (size, content_type, photo_id),
    )
    return result.first()


async def key_taken(db: Database, r2_key: str) -> bool:
    return (
        await db.fetch_one("SELECT 1 AS found FROM photos WHERE r2_key = ?", (r2_key,)) is not None
    )


async def page(
    db: Database,
    *,
    customer_id: str | None,
    print_status: str | None,
    printer_id: str | None,
    uploaded: bool | None,
    created_from: str | None,
    created_to: str | None,
    cursor: str | None,
    limit: int,
) -> list[Row]:
    where, params = conditions(
        (
            ("customer_id", customer_id, "="),
            ("print_status", print_status, "="),
            ("printer_id", printer_id, "="),
            ("created_at", created_from, ">="),
            ("created_at", created_to, "<"),
        )
    )
    if uploaded is not None:
        where.append(f"uploaded_at IS {'NOT ' if uploaded else ''}NULL")
    tail, args = keyset(where, params, cursor, limit)
    return await db.fetch_all(f"SELECT {COLUMNS} FROM photos{tail}", args)


async def update(
    db: Database,
    photo_id: str,
    customer_id: str | None,
    *,
    status: str | None,
    allowed_from: tuple[str, ...],
    set_printer: bool,
    printer_id: str | None,
) -> Row | None:
    """Apply a transition and/or a printer change only if allowed; None otherwise.

    ONE conditional UPDATE holds every rule (D1 has no interactive transaction to read
    the photo and check it first): the photo is `customer_id`'s (None: any customer's,
    for the operator), its status is one of `allowed_from`, it is uploaded before it
    goes `printing` (the claim's rule), and the printer is the photo's own customer's."""
    assignments = ["updated_at = datetime('now')"]
    conditions = ["id = ?"]
    params: list[Any] = []
    where_params: list[Any] = [photo_id]
    if customer_id is not None:
        conditions.append("customer_id = ?")
        where_params.append(customer_id)
    if status is not None:
        assignments.append("print_status = ?")
        params.append(status)
        if status == "printing":  # printing needs the bytes, as the claim does
            assignments.append("claimed_at = datetime('now')")
            conditions.append("uploaded_at IS NOT NULL")
        elif status == "pending":
            assignments.append("claimed_at = NULL")
        conditions.append(f"print_status IN ({', '.join('?' for _ in allowed_from)})")
        where_params += allowed_from
    if set_printer:
        assignments.append("printer_id = ?")
        params.append(printer_id)
        conditions.append(_printer_ok("photos.customer_id"))
        where_params += [printer_id, printer_id]
    result = await db.execute(
        f"UPDATE photos SET {', '.join(assignments)} WHERE {' AND '.join(conditions)} "
        f"RETURNING {COLUMNS}",
        [*params, *where_params],
    )
    return result.first()


STUCK = "print_status = 'printing' AND claimed_at < ?"  # the one definition of "stuck"


def _requeue(
    cutoff: str,
    customer_id: str | None,
    *,
    printer_id: str | None = None,
    photo_id: str | None = None,
) -> Statement:
    """Stuck photos (printing since before `cutoff`) back to pending: everyone's, one
    customer's or one photo; with `printer_id` (a claim) only when that printer is the
    customer's."""
    scope = "".join(
        f"{column} = ? AND "
        for column, value in (("customer_id", customer_id), ("id", photo_id))
        if value is not None
    )
    params: list[Any] = [v for v in (customer_id, photo_id) if v is not None] + [cutoff]
    owned = ""
    if printer_id is not None:
        owned = " AND EXISTS (SELECT 1 FROM printers WHERE id = ? AND customer_id = ?)"
        params += [printer_id, customer_id]
    return Statement(
        "UPDATE photos SET print_status = 'pending', claimed_at = NULL, "
        f"updated_at = datetime('now') WHERE {scope}{STUCK}{owned}",
        params,
    )


async def requeue_one(db: Database, photo_id: str, cutoff: str) -> Row | None:
    """Put one stuck print back in the queue: one conditional UPDATE (still stuck at the
    moment it runs, so a print that finished meanwhile is left alone); None if not."""
    statement = _requeue(cutoff, None, photo_id=photo_id)
    result = await db.execute(f"{statement.sql} RETURNING {COLUMNS}", statement.params)
    return result.first()


async def printing(
    db: Database,
    customer_id: str | None,
    printer_id: str | None,
    claimed_before: str | None,
    limit: int,
) -> list[Row]:
    """Prints in `printing`, oldest claim first; only those claimed before
    `claimed_before` (the stuck ones) when given. The literal `print_status = 'printing'`
    lets SQLite use the partial index photos_printing, whatever the customer filter."""
    where, params = conditions((("customer_id", customer_id, "="), ("printer_id", printer_id, "=")))
    where.append("print_status = 'printing'")
    if claimed_before is not None:
        where.append("claimed_at < ?")
        params.append(claimed_before)
    return await db.fetch_all(
        f"SELECT {COLUMNS} FROM photos WHERE {' AND '.join(where)} ORDER BY claimed_at, id LIMIT ?",
        [*params, limit],
    )


async def requeue_stuck(db: Database, cutoff: str, customer_id: str | None = None) -> int:
    """Photos printing since before `cutoff` go back to pending; returns how many."""
    statement = _requeue(cutoff, customer_id)
    result = await db.execute(statement.sql, statement.params)
    return result.changes


def claim_statement(printer_id: str, customer_id: str) -> Statement:
    """Take the oldest pending, uploaded photo for this printer (or unassigned): ONE
    conditional UPDATE that picks and takes together (D1 has no interactive transaction to
    hold a read), so two claimers never get the same photo, and `uploaded_at IS NOT NULL`
    in the same statement means no claimer ever gets a photo whose object is missing.

    The subquery's literal `print_status = 'pending' AND uploaded_at IS NOT NULL` is what
    lets SQLite (and D1) use the partial index photos_claimable (migration 0005)."""
    return Statement(
        "UPDATE photos SET print_status = 'printing', printer_id = ?, "
        "claimed_at = datetime('now'), updated_at = datetime('now') "
        "WHERE id = (SELECT id FROM photos WHERE customer_id = ? "
        "AND print_status = 'pending' AND uploaded_at IS NOT NULL "
        "AND (printer_id = ? OR printer_id IS NULL) ORDER BY created_at, id LIMIT 1) "
        "AND print_status = 'pending' AND uploaded_at IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM printers WHERE id = ? AND customer_id = ?) "
        f"RETURNING {COLUMNS}",
        (printer_id, customer_id, printer_id, printer_id, customer_id),
    )


async def claim(
    db: Database, printer_id: str, customer_id: str, cutoff: str
) -> tuple[Row | None, bool]:
    """Requeue the customer's stuck prints, then claim (`claim_statement`): one atomic
    batch, never the same photo twice, never one without its object. Answers the photo
    and whether the printer is the customer's; both statements act only if it is, so the
    whole claim is one round trip on D1."""
    results = await db.batch(
        [
            _requeue(cutoff, customer_id, printer_id=printer_id),
            claim_statement(printer_id, customer_id),
            Statement(
                "SELECT 1 AS found FROM printers WHERE id = ? AND customer_id = ?",
                (printer_id, customer_id),
            ),
        ]
    )
    return results[1].first(), bool(results[2].rows)


async def delete(db: Database, photo_id: str) -> Row | None:
    result = await db.execute(f"DELETE FROM photos WHERE id = ? RETURNING {COLUMNS}", (photo_id,))
    return result.first()
