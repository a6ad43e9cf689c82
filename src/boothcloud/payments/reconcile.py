"""Reconciliation: find what a missed callback would have told us (Xendit does not retry
a callback that timed out), by asking `GET /v2/invoices/{id}` for stale pending payments,
or `GET /qr_codes/{id}/payments` for QRIS ones.

The same `events.apply` code as the webhook applies what Xendit answers, so a callback that
arrives later is a duplicate, not a second transition. A pending payment past its expiry
becomes `failed` (money that still arrives later completes it, flagged). A payment that
never stored its invoice (the process died, or the create call timed out on our side) is
looked up by `external_id`, so an invoice Xendit did create is adopted, never orphaned.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import orjson
from pydantic import ValidationError

from boothcloud.db.base import Database, Row
from boothcloud.payments import events, repository
from boothcloud.payments.repository import Event
from boothcloud.payments.schemas import QrPaymentData, ReconcileReport
from boothcloud.payments.xendit import Invoice, XenditClient, XenditError
from boothcloud.settings import Settings
from boothcloud.timeutil import from_db, now_db, to_db, utcnow

log = logging.getLogger("boothcloud.payments")
BATCH = 200


async def reconcile(
    db: Database, settings: Settings, client: XenditClient | None, *, limit: int = BATCH
) -> ReconcileReport:
    moment = utcnow()
    threshold = to_db(moment - timedelta(seconds=settings.reconcile_after_seconds))
    rows = await repository.stale_pending(db, threshold, to_db(moment), limit)
    report = ReconcileReport()
    for row in rows:
        report.checked += 1
        try:
            await _one(db, client, row, report)
        except XenditError as error:
            report.errors += 1
            log.warning("reconcile %s: Xendit failed: %s", row["id"], error)
    if report.checked:
        log.info("reconciled payments: %s", report.model_dump())
    return report


def _expired(row: Row) -> bool:
    expires_at = row["expires_at"]
    return expires_at is not None and from_db(expires_at) <= utcnow()


async def _one(
    db: Database, client: XenditClient | None, row: Row, report: ReconcileReport
) -> None:
    event: Event | None = None
    if client is not None:
        find = _qr_event if row["method"] == "qris" else _invoice_event
        event = await find(db, client, row)
    if event is not None and event.status in ("PAID", "SETTLED", "EXPIRED"):
        ack = await events.apply(db, event)
        _count(report, ack.outcome, event.status)
        return
    never_created = event is None and row["xendit_payment_id"] is None and client is not None
    # Xendit has no invoice (or QR code) for this payment, and the creation call is over.
    reason = "qr_code_not_created" if row["method"] == "qris" else "invoice_not_created"
    if never_created and await repository.fail_open(db, row["id"], reason, now_db()):
        report.failed += 1
        return
    if _expired(row) and await repository.fail_open(db, row["id"], "expired", now_db()):
        report.failed += 1
        return
    report.unchanged += 1


async def _qr_event(db: Database, client: XenditClient, row: Row) -> Event | None:
    """The QR code's successful payment, if any (`GET /qr_codes/{id}/payments`); a QR
    code never stored cannot be looked up (the API has no search by reference_id)."""
    if row["xendit_payment_id"] is None:
        return None
    items = await client.qr_payments(str(row["xendit_payment_id"]), row["xendit_sub_account_id"])
    for item in items:
        try:
            data = QrPaymentData.model_validate(item)
        except ValidationError as error:
            detail = f"QR payment has {error.error_count()} bad fields"
            raise XenditError("bad_response", detail) from error
        if data.status.upper() == "SUCCEEDED":
            return events.from_qr_payment(data, orjson.dumps(item).decode(), "reconcile")
    return None


async def _invoice_event(db: Database, client: XenditClient, row: Row) -> Event | None:
    invoice = await _find_invoice(db, client, row)
    return None if invoice is None else events.from_invoice(invoice)


async def _find_invoice(db: Database, client: XenditClient, row: Row) -> Invoice | None:
    sub_account = row["xendit_sub_account_id"]
    if row["xendit_payment_id"] is not None:
        return await client.get_invoice(str(row["xendit_payment_id"]), sub_account)
    found = await client.find_by_external_id(str(row["id"]), sub_account)
    if not found:
        return None
    invoice = found[0]
    expires_at = to_db(from_db(invoice.expiry_date)) if invoice.expiry_date else None
    if await repository.adopt_invoice(
        db, str(row["id"]), invoice.id, invoice.invoice_url, expires_at, now_db()
    ):
        log.warning("payment %s: adopted invoice %s found by external_id", row["id"], invoice.id)
    return invoice


def _count(report: ReconcileReport, outcome: str, status: str) -> None:
    if outcome == "applied":
        if status == "EXPIRED":
            report.failed += 1
        else:
            report.completed += 1
    elif outcome == "flagged":
        report.flagged += 1
    else:
        report.unchanged += 1
