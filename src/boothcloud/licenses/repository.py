"""All SQL about licenses: key lookup and device activations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from boothcloud.customers.repository import COLUMNS as CUSTOMER_COLUMNS
from boothcloud.db.base import Database, Row, Statement
from boothcloud.errors import Conflict, ValidationFailed, register_constraint
from boothcloud.licenses.keys import normalize_license_key, secrets_equal
from boothcloud.timeutil import from_db, to_db, utcnow

register_constraint(
    "license_activations.customer_id, license_activations.fingerprint",
    Conflict,
    "fingerprint",
    "this device is already activated",
)

LICENSE_COLUMNS = "id, license_key, license_type, license_status, license_expires_at"
ACTIVATION_COLUMNS = (
    "id, customer_id, fingerprint, name, created_at, last_validated_at, last_seen_at, "
    "agent_version, free_disk_bytes, queue_depth, outbox_depth"
)
DEVICE_PRINTER_COLUMNS = (
    "p.activation_id, p.customer_id, a.name AS device_name, a.last_seen_at, p.name, "
    "p.printer_id, p.state, p.reason, p.markers, p.reported_at"
)


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
    statement = license_of(customer_id)
    return await db.fetch_one(statement.sql, statement.params)


def license_problem(row: Row) -> str | None:
    """Why a license cannot be used now (`SUSPENDED`, `EXPIRED`), or None when it can."""
    if row["license_status"] == "suspended":
        return "SUSPENDED"
    expires_at = row["license_expires_at"]
    if expires_at is not None and from_db(expires_at) <= utcnow():
        return "EXPIRED"
    return None


def usable_check(customer_id: str, key: str) -> Statement:
    """`license_problem` as one SQL statement, for booth auth that rides along with a
    route's first call (`auth.require_caller_pipelined`): it answers a row when `key` is
    this customer's and the license is usable now, and otherwise fails (SQLite's `json()`
    refuses the malformed text), so the atomic batch it leads applies nothing. The same
    rule as `license_problem`: not suspended, and no expiry at or before now."""
    return Statement(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM customers WHERE id = ? AND license_key = ? "
        "AND license_status IS NOT 'suspended' AND (license_expires_at IS NULL "
        "OR julianday(license_expires_at) > julianday(?))) "
        "THEN 1 ELSE json('license not usable') END AS usable",
        (customer_id, normalize_license_key(key), to_db(utcnow())),
    )


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


async def activate_within_limit(
    db: Database,
    activation_id: str,
    customer_id: str,
    fingerprint: str,
    name: str | None,
    limit: tuple[str, list[Any]],
    now: str,
) -> tuple[Row | None, bool]:
    """Activate the device unless the customer is at its device limit, and read the result,
    in one atomic batch (one round trip on D1).

    `limit` is the tier's limit as a SQL expression over `license_type` (`tier_case`):
    the INSERT reads the customer's tier, counts its activations and inserts in one
    statement (D1 has no interactive transaction to read the tier and count in first),
    under one write lock, so two booths activating at once can never both take the last
    slot. The SELECT after it answers the license (`license_type`, `license_expires_at`)
    with the fingerprint's activation (`id` NULL when the limit refused it), or no row when
    the customer does not exist. Returns that row and whether the INSERT created it now.
    """
    columns = ", ".join(f"a.{column.strip()}" for column in ACTIVATION_COLUMNS.split(","))
    results = await db.batch(
        [
            Statement(
                "INSERT INTO license_activations (id, customer_id, fingerprint, name, "
                f"last_seen_at) SELECT ?, ?, ?, ?, ? FROM (SELECT {limit[0]} AS lim "
                "FROM customers WHERE id = ?) WHERE lim IS NULL OR "
                "(SELECT COUNT(*) FROM license_activations WHERE customer_id = ?) < lim "
                "ON CONFLICT (customer_id, fingerprint) DO NOTHING",
                (
                    activation_id,
                    customer_id,
                    fingerprint,
                    name,
                    now,
                    *limit[1],
                    customer_id,
                    customer_id,
                ),
            ),
            Statement(
                f"SELECT c.license_type, c.license_expires_at, {columns} FROM customers c "
                "LEFT JOIN license_activations a ON a.customer_id = c.id AND a.fingerprint = ? "
                "WHERE c.id = ?",
                (fingerprint, customer_id),
            ),
        ]
    )
    return results[1].first(), results[0].changes == 1


async def delete_activation(db: Database, activation_id: str) -> bool:
    result = await db.execute("DELETE FROM license_activations WHERE id = ?", (activation_id,))
    return result.changes == 1


# A heartbeat naming a printer that is not the booth's own (another customer's, or none)
# writes NULL into the report's `state`, so its whole batch fails on this NOT NULL: see
# `record_heartbeat`, where the ownership rule lives.
register_constraint(
    "device_printers.state",
    ValidationFailed,
    "printers",
    "printer_id: no such printer for this customer",
)


def license_of(customer_id: str) -> Statement:
    """The customer's license row (`LICENSE_COLUMNS`)."""
    return Statement(f"SELECT {LICENSE_COLUMNS} FROM customers WHERE id = ?", (customer_id,))


async def record_heartbeat(
    db: Database,
    activation_id: str,
    customer_id: str,
    now: str,
    facts: dict[str, Any],
    printers: Sequence[dict[str, Any]],
    *,
    with_license: bool,
) -> tuple[Row | None, Row | None]:
    """Store what the heartbeat reported, in one atomic batch (one D1 round trip, booth
    auth riding along): the activation's facts, and its printers' states replacing the
    previous report; with `with_license`, the license row too (for a certificate).

    Answers the activation row, None when it is not this customer's (another customer's,
    deactivated, unknown): every statement is scoped to `customer_id`, so nothing is
    written then either. D1 has no interactive transaction to check the printers before
    writing, so the rule "a reported `printer_id` is one of the customer's printers" is
    in each printer's INSERT: its `state` is NULL unless the printer is the customer's,
    which fails the NOT NULL and with it the whole batch (`device_printers.state`,
    registered above as the 422 on `printers`)."""
    statements = [
        Statement(
            "UPDATE license_activations SET last_seen_at = ?, agent_version = ?, "
            "free_disk_bytes = ?, queue_depth = ?, outbox_depth = ? "
            f"WHERE id = ? AND customer_id = ? RETURNING {ACTIVATION_COLUMNS}",
            (
                now,
                facts["agent_version"],
                facts["free_disk_bytes"],
                facts["queue_depth"],
                facts["outbox_depth"],
                activation_id,
                customer_id,
            ),
        ),
        Statement(
            "DELETE FROM device_printers WHERE activation_id = ? AND customer_id = ?",
            (activation_id, customer_id),
        ),
    ]
    statements += [
        Statement(
            "INSERT INTO device_printers (activation_id, customer_id, name, printer_id, state, "
            "reason, markers, reported_at) SELECT ?, ?, ?, ?, CASE WHEN ? IS NULL OR EXISTS "
            "(SELECT 1 FROM printers WHERE id = ? AND customer_id = ?) THEN ? END, ?, ?, ? "
            "WHERE EXISTS (SELECT 1 FROM license_activations WHERE id = ? AND customer_id = ?)",
            (
                activation_id,
                customer_id,
                printer["name"],
                printer["printer_id"],
                printer["printer_id"],
                printer["printer_id"],
                customer_id,
                printer["state"],
                printer["reason"],
                orjson.dumps(printer["markers"]).decode(),
                now,
                activation_id,
                customer_id,
            ),
        )
        for printer in printers
    ]
    if with_license:
        statements.append(license_of(customer_id))
    results = await db.batch(statements)
    return results[0].first(), results[-1].first() if with_license else None


def _keyset(
    first: tuple[str, Any],
    customer: tuple[str, str | None],
    key: str,
    after: Sequence[str] | None,
) -> tuple[str, list[Any]]:
    """WHERE of a fleet list: its condition, an optional customer, rows after the cursor's
    key (a row-value comparison, which walks the index in key order)."""
    where, params = [first[0]], [first[1]]
    if customer[1] is not None:
        where.append(f"{customer[0]} = ?")
        params.append(customer[1])
    if after is not None:
        where.append(f"({key}) > ({', '.join('?' for _ in after)})")
        params.extend(after)
    return " AND ".join(where), params


async def seen_page(
    db: Database,
    cutoff: str,
    alive: bool,
    customer_id: str | None,
    after: Sequence[str] | None,
    limit: int,
) -> list[Row]:
    """Activations last seen before `cutoff` (dead) or since (`alive`), longest silent
    first; keyset on (last_seen_at, id) through `license_activations_last_seen`. One row
    more than `limit` tells whether a next page exists."""
    key = "last_seen_at, id"
    seen = ("last_seen_at >= ?" if alive else "last_seen_at < ?", cutoff)
    where, params = _keyset(seen, ("customer_id", customer_id), key, after)
    return await db.fetch_all(
        f"SELECT {ACTIVATION_COLUMNS} FROM license_activations WHERE {where} "
        f"ORDER BY {key} LIMIT ?",
        (*params, limit + 1),
    )


async def printers_in_state(
    db: Database, state: str, customer_id: str | None, after: Sequence[str] | None, limit: int
) -> list[Row]:
    """Reported printers in `state`, oldest report first; keyset on (reported_at,
    activation_id, name) through `device_printers_state`."""
    key = "p.reported_at, p.activation_id, p.name"
    where, params = _keyset(("p.state = ?", state), ("p.customer_id", customer_id), key, after)
    return await db.fetch_all(
        f"SELECT {DEVICE_PRINTER_COLUMNS} FROM device_printers p "
        "JOIN license_activations a ON a.id = p.activation_id "
        f"WHERE {where} ORDER BY {key} LIMIT ?",
        (*params, limit + 1),
    )
