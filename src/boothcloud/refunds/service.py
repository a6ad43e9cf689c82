"""Refund rules: who may refund what, idempotent creation, sending to Xendit, resuming.

Creation is two steps around the network call, as for payments: the refund is stored
`pending` (its amount then counts against the payment at once, so concurrent refunds
cannot over-refund: `repository.insert`) before Xendit is asked, and Xendit's answer after.
Our refund id is Xendit's `reference_id` and `Idempotency-key`, so sending a refund twice
(a retry after a timeout, a resumed request) makes one Xendit refund, never two. A refund
whose answer never came is released and resent by a retry with the same Idempotency-Key or
by the refund job (`resume_unsent`); a Xendit refusal (4xx) fails it and frees its amount.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson

from boothcloud.auth import Caller
from boothcloud.db.base import Database, Row
from boothcloud.errors import BadGateway, Conflict, invalid
from boothcloud.ids import digest, new_id
from boothcloud.payments import repository as payments
from boothcloud.payments.schemas import Payment
from boothcloud.payments.service import KEY_PATTERN, Answer, in_flight_seconds, not_configured
from boothcloud.payments.xendit import XenditClient, XenditError, XenditRefund
from boothcloud.refunds import repository
from boothcloud.refunds.schemas import Refund, RefundCreate, RefundList
from boothcloud.settings import Settings
from boothcloud.timeutil import now_db, to_db, utcnow

log = logging.getLogger("boothcloud.refunds")

STATUSES = {"PENDING": "pending", "SUCCEEDED": "succeeded", "FAILED": "failed"}


def to_model(row: Row) -> Refund:
    return Refund.model_validate(row)


async def _payment(db: Database, caller: Caller, payment_id: str) -> Row:
    return caller.owned(await payments.get(db, payment_id), "payment", payment_id)


async def list_for_payment(db: Database, caller: Caller, payment_id: str) -> RefundList:
    await _payment(db, caller, payment_id)
    return RefundList(items=[to_model(r) for r in await repository.of_payment(db, payment_id)])


async def of_payments(db: Database, listed: Sequence[Payment]) -> dict[str, list[Refund]]:
    """Each listed payment's refunds. `listed` was read through the caller's scope (the
    payments list), so no second check is needed here."""
    found: dict[str, list[Refund]] = {p.id: [] for p in listed}
    for row in await repository.of_payments(db, list(found)):
        found[str(row["payment_id"])].append(to_model(row))
    return found


def refundable(payment: Payment) -> int:
    """What is left to refund of a listed payment, for showing a refund button: the
    `repository.REMAINING` rule read from the payment's own `refunded_amount` (the insert
    re-checks it in SQL, so a stale page can never over-refund)."""
    if payment.status != "completed":
        return 0
    paid = payment.paid_amount if payment.paid_amount is not None else payment.amount
    return max(paid - payment.refunded_amount, 0)


def request_hash_of(body: RefundCreate) -> str:
    canonical = body.model_dump(mode="json")
    return digest(canonical)


def _not_refundable(payment: Row) -> Conflict:
    return Conflict(
        f"payment {payment['id']} is {payment['status']}: only a completed payment is refunded",
        code="PAYMENT_NOT_REFUNDABLE",
    )


def _too_much(rest: int) -> Exception:
    if rest <= 0:
        return Conflict("this payment is already refunded in full", code="FULLY_REFUNDED")
    return invalid("amount", f"at most {rest} rupiah of this payment remain refundable")


async def create(
    db: Database,
    settings: Settings,
    client: XenditClient | None,
    payment_id: str,
    body: RefundCreate,
    key: str | None,
    caller: Caller,
) -> Answer:
    """The operator's refund of a completed payment (full when `amount` is omitted)."""
    if client is None:
        raise not_configured()
    if key is not None and not KEY_PATTERN.match(key):
        raise invalid("Idempotency-Key", "1-255 printable ASCII characters")
    payment = await _payment(db, caller, payment_id)
    request_hash = request_hash_of(body)
    if key is not None and (found := await repository.by_key(db, payment_id, key)) is not None:
        return await _replay(db, settings, client, found, request_hash)
    if payment["status"] != "completed":
        raise _not_refundable(payment)
    rest = await repository.remaining(db, payment_id)
    amount = body.amount if body.amount is not None else rest
    if amount <= 0 or amount > rest:
        raise _too_much(rest)
    now = now_db()
    row: dict[str, Any] = {
        "id": new_id("rfd"),
        "payment_id": payment_id,
        "amount": amount,
        "reason": body.reason,
        "note": body.note,
        "claimed_at": now,
        "idempotency_key": key,
        "request_hash": request_hash if key is not None else None,
        "created_at": now,
    }
    if not await repository.insert(db, row):
        if key is not None and (found := await repository.by_key(db, payment_id, key)):
            return await _replay(db, settings, client, found, request_hash)  # a racing twin
        raise _too_much(await repository.remaining(db, payment_id))  # a racing refund won
    stored = await repository.get(db, row["id"])
    assert stored is not None
    return await send(db, client, stored)


async def _replay(
    db: Database, settings: Settings, client: XenditClient, found: Row, request_hash: str
) -> Answer:
    if found["request_hash"] != request_hash:
        raise Conflict(
            "Idempotency-Key was already used with a different request body",
            code="IDEMPOTENCY_KEY_REUSED",
        )
    if found["response_status"] is not None:
        status = int(found["response_status"])
        media = "application/json" if status < 400 else "application/problem+json"
        return Answer(status, str(found["response_body"]), media, str(found["payment_id"]), True)
    if found["xendit_refund_id"] is None:  # never sent, or its answer never came: resume
        stale = to_db(utcnow() - timedelta(seconds=in_flight_seconds(settings)))
        if await repository.take_over(db, str(found["id"]), stale, now_db()):
            answer = await send(db, client, found)
            return Answer(answer.status, answer.body, answer.media_type, answer.payment_id, True)
    raise Conflict(
        "a request with this Idempotency-Key is still in progress; retry shortly",
        code="IDEMPOTENCY_KEY_IN_USE",
        headers={"Retry-After": "1"},
    )


async def send(db: Database, client: XenditClient, refund: Row) -> Answer:
    """Ask Xendit for the refund (the caller holds its lease) and record the answer."""
    refund_id = str(refund["id"])
    try:
        made = await _ask_xendit(db, client, refund)
    except XenditError as error:
        now = now_db()
        if error.cause != "http_4xx":  # no answer: Xendit may have it; resend, never guess
            await repository.release(db, refund_id, now)
            log.warning("refund %s: Xendit did not answer (%s); resent later", refund_id, error)
            raise BadGateway(
                f"Xendit did not answer ({error.cause}); refund {refund_id} stays pending and "
                "is resent with the same Idempotency-key (retry, or the refund job does)",
                code="XENDIT_UNAVAILABLE",
            ) from error
        problem = BadGateway(
            f"Xendit refused the refund: {error.detail}; refund {refund_id} is failed",
            code="XENDIT_REFUND_REFUSED",
        )
        await repository.finish(
            db,
            refund_id,
            xendit_refund_id=None,
            status="failed",
            failure_code=error.detail[:200],
            now=now,
            response=(502, orjson.dumps(problem.body()).decode()),
        )
        log.warning("refund %s refused by Xendit: %s", refund_id, error.detail)
        raise problem from error
    status = STATUSES.get(made.status.upper(), "pending")
    now = now_db()
    answered = {**refund, "xendit_refund_id": made.id, "status": status, "updated_at": now}
    answered["failure_code"] = made.failure_code
    body = to_model(answered).model_dump_json()
    row = await repository.finish(
        db,
        refund_id,
        xendit_refund_id=made.id,
        status=status,
        failure_code=made.failure_code,
        now=now,
        response=(201, body) if refund["idempotency_key"] is not None else None,
    )
    assert row is not None
    log.info("refund %s of payment %s: %s at Xendit", refund_id, refund["payment_id"], status)
    return Answer(201, body, "application/json", str(refund["payment_id"]))


async def _ask_xendit(db: Database, client: XenditClient, refund: Row) -> XenditRefund:
    """`POST /refunds` for an invoice; for QRIS, the QR payment's refund endpoint (its
    `qrpy_` id asked from `GET /qr_codes/{id}/payments`: the payment row stores the QR code)."""
    payment = await payments.get(db, str(refund["payment_id"]))
    customer = await payments.get_customer(db, str(refund["customer_id"]))
    assert payment is not None
    assert customer is not None
    sub_account = customer["xendit_sub_account_id"]
    refund_id = str(refund["id"])
    if payment["method"] == "qris":
        qr_payment = await _qr_payment_id(client, str(payment["xendit_payment_id"]), sub_account)
        payload = {"amount": refund["amount"], "reason": refund["reason"]}
        return await client.create_qr_refund(qr_payment, payload, refund_id, sub_account)
    payload = {
        "invoice_id": payment["xendit_payment_id"],
        "reference_id": refund_id,
        "amount": refund["amount"],
        "currency": "IDR",
        "reason": refund["reason"],
        "metadata": {"payment_id": payment["id"], "source": refund["source"]},
    }
    return await client.create_refund(payload, refund_id, sub_account)


async def _qr_payment_id(client: XenditClient, qr_id: str, sub_account: str | None) -> str:
    for item in await client.qr_payments(qr_id, sub_account):
        if str(item.get("status", "")).upper() == "SUCCEEDED" and item.get("id"):
            return str(item["id"])
    raise XenditError("bad_response", f"QR code {qr_id} has no succeeded payment to refund")


async def resume_unsent(
    db: Database, settings: Settings, client: XenditClient, *, limit: int = 100
) -> int:
    """Send every pending refund whose request released it or died (and the guarantee's
    own): each taken over first, so two jobs or a racing retry never both send one."""
    stale = to_db(utcnow() - timedelta(seconds=in_flight_seconds(settings)))
    sent = 0
    for row in await repository.unsent(db, stale, limit):
        if not await repository.take_over(db, str(row["id"]), stale, now_db()):
            continue
        try:
            await send(db, client, row)
        except (BadGateway, XenditError) as error:
            log.warning("refund %s not sent: %s", row["id"], error)
            continue
        sent += 1
    return sent
