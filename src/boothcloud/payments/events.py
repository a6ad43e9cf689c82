"""Xendit invoice events: the one transition code the webhook and reconciliation share.

An event is an observation of an invoice's status (a callback, or `GET /v2/invoices/{id}`).
`apply` records it under the key (invoice id, status) and applies its transition in the
same atomic batch, so a duplicate or concurrent delivery is processed exactly once and a
status never moves backwards (see `repository.apply_event`).

A callback is bad input like any other: `read_callback` refuses what the schema refuses
(numbers past what every backend stores exactly, `schemas.INTEGER_MAX`, or not whole
rupiah, text UTF-8 cannot encode), records
the refusal in `xendit_rejected_callbacks` and answers 400/422. Xendit retries any non-2xx
delivery and lists it as failed in its dashboard, where the operator can resend it once
the cause is fixed (docs/payments.md); reconciliation settles the payment meanwhile.
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from boothcloud.db.base import Database
from boothcloud.errors import BadRequest, ProblemError
from boothcloud.http import validation_problem
from boothcloud.payments import repository
from boothcloud.payments.repository import Event
from boothcloud.payments.schemas import (
    InvoiceCallback,
    QrPaymentData,
    WebhookAck,
)
from boothcloud.payments.xendit import Invoice
from boothcloud.schemas import INTEGER_MAX, INTEGER_MIN
from boothcloud.timeutil import from_db, now_db, to_db

log = logging.getLogger("boothcloud.payments")

KNOWN_STATUSES = frozenset({"PENDING", "PAID", "SETTLED", "EXPIRED", "QR_FAILED"})
KEPT_PAYLOAD_BYTES = 64 * 1024  # of a rejected callback, for the operator


def whole_rupiah(value: float | None) -> int | None:
    """Xendit sends numbers; only an integral value every backend stores exactly (within
    `INTEGER_MAX`) can equal our amount."""
    if value is None or value != value or not float(value).is_integer():  # NaN or fraction
        return None
    number = int(value)
    return number if INTEGER_MIN <= number <= INTEGER_MAX else None


Callback = TypeVar("Callback", bound=BaseModel)  # invoice, qr.payment or refund callback


async def read_callback(db: Database, raw: bytes, model: type[Callback]) -> Callback:
    """The callback, or a 400/422 problem after recording why it was refused.

    Parsed like every other body (the standard library's JSON, then the model), so a lone
    surrogate escape is a 422 naming its field rather than "not valid JSON".
    """
    problem: ProblemError
    try:
        data = json.loads(raw)
    except ValueError:  # not JSON, or not UTF-8
        problem = BadRequest("request body is not valid JSON")
    else:
        try:
            return model.model_validate(data)
        except ValidationError as error:
            problem = validation_problem(error.errors(include_url=False, include_input=False))
    reason = problem.detail.encode("utf-8", "replace").decode()
    payload = raw[:KEPT_PAYLOAD_BYTES].decode("utf-8", errors="replace")
    await repository.insert_rejected_callback(db, reason, payload)
    log.warning("Xendit callback rejected (kept in xendit_rejected_callbacks): %s", reason)
    raise problem


def _db_time(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return to_db(from_db(value))
    except ValueError:
        log.warning("unparseable Xendit timestamp %r", value)
        return None


def from_callback(callback: InvoiceCallback, raw: bytes) -> Event:
    return Event(
        invoice_id=callback.id,
        external_id=callback.external_id,
        status=callback.status.upper(),
        amount=whole_rupiah(callback.amount),
        paid_amount=whole_rupiah(callback.paid_amount),
        paid_at=_db_time(callback.paid_at),
        payment_method=callback.payment_method,
        payment_channel=callback.payment_channel,
        source="webhook",
        payload=raw.decode("utf-8", errors="replace"),
    )


# A QR payment's status (QR Codes API 2022-07-31): SUCCEEDED is money in, like an
# invoice's PAID; FAILED and anything else change nothing (the QR code's own expiry, seen
# by reconciliation, fails the payment).
QR_STATUSES = {"SUCCEEDED": "PAID"}


def from_qr_payment(data: QrPaymentData, raw: str, source: str) -> Event:
    """A `qr.payment` callback's `data`, or an item of `GET /qr_codes/{id}/payments`."""
    status = data.status.upper()
    return Event(
        invoice_id=data.qr_id,
        external_id=data.reference_id,
        status=QR_STATUSES.get(status, f"QR_{status}"),
        amount=whole_rupiah(data.amount),
        paid_amount=whole_rupiah(data.amount),
        paid_at=_db_time(data.created),
        payment_method="QR_CODE",
        payment_channel=data.channel_code or "QRIS",
        source=source,
        payload=raw,
    )


def from_invoice(invoice: Invoice) -> Event:
    return Event(
        invoice_id=invoice.id,
        external_id=invoice.external_id,
        status=invoice.status.upper(),
        amount=whole_rupiah(invoice.amount),
        paid_amount=whole_rupiah(invoice.paid_amount),
        paid_at=_db_time(invoice.paid_at),
        payment_method=invoice.payment_method,
        payment_channel=invoice.payment_channel,
        source="reconcile",
        payload=orjson.dumps(invoice.raw).decode(),
    )


def _review_reason(event: Event) -> str:
    return (
        f"{event.status} for invoice {event.invoice_id} with amount {event.amount}, "
        f"paid_amount {event.paid_amount} does not match this payment"
    )


async def apply(db: Database, event: Event) -> WebhookAck:
    """Record and apply one event; the answer says what happened, for logs and callers."""
    if event.status not in KNOWN_STATUSES:
        log.warning("Xendit event with unknown status %s for %s", event.status, event.external_id)
    applied = await repository.apply_event(db, event, now_db(), _review_reason(event))
    if applied.duplicate:
        return WebhookAck(duplicate=True, outcome="duplicate")
    outcome = _outcome(event, applied)
    await repository.set_event_outcome(db, event.key, outcome)
    return WebhookAck(duplicate=False, outcome=outcome)


def _outcome(event: Event, applied: repository.Applied) -> str:
    extra: dict[str, Any] = {"invoice": event.invoice_id, "status": event.status}
    if applied.payment is None:
        log.warning("Xendit event for unknown payment %s: %s", event.external_id, extra)
        return "unknown_payment"
    if applied.flagged:
        log.warning("payment %s flagged for review: %s", event.external_id, _review_reason(event))
        return "flagged"
    if applied.transitioned:
        if applied.payment["flagged"] and applied.payment["status"] == "completed":
            log.warning("payment %s paid after it failed: flagged", event.external_id)
        log.info("payment %s -> %s (%s)", event.external_id, applied.payment["status"], extra)
        return "applied"
    return "ignored" if event.status not in ("PAID", "SETTLED", "EXPIRED") else "unchanged"
