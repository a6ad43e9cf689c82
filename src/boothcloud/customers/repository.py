"""All SQL about customers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from boothcloud.db.base import Database, Row
from boothcloud.errors import Conflict, register_constraint
from boothcloud.pagination import keyset
from boothcloud.settings import TIERS

for _constraint in ("customers.email", "customers_email_lower"):
    register_constraint(_constraint, Conflict, "email", "a customer with this email exists")
register_constraint("customers.license_key", Conflict, "license_key", "key collision, retry")

COLUMNS = (
    "id, name, email, phone, license_key, license_type, license_status, license_expires_at, "
    "purchase_date, created_at, updated_at"
)
PATCHABLE = ("name", "email", "phone", "license_type", "license_status", "license_expires_at")
# Any text that names no tier: what a per-tier rule answers for a tier it does not know.
_NOT_A_TIER = "?"


def tier_case(column: str, rule: Callable[[str], Any]) -> tuple[str, list[Any]]:
    """`rule(license_type)` as a SQL expression over `column`, for a statement that must
    decide by the customer's tier without reading it first (D1 has no interactive
    transaction, and a read would be a round trip of its own).

    The rule stays in Python: it is evaluated here for every tier, for the empty text and
    for an unknown tier, and the `CASE` only picks among those answers, so the statement
    decides exactly as `rule` would on the tier it finds."""
    keys = ("", *TIERS)
    whens = " ".join("WHEN ? THEN ?" for _ in keys)
    params = [value for key in keys for value in (key, rule(key))]
    return f"CASE {column} {whens} ELSE ? END", [*params, rule(_NOT_A_TIER)]


async def insert(db: Database, values: dict[str, Any]) -> Row:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    result = await db.execute(
        f"INSERT INTO customers ({names}) VALUES ({marks}) RETURNING {COLUMNS}",
        list(values.values()),
    )
    row = result.first()
    assert row is not None
    return row


async def get(db: Database, customer_id: str) -> Row | None:
    return await db.fetch_one(f"SELECT {COLUMNS} FROM customers WHERE id = ?", (customer_id,))


def _like(text: str) -> str:
    """`text` as a LIKE pattern that matches it literally, anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def page(
    db: Database,
    *,
    email: str | None,
    license_type: str | None,
    cursor: str | None,
    limit: int,
    search: str | None = None,
    license_status: str | None = None,
) -> list[Row]:
    """A newest-first page; `search` matches part of the name or the email, any case (a
    scan: 10,000 customers take a few milliseconds, and no index serves `%text%`)."""
    where: list[str] = []
    params: list[Any] = []
    if email is not None:
        where.append("lower(email) = lower(?)")
        params.append(email)
    if license_type is not None:
        where.append("license_type = ?")
        params.append(license_type)
    if license_status is not None:
        where.append("license_status = ?")
        params.append(license_status)
    if search:
        where.append("(name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\')")
        params += [_like(search), _like(search)]
    tail, args = keyset(where, params, cursor, limit)
    return await db.fetch_all(f"SELECT {COLUMNS} FROM customers{tail}", args)


async def update(db: Database, customer_id: str, changes: dict[str, Any]) -> Row | None:
    assert set(changes) <= set(PATCHABLE) | {"license_key"}
    assignments = ", ".join(f"{name} = ?" for name in changes)
    result = await db.execute(
        f"UPDATE customers SET {assignments}, updated_at = datetime('now') WHERE id = ? "
        f"RETURNING {COLUMNS}",
        [*changes.values(), customer_id],
    )
    return result.first()
