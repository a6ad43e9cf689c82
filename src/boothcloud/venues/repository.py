"""All SQL about venues and where devices stand."""

from __future__ import annotations

from typing import Any

from boothcloud.db.base import Database, Row, Statement
from boothcloud.pagination import keyset, page_of

COLUMNS = (
    "id, customer_id, name, xendit_sub_account_id, share_basis_points, share_amount, created_at"
)


async def insert(db: Database, values: dict[str, Any]) -> Row:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    results = await db.batch(
        [
            Statement(f"INSERT INTO venues ({names}) VALUES ({marks})", list(values.values())),
            Statement(f"SELECT {COLUMNS} FROM venues WHERE id = ?", (values["id"],)),
        ]
    )
    row = results[1].first()
    assert row is not None
    return row


async def get(db: Database, venue_id: str) -> Row | None:
    return await db.fetch_one(f"SELECT {COLUMNS} FROM venues WHERE id = ?", (venue_id,))


async def page(
    db: Database, customer_id: str | None, cursor: str | None, limit: int
) -> tuple[list[Row], str | None]:
    where, params = (["customer_id = ?"], [customer_id]) if customer_id else ([], [])
    tail, args = keyset(where, params, cursor, limit)
    return page_of(await db.fetch_all(f"SELECT {COLUMNS} FROM venues{tail}", args), limit)


async def place(db: Database, activation_id: str, venue_id: str | None, customer_id: str) -> bool:
    """Put the customer's device at a venue (or at none): one conditional UPDATE, so a
    device of another customer is never touched. False: no such device of the customer."""
    result = await db.execute(
        "UPDATE license_activations SET venue_id = ? WHERE id = ? AND customer_id = ?",
        (venue_id, activation_id, customer_id),
    )
    return result.changes == 1


async def unplace(db: Database, activation_id: str, venue_id: str) -> bool:
    """Take the device away from this venue; False when it does not stand there."""
    result = await db.execute(
        "UPDATE license_activations SET venue_id = NULL WHERE id = ? AND venue_id = ?",
        (activation_id, venue_id),
    )
    return result.changes == 1
