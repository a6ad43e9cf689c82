"""All SQL about licenses: key lookup and device activations."""

from __future__ import annotations

from boothcloud.customers.repository import COLUMNS as CUSTOMER_COLUMNS
from boothcloud.db.base import Database, Row
from boothcloud.errors import Conflict, register_constraint
from boothcloud.licenses.keys import normalize_license_key, secrets_equal
from boothcloud.timeutil import from_db, utcnow

register_constraint(
    "license_activations.customer_id, license_activations.fingerprint",
    Conflict,
    "fingerprint",
    "this device is already activated",
)

LICENSE_COLUMNS = "id, license_key, license_type, license_status, license_expires_at"
ACTIVATION_COLUMNS = "id, customer_id, fingerprint, name, created_at, last_validated_at"


async def find_by_key(db: Database, key: str) -> Row | None:
    """The customer holding this key: looked up by its unique index, then confirmed with a
    constant-time comparison (the one check both auth and validation rely on). The whole
    row, so a booth reading its own customer needs no second query."""
    normalized = normalize_license_key(key)
    row = await db.fetch_one(
        f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE license_key = ?", (normalized,)
    )
    if row is None or not secrets_equal(normalized, str(row["license_key"])):
        return None
    return row


async def get_license(db: Database, customer_id: str) -> Row | None:
    return await db.fetch_one(
        f"SELECT {LICENSE_COLUMNS} FROM customers WHERE id = ?", (customer_id,)
    )


def license_problem(row: Row) -> str | None:
    """Why a license cannot be used now (`SUSPENDED`, `EXPIRED`), or None when it can."""
    if row["license_status"] == "suspended":
        return "SUSPENDED"
    expires_at = row["license_expires_at"]
    if expires_at is not None and from_db(expires_at) <= utcnow():
        return "EXPIRED"
    return None


async def find_activation(db: Database, customer_id: str, fingerprint: str) -> Row | None:
    return await db.fetch_one(
        f"SELECT {ACTIVATION_COLUMNS} FROM license_activations "
        "WHERE customer_id = ? AND fingerprint = ?",
        (customer_id, fingerprint),
    )


async def get_activation(db: Database, activation_id: str) -> Row | None:
    return await db.fetch_one(
        f"SELECT {ACTIVATION_COLUMNS} FROM license_activations WHERE id = ?", (activation_id,)
    )


async def list_activations(db: Database, customer_id: str) -> list[Row]:
    return await db.fetch_all(
        f"SELECT {ACTIVATION_COLUMNS} FROM license_activations "
        "WHERE customer_id = ? ORDER BY created_at, id",
        (customer_id,),
    )


async def quietest_activations(db: Database, customer_id: str | None, limit: int) -> list[Row]:
    """Devices, the longest silent first (never validated before all: SQLite sorts NULL
    first), with their owner's name: the booths page's order until booths report
    heartbeats. The page is chosen first and joined after, so only its rows are joined."""
    scope, params = ("WHERE customer_id = ? ", [customer_id]) if customer_id else ("", [])
    return await db.fetch_all(
        "SELECT a.*, c.name AS customer_name FROM ("
        f"SELECT {ACTIVATION_COLUMNS} FROM license_activations {scope}"
        "ORDER BY last_validated_at, id LIMIT ?) a JOIN customers c ON c.id = a.customer_id "
        "ORDER BY a.last_validated_at, a.id",
        [*params, limit],
    )


async def insert_activation_within_limit(
    db: Database,
    activation_id: str,
    customer_id: str,
    fingerprint: str,
    name: str | None,
    limit: int | None,
) -> bool:
    """Insert only while the customer is under its device limit, in one statement.

    The count and the insert happen under one write lock, so two booths activating at once
    can never both take the last slot. Returns False when the limit is reached.
    """
    result = await db.execute(
        "INSERT INTO license_activations (id, customer_id, fingerprint, name) "
        "SELECT ?, ?, ?, ? WHERE ? IS NULL OR "
        "(SELECT COUNT(*) FROM license_activations WHERE customer_id = ?) < ? "
        "ON CONFLICT (customer_id, fingerprint) DO NOTHING",
        (activation_id, customer_id, fingerprint, name, limit, customer_id, limit),
    )
    return result.changes == 1


async def delete_activation(db: Database, activation_id: str) -> bool:
    result = await db.execute("DELETE FROM license_activations WHERE id = ?", (activation_id,))
    return result.changes == 1
