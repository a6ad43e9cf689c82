"""All SQL about refunds.

D1 has no interactive transactions, so every rule that must hold under concurrency is a
condition of ONE statement: a refund is inserted only while the payment's refundable rest
covers it (`insert`), the guarantee's refund only while its session is still unprinted and
at most once per payment (`insert_automatic` and the unique index `refunds_automatic`), a
request takes a refund to send only while no live request holds it (`take_over`), and a
status leaves `pending` once (`finish`, `apply_event`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from boothcloud.db.base import Database, Result, Row, Statement
from boothcloud.ids import new_id

COLUMNS = (
    "id, payment_id, customer_id, amount, reason, note, source, status, xendit_refund_id, "
    "failure_code, claimed_at, idempotency_key, request_hash, response_status, "
    "response_body, created_at, updated_at"
)
# What of a payment `p` is still refundable: the paid amount less every refund that is
# not failed (pending ones hold their amount until Xendit says how they ended).
REMAINING = (
    "(COALESCE(p.paid_amount, p.amount) - (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r "
    "WHERE r.payment_id = p.id AND r.status != 'failed'))"
)
# A payment's refunded amount (pending and succeeded refunds), as a column of `payments`.
REFUNDED_OF_PAYMENTS = (
    "(SELECT COALESCE(SUM(r.amount), 0) FROM refunds r "
    "WHERE r.payment_id = payments.id AND r.status != 'failed') AS refunded_amount"
)
_INSERTED = (
    "id, payment_id, customer_id, amount, reason, note, source, status, claimed_at, "
    "idempotency_key, request_hash, created_at, updated_at"
)


async def remaining(db: Database, payment_id: str) -> int:
    row = await db.fetch_one(
        f"SELECT {REMAINING} AS rest FROM payments p WHERE p.id = ?", (payment_id,)
    )
    return 0 if row is None else int(row["rest"])


async def insert(db: Database, values: dict[str, Any]) -> bool:
    """Insert the operator's refund only while the payment is completed and its refundable
    rest covers the amount: ONE conditional INSERT, so of two concurrent refunds that
    together exceed the rest, the second finds the first's amount already counted and
    inserts nothing. False also when the Idempotency-Key is taken for this payment."""
    result = await db.execute(
        f"INSERT INTO refunds ({_INSERTED}) "
        "SELECT ?, p.id, p.customer_id, ?, ?, ?, 'operator', 'pending', ?, ?, ?, ?, ? "
        f"FROM payments p WHERE p.id = ? AND p.status = 'completed' AND ? <= {REMAINING} "
        "ON CONFLICT DO NOTHING",
        (
            values["id"],
            values["amount"],
            values["reason"],
            values["note"],
            values["claimed_at"],
            values["idempotency_key"],
            values["request_hash"],
            values["created_at"],
            values["created_at"],
            values["payment_id"],
            values["amount"],
        ),
    )
    return result.changes == 1


@dataclass(frozen=True, slots=True)
class Unprinted:
    payment_id: str
    session_id: str


async def unprinted_paid(db: Database, failed_before: str, limit: int) -> list[Unprinted]:
    """Completed payments of sessions whose prints all failed before `failed_before`, and
    that have no automatic refund yet: the guarantee's candidates (re-checked on insert)."""
    rows = await db.fetch_all(
        "SELECT DISTINCT p.id AS payment_id, p.session_id FROM photos f "
        "JOIN payments p ON p.session_id = f.session_id AND p.status = 'completed' "
        "WHERE f.print_status = 'failed' AND f.session_id IS NOT NULL "
        "AND f.updated_at <= ? "
        "AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id "
        "AND r.source = 'automatic') "
        "AND NOT EXISTS (SELECT 1 FROM photos o WHERE o.session_id = p.session_id "
        "AND (o.print_status != 'failed' OR o.updated_at > ?)) "
        f"AND {REMAINING} > 0 ORDER BY p.id LIMIT ?",
        (failed_before, failed_before, limit),
    )
    return [Unprinted(str(r["payment_id"]), str(r["session_id"])) for r in rows]


async def insert_automatic(
    db: Database, values: dict[str, Any], payment_id: str, failed_before: str
) -> bool:
    """The guarantee's refund of everything still refundable, in ONE conditional INSERT:
    only while the payment is completed, its session has prints, every one of them is
    `failed` and none changed since `failed_before` (a reprint puts one back to `pending`),
    and something is left to refund. The partial unique index `refunds_automatic` makes a
    second insert for the same payment a no-op, however many jobs or workers race."""
    result = await db.execute(
        f"INSERT INTO refunds ({_INSERTED}) "
        f"SELECT ?, p.id, p.customer_id, {REMAINING}, ?, ?, 'automatic', 'pending', ?, "
        "NULL, NULL, ?, ? FROM payments p WHERE p.id = ? AND p.status = 'completed' "
        "AND p.session_id IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM photos f WHERE f.session_id = p.session_id) "
        "AND NOT EXISTS (SELECT 1 FROM photos f WHERE f.session_id = p.session_id "
        "AND (f.print_status != 'failed' OR f.updated_at IS NULL OR f.updated_at > ?)) "
        f"AND {REMAINING} > 0 ON CONFLICT DO NOTHING",
        (
            values["id"],
            values["reason"],
            values["note"],
            values["claimed_at"],
            values["created_at"],
            values["created_at"],
            payment_id,
            failed_before,
        ),
    )
    return result.changes == 1


async def get(db: Database, refund_id: str) -> Row | None:
    return await db.fetch_one(f"SELECT {COLUMNS} FROM refunds WHERE id = ?", (refund_id,))


async def by_key(db: Database, payment_id: str, key: str) -> Row | None:
    return await db.fetch_one(
        f"SELECT {COLUMNS} FROM refunds WHERE payment_id = ? AND idempotency_key = ?",
        (payment_id, key),
    )


async def of_payment(db: Database, payment_id: str) -> list[Row]:
    return await db.fetch_all(
        f"SELECT {COLUMNS} FROM refunds WHERE payment_id = ? ORDER BY created_at, id",
        (payment_id,),
    )


async def of_payments(db: Database, payment_ids: Sequence[str]) -> list[Row]:
    """The refunds of several payments at once (a console page's rows), oldest first."""
    if not payment_ids:
        return []
    marks = ", ".join("?" for _ in payment_ids)
    return await db.fetch_all(
        f"SELECT {COLUMNS} FROM refunds WHERE payment_id IN ({marks}) ORDER BY created_at, id",
        tuple(payment_ids),
    )


async def take_over(db: Database, refund_id: str, stale_before: str, now: str) -> bool:
    """Lease an unsent refund to the caller asking now (a retry, or the refund job): only
    one released or held since before `stale_before` (its request died). ONE conditional
    UPDATE, so of several retries exactly one sends it (as `take_over_key` for payments)."""
    result = await db.execute(
        "UPDATE refunds SET claimed_at = ?, updated_at = ? WHERE id = ? AND status = 'pending' "
        "AND xendit_refund_id IS NULL AND (claimed_at IS NULL OR claimed_at <= ?)",
        (now, now, refund_id, stale_before),
    )
    return result.changes == 1


async def release(db: Database, refund_id: str, now: str) -> None:
    """Xendit's answer never came: a retry may resend at once (same Idempotency-key)."""
    await db.execute(
        "UPDATE refunds SET claimed_at = NULL, updated_at = ? "
        "WHERE id = ? AND xendit_refund_id IS NULL AND status = 'pending'",
        (now, refund_id),
    )


async def unsent(db: Database, stale_before: str, limit: int) -> list[Row]:
    """Pending refunds never sent to Xendit whose request released them or died."""
    return await db.fetch_all(
        f"SELECT {COLUMNS} FROM refunds WHERE status = 'pending' AND xendit_refund_id IS NULL "
        "AND (claimed_at IS NULL OR claimed_at <= ?) ORDER BY created_at, id LIMIT ?",
        (stale_before, limit),
    )


async def finish(
    db: Database,
    refund_id: str,
    *,
    xendit_refund_id: str | None,
    status: str,
    failure_code: str | None,
    now: str,
    response: tuple[int, str] | None,
) -> Row | None:
    """Record Xendit's answer (and the response a key's replay returns) in one statement.
    The status moves only out of `pending`: a callback that landed first keeps its word."""
    status_code, body = response if response is not None else (None, None)
    result = await db.execute(
        "UPDATE refunds SET xendit_refund_id = COALESCE(xendit_refund_id, ?), "
        "failure_code = CASE WHEN status = 'pending' THEN ? ELSE failure_code END, "
        "status = CASE WHEN status = 'pending' THEN ? ELSE status END, "
        "response_status = COALESCE(?, response_status), "
        "response_body = COALESCE(?, response_body), claimed_at = NULL, updated_at = ? "
        f"WHERE id = ? RETURNING {COLUMNS}",
        (xendit_refund_id, failure_code, status, status_code, body, now, refund_id),
    )
    return result.first()


@dataclass(frozen=True, slots=True)
class RefundEvent:
    """One refund callback: Xendit's refund id, our refund id (reference_id) and status."""

    xendit_refund_id: str
    refund_id: str | None
    status: str  # SUCCEEDED or FAILED
    amount: int | None
    failure_code: str | None
    payload: str

    @property
    def key(self) -> str:
        return f"refund:{self.xendit_refund_id}:{self.status}"


@dataclass(frozen=True, slots=True)
class AppliedRefund:
    duplicate: bool
    transitioned: bool
    refund: Row | None


async def apply_event(db: Database, event: RefundEvent, now: str) -> AppliedRefund:
    """Record the callback under its unique key (table `xendit_events`, like payment
    callbacks) and apply it in the same batch, at most once: `pending` -> `succeeded` or
    `failed`, only for the refund it names with the amount we asked for."""
    target = "(id = ? OR xendit_refund_id = ?)"
    gate = "EXISTS (SELECT 1 FROM xendit_events WHERE event_key = ? AND processed_at IS NULL)"
    new_status = {"SUCCEEDED": "succeeded", "FAILED": "failed"}.get(event.status)
    updates: list[Statement] = []
    if new_status is not None:
        updates.append(
            Statement(
                "UPDATE refunds SET status = ?, xendit_refund_id = COALESCE(xendit_refund_id, ?), "
                "failure_code = ?, updated_at = ? "
                f"WHERE {target} AND status = 'pending' AND amount = ? "
                "AND (xendit_refund_id IS NULL OR xendit_refund_id = ?) "
                f"AND {gate}",
                (
                    new_status,
                    event.xendit_refund_id,
                    event.failure_code,
                    now,
                    event.refund_id,
                    event.xendit_refund_id,
                    -1 if event.amount is None else event.amount,  # NULL would match nothing
                    event.xendit_refund_id,
                    event.key,
                ),
            )
        )
    results: list[Result] = await db.batch(
        [
            Statement(
                "INSERT INTO xendit_events (id, event_key, invoice_id, external_id, status, "
                "amount, source, payload) VALUES (?, ?, ?, ?, ?, ?, 'webhook', ?) "
                "ON CONFLICT (event_key) DO NOTHING",
                (
                    new_id("xev"),
                    event.key,
                    event.xendit_refund_id,
                    event.refund_id,
                    f"REFUND_{event.status}",
                    event.amount,
                    event.payload,
                ),
            ),
            *updates,
            Statement(
                "UPDATE xendit_events SET processed_at = ? "
                "WHERE event_key = ? AND processed_at IS NULL",
                (now, event.key),
            ),
            Statement(
                f"SELECT {COLUMNS} FROM refunds WHERE {target} ORDER BY created_at LIMIT 1",
                (event.refund_id, event.xendit_refund_id),
            ),
        ]
    )
    return AppliedRefund(
        duplicate=results[0].changes == 0,
        transitioned=bool(updates) and results[1].changes == 1,
        refund=results[-1].first(),
    )


async def succeeded_rows(db: Database, where: list[str], params: list[Any]) -> list[Row]:
    """Succeeded refunds per UTC day they were made, for the daily summary."""
    conditions = " AND ".join([*where, "status = 'succeeded'"])
    return await db.fetch_all(
        "SELECT date(created_at) AS day, COUNT(*) AS count, COALESCE(SUM(amount), 0) AS total "
        f"FROM refunds WHERE {conditions} GROUP BY day ORDER BY day",
        params,
    )
