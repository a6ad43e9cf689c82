"""All SQL about sessions, their gallery, and the per-day gallery counters.

D1 has no interactive transactions, so each rule that spans rows is a condition of the one
statement that writes: a session is opened only from the customer's own activation and
with the customer's own payment (`open_statement`), a photo or payment names only a
session of its own customer (`belongs_clause`, inside their INSERT), and a state change
names the states it may leave in its WHERE clause.
"""

from __future__ import annotations

from typing import Any

from boothcloud.db.base import Database, Row, Statement
from boothcloud.errors import Conflict, register_constraint
from boothcloud.pagination import conditions, keyset

register_constraint(
    "sessions_payment", Conflict, "payment_id", "this payment already pays for another session"
)
register_constraint(
    "sessions.payment_id", Conflict, "payment_id", "this payment already pays for another session"
)

COLUMNS = (
    "id, customer_id, activation_id, status, payment_id, share_code, expires_at, revoked_at, "
    "purged_at, closed_at, created_at, updated_at"
)
# A photo that is queued (pending and uploaded: claimable) or printing is never purged.
PURGEABLE = (
    "purged_at IS NULL AND print_status <> 'printing' "
    "AND NOT (print_status = 'pending' AND uploaded_at IS NOT NULL)"
)


def belongs_clause(session_id: str | None, customer_id: str) -> tuple[str, list[Any]]:
    """SQL condition: no session named, or one of this customer's (for INSERT ... WHERE)."""
    return (
        "(? IS NULL OR EXISTS (SELECT 1 FROM sessions WHERE id = ? AND customer_id = ?))",
        [session_id, session_id, customer_id],
    )


async def belongs(db: Database, session_id: str, customer_id: str) -> bool:
    row = await db.fetch_one(
        "SELECT 1 AS found FROM sessions WHERE id = ? AND customer_id = ?",
        (session_id, customer_id),
    )
    return row is not None


def _link_payment(session_id: str, payment_id: str | None) -> Statement:
    """The payment records its session too, unless it already names one."""
    return Statement(
        "UPDATE payments SET session_id = ? WHERE id = ? AND session_id IS NULL "
        "AND EXISTS (SELECT 1 FROM sessions WHERE id = ? AND payment_id = ?)",
        (session_id, payment_id, session_id, payment_id),
    )


async def insert(db: Database, values: dict[str, Any]) -> Row | None:
    """Open a session only from this customer's activation and with this customer's
    payment (or none): one conditional INSERT, None when either check fails."""
    customer_id, payment_id = values["customer_id"], values["payment_id"]
    insert = Statement(
        "INSERT INTO sessions (id, customer_id, activation_id, status, payment_id, share_code, "
        "share_hash, expires_at, created_at, updated_at) "
        "SELECT ?, ?, ?, 'open', ?, ?, ?, ?, datetime('now'), datetime('now') "
        "WHERE EXISTS (SELECT 1 FROM license_activations WHERE id = ? AND customer_id = ?) "
        "AND (? IS NULL OR EXISTS (SELECT 1 FROM payments WHERE id = ? AND customer_id = ?)) "
        f"RETURNING {COLUMNS}",
        [
            values["id"],
            customer_id,
            values["activation_id"],
            payment_id,
            values["share_code"],
            values["share_hash"],
            values["expires_at"],
            values["activation_id"],
            customer_id,
            payment_id,
            payment_id,
            customer_id,
        ],
    )
    results = await db.batch([insert, _link_payment(values["id"], payment_id)])
    return results[0].first()


async def get(db: Database, session_id: str) -> Row | None:
    return await db.fetch_one(f"SELECT {COLUMNS} FROM sessions WHERE id = ?", (session_id,))


async def activation_of(db: Database, activation_id: str, customer_id: str) -> bool:
    row = await db.fetch_one(
        "SELECT 1 AS found FROM license_activations WHERE id = ? AND customer_id = ?",
        (activation_id, customer_id),
    )
    return row is not None


async def payment_of(db: Database, payment_id: str, customer_id: str) -> bool:
    row = await db.fetch_one(
        "SELECT 1 AS found FROM payments WHERE id = ? AND customer_id = ?",
        (payment_id, customer_id),
    )
    return row is not None


async def page(
    db: Database,
    *,
    customer_id: str | None,
    status: str | None,
    activation_id: str | None,
    created_from: str | None,
    created_to: str | None,
    cursor: str | None,
    limit: int,
) -> list[Row]:
    where, params = conditions(
        (
            ("customer_id", customer_id, "="),
            ("status", status, "="),
            ("activation_id", activation_id, "="),
            ("created_at", created_from, ">="),
            ("created_at", created_to, "<"),
        )
    )
    tail, args = keyset(where, params, cursor, limit)
    return await db.fetch_all(f"SELECT {COLUMNS} FROM sessions{tail}", args)


async def update(
    db: Database,
    session_id: str,
    *,
    close: bool,
    payment_id: str | None,
    revoke: bool,
    expires_at: str | None,
) -> Row | None:
    """Apply the given changes only while each is still allowed (None otherwise): closing
    leaves `open` only, a payment must be the customer's and the slot empty, revoking and
    extending need a gallery that is neither revoked nor purged."""
    assignments = ["updated_at = datetime('now')"]
    conditions = ["id = ?"]
    params: list[Any] = []
    where_params: list[Any] = [session_id]
    if close:
        assignments += ["status = 'closed'", "closed_at = datetime('now')"]
        conditions.append("status = 'open'")
    if payment_id is not None:
        assignments.append("payment_id = ?")
        params.append(payment_id)
        conditions.append(
            "payment_id IS NULL AND EXISTS (SELECT 1 FROM payments p "
            "WHERE p.id = ? AND p.customer_id = sessions.customer_id)"
        )
        where_params.append(payment_id)
    if revoke or expires_at is not None:
        conditions.append("revoked_at IS NULL AND purged_at IS NULL")
    if revoke:
        assignments.append("revoked_at = datetime('now')")
    if expires_at is not None:
        assignments.append("expires_at = ?")
        params.append(expires_at)
    statements = [
        Statement(
            f"UPDATE sessions SET {', '.join(assignments)} WHERE {' AND '.join(conditions)} "
            f"RETURNING {COLUMNS}",
            [*params, *where_params],
        )
    ]
    if payment_id is not None:
        statements.append(_link_payment(session_id, payment_id))
    results = await db.batch(statements)
    return results[0].first()


# --- the gallery ---------------------------------------------------------------------------


async def by_share_hash(db: Database, share_hash: str) -> Row | None:
    """The session and its customer's branding, by the SHA-256 of its share code."""
    return await db.fetch_one(
        "SELECT s.id, s.customer_id, s.share_code, s.expires_at, s.revoked_at, s.purged_at, "
        "c.name AS customer_name, c.gallery_logo_key FROM sessions s "
        "JOIN customers c ON c.id = s.customer_id WHERE s.share_hash = ?",
        (share_hash,),
    )


async def gallery_photos(db: Database, session_id: str) -> list[Row]:
    """The photos a guest sees: uploaded, not purged, oldest first."""
    return await db.fetch_all(
        "SELECT id, r2_key, thumb_key, content_type, object_size FROM photos "
        "WHERE session_id = ? AND uploaded_at IS NOT NULL AND purged_at IS NULL "
        "ORDER BY created_at, id",
        (session_id,),
    )


async def photo_needing_thumbnail(db: Database, photo_id: str) -> Row | None:
    """A session's uploaded photo without a thumbnail (`thumbnails.derive_after_upload`)."""
    return await db.fetch_one(
        "SELECT id, r2_key, thumb_key FROM photos WHERE id = ? AND session_id IS NOT NULL "
        "AND uploaded_at IS NOT NULL AND purged_at IS NULL AND thumb_key IS NULL",
        (photo_id,),
    )


async def set_thumbnail(db: Database, photo_id: str, thumb_key: str) -> None:
    """Record the thumbnail once: a concurrent derivation of the same photo changes nothing."""
    await db.execute(
        "UPDATE photos SET thumb_key = ? WHERE id = ? AND thumb_key IS NULL", (thumb_key, photo_id)
    )


async def count(db: Database, customer_id: str, day: str, column: str) -> None:
    """Add one to a per-day counter (`gallery_opens` or `downloads`) in one upsert."""
    assert column in ("gallery_opens", "downloads")
    await db.execute(
        f"INSERT INTO gallery_daily (customer_id, day, {column}) VALUES (?, ?, 1) "
        f"ON CONFLICT (customer_id, day) DO UPDATE SET {column} = {column} + 1",
        (customer_id, day),
    )


async def logo_of(db: Database, customer_id: str) -> Row | None:
    """The customer's logo key (the row is None when there is no such customer)."""
    return await db.fetch_one("SELECT gallery_logo_key FROM customers WHERE id = ?", (customer_id,))


async def set_logo(db: Database, customer_id: str, key: str | None) -> bool:
    result = await db.execute(
        "UPDATE customers SET gallery_logo_key = ?, updated_at = datetime('now') WHERE id = ?",
        (key, customer_id),
    )
    return result.changes == 1


# --- background jobs -----------------------------------------------------------------------


async def abandon_open(db: Database, opened_before: str) -> int:
    result = await db.execute(
        "UPDATE sessions SET status = 'abandoned', updated_at = datetime('now') "
        "WHERE status = 'open' AND created_at < ?",
        (opened_before,),
    )
    return result.changes


async def expired_unpurged(db: Database, now: str, limit: int) -> list[Row]:
    """Sessions whose gallery has ended (expired or revoked) and still holds objects."""
    return await db.fetch_all(
        "SELECT id FROM sessions WHERE purged_at IS NULL "
        "AND (expires_at <= ? OR revoked_at IS NOT NULL) ORDER BY expires_at LIMIT ?",
        (now, limit),
    )


async def mark_purged(db: Database, session_id: str, now: str) -> list[Row]:
    """Mark the session's purgeable photos purged, returning their object keys: one
    conditional UPDATE, so a photo that is queued or printing at that moment is skipped."""
    result = await db.execute(
        f"UPDATE photos SET purged_at = ?, updated_at = ? WHERE session_id = ? AND {PURGEABLE} "
        "RETURNING id, r2_key, thumb_key",
        (now, now, session_id),
    )
    return result.rows


async def unmark_purged(db: Database, photo_ids: list[str]) -> None:
    """Objects that could not be deleted: their photos are tried again next run."""
    marks = ", ".join("?" for _ in photo_ids)
    await db.execute(f"UPDATE photos SET purged_at = NULL WHERE id IN ({marks})", photo_ids)


async def finish_purge(db: Database, session_id: str, now: str) -> bool:
    """The session is purged once none of its photos holds objects any more."""
    result = await db.execute(
        "UPDATE sessions SET purged_at = ?, updated_at = ? WHERE id = ? AND purged_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM photos WHERE session_id = ? AND purged_at IS NULL)",
        (now, now, session_id, session_id),
    )
    return result.changes == 1


# --- operator statistics -------------------------------------------------------------------


async def daily_stats(
    db: Database, customer_id: str | None, day_from: str, day_until: str
) -> list[Row]:
    """Per customer and UTC day in [day_from, day_until): sessions, paid sessions, photos,
    prints, gallery opens and downloads. Photos and prints count every photo of the
    customer logged that day; a print is a photo whose print_status is `completed`."""
    scope = "AND customer_id = ? " if customer_id is not None else ""
    session_scope = scope.replace("customer_id", "s.customer_id")
    scoped: list[Any] = [customer_id] if customer_id is not None else []
    start, end = f"{day_from} 00:00:00", f"{day_until} 00:00:00"
    return await db.fetch_all(
        "SELECT customer_id, day, sum(sessions) AS sessions, sum(paid) AS paid_sessions, "
        "sum(photos) AS photos, sum(prints) AS prints, sum(opens) AS gallery_opens, "
        "sum(downloads) AS downloads FROM ("
        "SELECT s.customer_id, date(s.created_at) AS day, 1 AS sessions, "
        "coalesce(p.status = 'completed', 0) AS paid, 0 AS photos, 0 AS prints, 0 AS opens, "
        "0 AS downloads FROM sessions s LEFT JOIN payments p ON p.id = s.payment_id "
        f"WHERE s.created_at >= ? AND s.created_at < ? {session_scope}"
        "UNION ALL SELECT customer_id, date(created_at), 0, 0, 1, "
        "(print_status = 'completed'), 0, 0 FROM photos "
        f"WHERE created_at >= ? AND created_at < ? {scope}"
        "UNION ALL SELECT customer_id, day, 0, 0, 0, 0, gallery_opens, downloads "
        f"FROM gallery_daily WHERE day >= ? AND day < ? {scope}"
        ") GROUP BY customer_id, day ORDER BY day DESC, customer_id",
        [start, end, *scoped, start, end, *scoped, day_from, day_until, *scoped],
    )


async def gallery_photo(db: Database, session_id: str, photo_id: str) -> Row | None:
    return await db.fetch_one(
        "SELECT id, r2_key, content_type FROM photos WHERE id = ? AND session_id = ? "
        "AND uploaded_at IS NOT NULL AND purged_at IS NULL",
        (photo_id, session_id),
    )
