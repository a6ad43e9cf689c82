"""All SQL about payments, Xendit events and idempotency keys.

Every state change is one conditional statement or one atomic batch (D1 has no
interactive transactions): a transition names the states it may leave in its WHERE
clause, so two racing writers can never both apply one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boothcloud.db.base import Database, Result, Row, Statement
from boothcloud.errors import Conflict, register_constraint
from boothcloud.ids import new_id
from boothcloud.pagination import keyset
from boothcloud.refunds.repository import REFUNDED_OF_PAYMENTS
from boothcloud.sessions import repository as sessions

register_constraint(
    "payments_xendit_id", Conflict, "xendit_payment_id", "invoice belongs to another payment"
)

COLUMNS = (
    "id, customer_id, xendit_payment_id, amount, platform_fee, status, paid_at, created_at, "
    "currency, description, payer_email, invoice_url, expires_at, failure_reason, paid_amount, "
    "payment_method, payment_channel, flagged, review_reason, updated_at, session_id, method, "
    "qr_string, venue_id, venue_amount, split_rule_id, "
    "(SELECT r.xendit_split_rule_id FROM xendit_split_rules r "
    "WHERE r.id = payments.split_rule_id) AS xendit_split_rule_id, "
    f"{REFUNDED_OF_PAYMENTS}"
)
OPEN = "('pending', 'processing')"  # states an invoice can still leave


CUSTOMER_COLUMNS = "id, license_type, xendit_sub_account_id"  # what a payment needs


async def get_customer(db: Database, customer_id: str) -> Row | None:
    return await db.fetch_one(
        f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?", (customer_id,)
    )


async def venue_of_session(db: Database, session_id: str, customer_id: str) -> Row | None:
    """The venue the session's device is placed at (the customer's own session only)."""
    return await db.fetch_one(
        "SELECT v.id, v.xendit_sub_account_id, v.share_basis_points, v.share_amount "
        "FROM sessions s JOIN license_activations a ON a.id = s.activation_id "
        "JOIN venues v ON v.id = a.venue_id WHERE s.id = ? AND s.customer_id = ?",
        (session_id, customer_id),
    )


async def set_sub_account(db: Database, customer_id: str, user_id: str | None) -> bool:
    result = await db.execute(
        "UPDATE customers SET xendit_sub_account_id = ?, updated_at = datetime('now') WHERE id = ?",
        (user_id, customer_id),
    )
    return result.changes == 1


@dataclass(frozen=True, slots=True)
class ByTier:
    """A column's value that depends on the customer's tier, picked inside the INSERT from
    the customer row `c` it reads (`customers.repository.tier_case`), so the payment needs
    no read of the customer before it."""

    sql: str
    params: list[Any]


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """The Idempotency-Key a payment claims as it is inserted."""

    key: str
    request_hash: str
    now: str
    expires_at: str


def _insert_payment(
    values: dict[str, Any], claim: KeyClaim | None, without_sub_account: bool
) -> list[Statement]:
    """The INSERT (values may be `ByTier`), then the session taking the payment as its own
    when it has none yet. The INSERT applies only when its conditions hold, all in the
    statement itself (D1 has no interactive transaction to check them in first): the
    customer exists, the session (if any) is the customer's, no live row holds the key,
    and, with `without_sub_account`, the customer has no Xendit sub-account (the caller
    then knows no split rule applies)."""
    exprs = ", ".join(v.sql if isinstance(v, ByTier) else "?" for v in values.values())
    params: list[Any] = []
    for value in values.values():
        params += value.params if isinstance(value, ByTier) else [value]
    customer_id = values["customer_id"]
    conditions = ["c.id = ?"]
    params.append(customer_id)
    if without_sub_account:
        conditions.append("(c.xendit_sub_account_id IS NULL OR c.xendit_sub_account_id = '')")
    if claim is not None:
        conditions.append(
            "NOT EXISTS (SELECT 1 FROM idempotency_keys "
            "WHERE customer_id = ? AND idempotency_key = ?)"
        )
        params += [customer_id, claim.key]
    session_id = values.get("session_id")
    session_ok, session_params = sessions.belongs_clause(session_id, customer_id)
    conditions.append(session_ok)
    params += session_params
    statements = [
        Statement(
            f"INSERT INTO payments ({', '.join(values)}) SELECT {exprs} FROM customers c "
            f"WHERE {' AND '.join(conditions)}",
            params,
        )
    ]
    if session_id is not None:
        statements.append(
            Statement(
                "UPDATE sessions SET payment_id = ?, updated_at = datetime('now') "
                "WHERE id = ? AND payment_id IS NULL "
                "AND EXISTS (SELECT 1 FROM payments WHERE id = ? AND session_id = ?)",
                (values["id"], session_id, values["id"], session_id),
            )
        )
    return statements


async def insert(
    db: Database, values: dict[str, Any], claim: KeyClaim | None, *, without_sub_account: bool
) -> tuple[Row | None, bool]:
    """Read the customer, insert the payment and claim its key, in one atomic batch (one
    round trip on D1, authentication included: `auth.require_caller_pipelined`).

    Answers the customer row (None: no such customer, nothing inserted) and whether the
    payment was inserted; when it was not, the customer row tells a caller whether
    `without_sub_account` refused it, else the session or the key did. An expired key is
    released first; the payment is inserted only while no live row holds the key, and the
    key row only when that payment exists, so a racing retry with the same key finds the
    first one's row and never inserts a second payment.
    """
    customer_id = values["customer_id"]
    statements = [
        Statement(f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?", (customer_id,))
    ]
    if claim is not None:
        statements.append(
            Statement(
                "DELETE FROM idempotency_keys "
                "WHERE customer_id = ? AND idempotency_key = ? AND expires_at <= ?",
                (customer_id, claim.key, claim.now),
            )
        )
    inserted_at = len(statements)
    statements += _insert_payment(values, claim, without_sub_account)
    if claim is not None:
        statements.append(
            Statement(
                "INSERT INTO idempotency_keys "
                "(customer_id, idempotency_key, request_hash, payment_id, created_at, expires_at) "
                "SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM payments WHERE id = ?)",
                (
                    customer_id,
                    claim.key,
                    claim.request_hash,
                    values["id"],
                    claim.now,
                    claim.expires_at,
                    values["id"],
                ),
            )
        )
    results = await db.batch(statements)
    return results[0].first(), results[inserted_at].changes == 1


async def get_key(db: Database, customer_id: str, key: str, now: str) -> Row | None:
    return await db.fetch_one(
        "SELECT request_hash, payment_id, response_status, response_body, created_at "
        "FROM idempotency_keys "
        "WHERE customer_id = ? AND idempotency_key = ? AND expires_at > ?",
        (customer_id, key, now),
    )


async def take_over_key(
    db: Database, customer_id: str, key: str, stale_before: str, now: str
) -> bool:
    """Lease a key whose request died before answering (no response, held since before
    `stale_before`) to the retry asking now. ONE conditional UPDATE (D1 has no interactive
    transaction to hold a read), so of several retries exactly one resumes the request."""
    result = await db.execute(
        "UPDATE idempotency_keys SET created_at = ? WHERE customer_id = ? "
        "AND idempotency_key = ? AND response_status IS NULL AND created_at <= ?",
        (now, customer_id, key, stale_before),
    )
    return result.changes == 1


async def save_response(db: Database, key: str, row: Row, status: int, body: str) -> None:
    await db.batch(_save_response(key, row, status, body))


def _save_response(key: str | None, row: Row, status: int, body: str) -> list[Statement]:
    if key is None:
        return []
    return [
        Statement(
            "UPDATE idempotency_keys SET response_status = ?, response_body = ? "
            "WHERE customer_id = ? AND idempotency_key = ? AND payment_id = ?",
            (status, body, row["customer_id"], key, row["id"]),
        )
    ]


async def store_invoice(db: Database, row: Row, key: str | None, response_body: str) -> None:
    """Record the created invoice (or QR code) and, atomically, the response a replay
    will return."""
    await db.batch(
        [
            Statement(
                "UPDATE payments SET xendit_payment_id = ?, invoice_url = ?, qr_string = ?, "
                "expires_at = ?, updated_at = ? WHERE id = ? AND xendit_payment_id IS NULL",
                (
                    row["xendit_payment_id"],
                    row["invoice_url"],
                    row["qr_string"],
                    row["expires_at"],
                    row["updated_at"],
                    row["id"],
                ),
            ),
            *_save_response(key, row, 201, response_body),
        ]
    )


async def fail_creation(
    db: Database, row: Row, reason: str, now: str, key: str | None, response_body: str
) -> None:
    await db.batch(
        [
            Statement(
                "UPDATE payments SET status = 'failed', failure_reason = ?, updated_at = ? "
                "WHERE id = ? AND status = 'pending'",
                (reason, now, row["id"]),
            ),
            *_save_response(key, row, 502, response_body),
        ]
    )


async def get(db: Database, payment_id: str) -> Row | None:
    return await db.fetch_one(f"SELECT {COLUMNS} FROM payments WHERE id = ?", (payment_id,))


async def status_of(db: Database, payment_id: str) -> str | None:
    """Only the status: what a long-poll reads a few times a second."""
    row = await db.fetch_one("SELECT status FROM payments WHERE id = ?", (payment_id,))
    return None if row is None else str(row["status"])


@dataclass(frozen=True, slots=True)
class Filters:
    customer_id: str | None = None
    status: str | None = None
    created_from: str | None = None  # inclusive, DB format
    created_to: str | None = None  # exclusive, DB format
    flagged: bool | None = None
    method: str | None = None

    def where(self) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("customer_id = ?", self.customer_id),
            ("status = ?", self.status),
            ("created_at >= ?", self.created_from),
            ("created_at < ?", self.created_to),
            ("method = ?", self.method),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        if self.flagged is not None:
            where.append("flagged = ?")
            params.append(int(self.flagged))
        return where, params


async def page(db: Database, filters: Filters, cursor: str | None, limit: int) -> list[Row]:
    where, params = filters.where()
    tail, args = keyset(where, params, cursor, limit)
    return await db.fetch_all(f"SELECT {COLUMNS} FROM payments{tail}", args)


def summary_query(filters: Filters) -> tuple[str, list[Any]]:
    """Per UTC day, status and method: count, amounts and the split parts.

    Every column it reads is in the `payments_summary` index (migration 0013), whose first
    column is the day itself: the range is read from the index alone, in day, status and
    method order, so the groups are summed as they stream by. The day bounds restate the
    `created_at` range in the index's own terms (SQLite matches an index on an expression
    only where the query writes that expression); the `created_at` terms still decide.
    tests/payments/test_summary_plan.py checks the plan.
    """
    where, params = filters.where()
    for clause, value in (
        ("date(created_at) >= date(?)", filters.created_from),
        ("date(created_at) <= date(?)", filters.created_to),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    sql = " WHERE " + " AND ".join(where) if where else ""
    return (
        "SELECT date(created_at) AS day, status, method, COUNT(*) AS count, "
        "COALESCE(SUM(amount), 0) AS gross, COALESCE(SUM(platform_fee), 0) AS fees, "
        "COALESCE(SUM(venue_amount), 0) AS venue "
        f"FROM payments{sql} GROUP BY day, status, method ORDER BY day",
        params,
    )


async def summary_rows(db: Database, filters: Filters) -> list[Row]:
    sql, params = summary_query(filters)
    return await db.fetch_all(sql, params)


# -- split rules ---------------------------------------------------------------------------


async def record_split_rule(
    db: Database, rule_id: str, rule_hash: str, scope: str, routes: str
) -> Row:
    """The stored rule for these routes: inserted when new (numbered after the scope's
    last one, in the same statement), the existing row when another request was first.
    The UNIQUE rule_hash makes concurrent recorders agree on one row."""
    results = await db.batch(
        [
            Statement(
                "INSERT INTO xendit_split_rules (id, rule_hash, scope, version, routes) "
                "SELECT ?, ?, ?, COALESCE(MAX(version), 0) + 1, ? FROM xendit_split_rules "
                "WHERE scope = ? ON CONFLICT (rule_hash) DO NOTHING",
                (rule_id, rule_hash, scope, routes, scope),
            ),
            Statement(
                "SELECT id, rule_hash, scope, version, routes, xendit_split_rule_id "
                "FROM xendit_split_rules WHERE rule_hash = ?",
                (rule_hash,),
            ),
        ]
    )
    row = results[1].first()
    assert row is not None  # inserted, or there already
    return row


async def get_split_rule(db: Database, rule_id: str) -> Row | None:
    return await db.fetch_one(
        "SELECT id, rule_hash, scope, version, routes, xendit_split_rule_id "
        "FROM xendit_split_rules WHERE id = ?",
        (rule_id,),
    )


async def claim_split_rule(db: Database, rule_id: str, now: str, stale_before: str) -> bool:
    """Lease the creation of a rule at Xendit to one request: ONE conditional UPDATE (D1
    has no transaction to hold), so of concurrent creators exactly one wins; a lease older
    than `stale_before` belongs to a request that died and may be taken over."""
    result = await db.execute(
        "UPDATE xendit_split_rules SET claimed_at = ? WHERE id = ? "
        "AND xendit_split_rule_id IS NULL AND (claimed_at IS NULL OR claimed_at <= ?)",
        (now, rule_id, stale_before),
    )
    return result.changes == 1


async def release_split_rule(db: Database, rule_id: str, claimed_at: str) -> None:
    """Give up a lease whose Xendit call failed, so the next payment retries at once."""
    await db.execute(
        "UPDATE xendit_split_rules SET claimed_at = NULL "
        "WHERE id = ? AND claimed_at = ? AND xendit_split_rule_id IS NULL",
        (rule_id, claimed_at),
    )


async def store_split_rule_id(db: Database, rule_id: str, xendit_id: str) -> None:
    await db.execute(
        "UPDATE xendit_split_rules SET xendit_split_rule_id = ? "
        "WHERE id = ? AND xendit_split_rule_id IS NULL",
        (xendit_id, rule_id),
    )


@dataclass(frozen=True, slots=True)
class Event:
    """One observation of a Xendit invoice (a callback, or a reconciliation fetch)."""

    invoice_id: str
    external_id: str
    status: str  # Xendit's: PENDING, PAID, SETTLED, EXPIRED
    amount: int | None  # None: not a whole rupiah amount, never matches ours
    paid_amount: int | None
    paid_at: str | None  # DB format
    payment_method: str | None
    payment_channel: str | None
    source: str  # webhook | reconcile
    payload: str

    @property
    def key(self) -> str:
        return f"{self.invoice_id}:{self.status}"


@dataclass(frozen=True, slots=True)
class Applied:
    duplicate: bool
    transitioned: bool
    flagged: bool
    payment: Row | None  # the payment after the batch; None when unknown


def _transition(event: Event, now: str, review: str) -> list[Statement]:
    """The conditional UPDATEs for one event, gated on the event being new in this batch."""
    gate = "EXISTS (SELECT 1 FROM xendit_events WHERE event_key = ? AND processed_at IS NULL)"
    invoice_matches = "(xendit_payment_id IS NULL OR xendit_payment_id = ?)"
    if event.status in ("PAID", "SETTLED"):
        matches = f"amount = ? AND amount = COALESCE(?, amount) AND {invoice_matches}"
        amount = -1 if event.amount is None else event.amount  # NULL would match nothing
        match_args = (amount, event.paid_amount, event.invoice_id)
        return [
            Statement(
                "UPDATE payments SET status = 'completed', paid_at = ?, paid_amount = ?, "
                "payment_method = ?, payment_channel = ?, "
                "xendit_payment_id = COALESCE(xendit_payment_id, ?), "
                "flagged = CASE WHEN status = 'failed' THEN 1 ELSE flagged END, "
                "review_reason = CASE WHEN status = 'failed' THEN 'paid after the payment failed ("
                "' || COALESCE(failure_reason, 'unknown') || ')' ELSE review_reason END, "
                "updated_at = ? "
                f"WHERE id = ? AND status IN ('pending', 'processing', 'failed') AND {matches} "
                f"AND {gate}",
                (
                    event.paid_at or now,
                    event.paid_amount if event.paid_amount is not None else event.amount,
                    event.payment_method,
                    event.payment_channel,
                    event.invoice_id,
                    now,
                    event.external_id,
                    *match_args,
                    event.key,
                ),
            ),
            Statement(
                "UPDATE payments SET flagged = 1, review_reason = ?, updated_at = ? "
                f"WHERE id = ? AND NOT ({matches}) AND {gate}",
                (review, now, event.external_id, *match_args, event.key),
            ),
        ]
    if event.status == "EXPIRED":
        return [
            Statement(
                "UPDATE payments SET status = 'failed', failure_reason = 'expired', "
                "xendit_payment_id = COALESCE(xendit_payment_id, ?), updated_at = ? "
                f"WHERE id = ? AND status IN {OPEN} AND {invoice_matches} AND {gate}",
                (event.invoice_id, now, event.external_id, event.invoice_id, event.key),
            )
        ]
    return []


async def apply_event(db: Database, event: Event, now: str, review: str) -> Applied:
    """Record the event and apply its transition in one batch, at most once per key."""
    updates = _transition(event, now, review)
    results: list[Result] = await db.batch(
        [
            Statement(
                "INSERT INTO xendit_events (id, event_key, invoice_id, external_id, status, "
                "amount, paid_amount, source, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (event_key) DO NOTHING",
                (
                    new_id("xev"),
                    event.key,
                    event.invoice_id,
                    event.external_id,
                    event.status,
                    event.amount,
                    event.paid_amount,
                    event.source,
                    event.payload,
                ),
            ),
            *updates,
            Statement(
                "UPDATE xendit_events SET processed_at = ? "
                "WHERE event_key = ? AND processed_at IS NULL",
                (now, event.key),
            ),
            Statement(f"SELECT {COLUMNS} FROM payments WHERE id = ?", (event.external_id,)),
        ]
    )
    changes = [r.changes for r in results[1 : 1 + len(updates)]]
    is_paid = event.status in ("PAID", "SETTLED")
    return Applied(
        duplicate=results[0].changes == 0,
        transitioned=bool(changes) and changes[0] == 1,
        flagged=is_paid and len(changes) > 1 and changes[1] == 1,
        payment=results[-1].first(),
    )


async def set_event_outcome(db: Database, event_key: str, outcome: str) -> None:
    """Informational: what processing the event did, for the operator's audit trail."""
    await db.execute(
        "UPDATE xendit_events SET outcome = ? WHERE event_key = ? AND outcome IS NULL",
        (outcome, event_key),
    )


async def stale_pending(db: Database, created_before: str, now: str, limit: int) -> list[Row]:
    """Pending payments old enough to reconcile, or already past their expiry."""
    return await db.fetch_all(
        "SELECT p.id, p.customer_id, p.xendit_payment_id, p.expires_at, p.created_at, p.method, "
        "c.xendit_sub_account_id FROM payments p JOIN customers c ON c.id = p.customer_id "
        f"WHERE p.status IN {OPEN} AND (p.created_at <= ? OR p.expires_at <= ?) "
        "ORDER BY p.created_at, p.id LIMIT ?",
        (created_before, now, limit),
    )


async def adopt_invoice(
    db: Database,
    payment_id: str,
    invoice_id: str,
    url: str | None,
    expires_at: str | None,
    now: str,
) -> bool:
    """Attach an invoice found by external_id to a payment that never stored one."""
    result = await db.execute(
        "UPDATE payments SET xendit_payment_id = ?, invoice_url = ?, expires_at = ?, "
        "updated_at = ? WHERE id = ? AND xendit_payment_id IS NULL",
        (invoice_id, url, expires_at, now, payment_id),
    )
    return result.changes == 1


async def fail_open(db: Database, payment_id: str, reason: str, now: str) -> bool:
    result = await db.execute(
        "UPDATE payments SET status = 'failed', failure_reason = ?, updated_at = ? "
        f"WHERE id = ? AND status IN {OPEN}",
        (reason, now, payment_id),
    )
    return result.changes == 1


async def insert_rejected_callback(db: Database, reason: str, payload: str) -> None:
    """A token-authenticated callback the service refused, for the operator to inspect."""
    await db.execute(
        "INSERT INTO xendit_rejected_callbacks (id, reason, payload) VALUES (?, ?, ?)",
        (new_id("xrj"), reason, payload),
    )
