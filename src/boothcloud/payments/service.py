"""Payment rules: fee, Xendit invoice, idempotent creation, scoping, lists and summaries.

Creation is two steps around the network call: the payment is stored `pending` (with its
Idempotency-Key, atomically) before Xendit is asked, and the invoice or the failure is
stored after (with the response a replay returns, atomically). A crash in between leaves
a pending payment without an invoice, which reconciliation resolves by asking Xendit for
invoices with our payment id as `external_id`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from boothcloud.auth import Caller, not_found
from boothcloud.customers.repository import tier_case
from boothcloud.db.base import Database, Row
from boothcloud.errors import (
    BadGateway,
    Conflict,
    ProblemError,
    ServiceUnavailable,
    invalid,
)
from boothcloud.ids import digest, new_id
from boothcloud.pagination import page_of
from boothcloud.payments import repository, split_rules
from boothcloud.payments.fees import platform_fee
from boothcloud.payments.schemas import Payment, PaymentCreate, PaymentPage
from boothcloud.payments.split import Split, VenueShare, split
from boothcloud.payments.xendit import XenditClient, XenditError
from boothcloud.sessions import qr
from boothcloud.sessions.service import check_session
from boothcloud.settings import FeePolicy, Settings, tier_of
from boothcloud.timeutil import from_db, to_db, utcnow

log = logging.getLogger("boothcloud.payments")

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
XENDIT_FEE_TYPE = "Platform Fee"
# What one QRIS transaction may carry (Bank Indonesia's per-transaction cap, as Xendit
# documents for QR codes); the settings' own min and max apply on top (docs/payments.md).
QRIS_MIN_AMOUNT = 1
QRIS_MAX_AMOUNT = 10_000_000


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer as stored for Idempotency-Key replays."""

    status: int
    body: str
    media_type: str
    payment_id: str
    replayed: bool = False


def to_model(row: Row) -> Payment:
    return Payment.model_validate(
        {
            **row,
            "net_amount": int(row["amount"]) - int(row["platform_fee"]) - int(row["venue_amount"]),
            "flagged": bool(row["flagged"]),
        }
    )


def not_configured() -> ServiceUnavailable:
    return ServiceUnavailable(
        "payments are not configured: set BOOTHCLOUD_XENDIT_SECRET_KEY",
        code="XENDIT_NOT_CONFIGURED",
    )


def _payer(caller: Caller, body: PaymentCreate) -> str:
    """The customer the payment is for: the operator names one, a booth pays to its own
    (naming another answers like an unknown customer)."""
    if caller.is_operator:
        if body.customer_id is None:
            raise invalid("customer_id", "required when the operator creates a payment")
        return body.customer_id
    assert caller.customer_id is not None
    if body.customer_id is not None:
        caller.check_owns(body.customer_id, "customer", body.customer_id)
    return caller.customer_id


def _no_customer(caller: Caller, customer_id: str) -> ProblemError:
    if caller.is_operator:
        return invalid("customer_id", "no customer with this id")
    return not_found("customer", customer_id)


def _check_amount(settings: Settings, amount: int, method: str) -> None:
    if method == "qris" and not QRIS_MIN_AMOUNT <= amount <= QRIS_MAX_AMOUNT:
        raise invalid(
            "amount", f"QRIS takes {QRIS_MIN_AMOUNT} to {QRIS_MAX_AMOUNT:,} rupiah per payment"
        )
    if amount < settings.payment_min_amount:
        raise invalid("amount", f"must be at least {settings.payment_min_amount} rupiah")
    if amount > settings.payment_max_amount:
        raise invalid("amount", f"must be at most {settings.payment_max_amount} rupiah")


def _request_hash(customer_id: str, body: PaymentCreate) -> str:
    canonical = {
        "customer_id": customer_id,
        "amount": body.amount,
        "description": body.description,
        "payer_email": body.payer_email,
    }
    if body.session_id is not None:  # only when given: keys stored before sessions hold
        canonical["session_id"] = body.session_id
    if body.method != "invoice":  # likewise: keys stored before QRIS hash without it
        canonical["method"] = body.method
    return digest(canonical)


def invoice_payload(settings: Settings, row: Row, sub_account: str | None) -> dict[str, Any]:
    """The `POST /v2/invoices` body (Xendit's CreateInvoiceRequest)."""
    payload: dict[str, Any] = {
        "external_id": row["id"],
        "amount": row["amount"],
        "currency": "IDR",
        "description": row["description"] or f"Photobooth session {row['id']}",
        "invoice_duration": settings.invoice_duration_seconds,
    }
    if row["payer_email"]:
        payload["payer_email"] = row["payer_email"]
    if settings.success_redirect_url:
        payload["success_redirect_url"] = settings.success_redirect_url
    if settings.failure_redirect_url:
        payload["failure_redirect_url"] = settings.failure_redirect_url
    if sub_account and row["platform_fee"] > 0 and row["split_rule_id"] is None:
        # Without a split rule (no platform account configured) the fee stays what it
        # was before xenPlatform split rules: an invoice fee (docs/payments.md).
        payload["fees"] = [{"type": XENDIT_FEE_TYPE, "value": row["platform_fee"]}]
    return payload


def qr_payload(settings: Settings, row: Row) -> dict[str, Any]:
    """The `POST /qr_codes` body (QR Codes API `2022-07-31`): a dynamic QRIS code for
    exactly this amount, expiring like an invoice would."""
    expires = from_db(row["created_at"]) + timedelta(seconds=settings.invoice_duration_seconds)
    return {
        "reference_id": row["id"],
        "type": "DYNAMIC",
        "currency": "IDR",
        "amount": row["amount"],
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }


def in_flight_seconds(settings: Settings) -> float:
    """How long a request may still be creating its invoice: its Xendit call connects,
    writes and reads, each within the timeout. A key held longer without an answer belongs
    to a request that died (a crash, a kill, a power cut) and a retry resumes it."""
    return 3 * settings.xendit_timeout_seconds + 1


async def _replay(
    db: Database,
    settings: Settings,
    client: XenditClient,
    customer: Row,
    key: str,
    request_hash: str,
    now: str,
) -> Answer:
    customer_id = str(customer["id"])
    found = await repository.get_key(db, customer_id, key, now)
    if found is None:  # expired and released between our two statements: a rare race
        raise Conflict("Idempotency-Key was just released; retry", code="IDEMPOTENCY_KEY_IN_USE")
    if found["request_hash"] != request_hash:
        raise Conflict(
            "Idempotency-Key was already used with a different request body",
            code="IDEMPOTENCY_KEY_REUSED",
        )
    if found["response_status"] is None:
        stale = to_db(utcnow() - timedelta(seconds=in_flight_seconds(settings)))
        if str(found["created_at"]) > stale or not await repository.take_over_key(
            db, customer_id, key, stale, now
        ):
            raise Conflict(
                "a request with this Idempotency-Key is still in progress; retry shortly",
                code="IDEMPOTENCY_KEY_IN_USE",
                headers={"Retry-After": "1"},
            )
        return await _resume(db, settings, client, customer, str(found["payment_id"]), key)
    status = int(found["response_status"])
    media = "application/json" if status < 400 else "application/problem+json"
    return Answer(status, str(found["response_body"]), media, str(found["payment_id"]), True)


async def _resume(
    db: Database,
    settings: Settings,
    client: XenditClient,
    customer: Row,
    payment_id: str,
    key: str,
) -> Answer:
    """Finish a request that died between recording its payment and its answer: adopt the
    invoice Xendit made for it (found by `external_id`, our payment id), or create it now,
    so a booth's retry completes the payment instead of waiting for reconciliation."""
    row = await repository.get(db, payment_id)
    assert row is not None  # the key's foreign key holds it
    if row["status"] == "pending" and row["xendit_payment_id"] is None and row["method"] == "qris":
        # The QR Codes API has no search by reference_id; a QR code the dead request may
        # have made was never shown to anyone, so it expires unpaid (docs/payments.md).
        answer = await _create_invoice(db, settings, client, row, customer, key)
        return Answer(answer.status, answer.body, answer.media_type, payment_id, True)
    if row["status"] == "pending" and row["xendit_payment_id"] is None:
        sub_account = customer["xendit_sub_account_id"]
        try:
            invoices = await client.find_by_external_id(payment_id, sub_account)
        except XenditError as error:
            raise BadGateway(
                f"Xendit did not answer ({error.cause}); retry", code="XENDIT_UNAVAILABLE"
            ) from error
        if not invoices:
            answer = await _create_invoice(db, settings, client, row, customer, key)
            return Answer(answer.status, answer.body, answer.media_type, payment_id, True)
        invoice = invoices[0]
        expires = _expiry(invoice.expiry_date, settings, str(row["created_at"]))
        await repository.adopt_invoice(
            db, payment_id, invoice.id, invoice.invoice_url, expires, to_db(utcnow())
        )
        log.warning("payment %s: resumed, invoice %s found by external_id", payment_id, invoice.id)
        row = await repository.get(db, payment_id)
        assert row is not None
    body = to_model(row).model_dump_json()
    await repository.save_response(db, key, row, 201, body)
    return Answer(201, body, "application/json", payment_id, True)


async def create(
    db: Database,
    settings: Settings,
    client: XenditClient | None,
    caller: Caller,
    body: PaymentCreate,
    idempotency_key: str | None,
) -> Answer:
    """Record the payment (one batch that also reads its customer), then ask Xendit.

    The fee depends on the customer's tier, which is read in the same batch that inserts
    the payment (the fee of every tier is computed here and the INSERT picks by the tier
    it finds, `ByTier`), so a payment without a split rule takes one batch before Xendit
    and one after. A split rule needs the customer's sub-account (and the venue): when
    one may apply, that first INSERT also requires the customer to have no sub-account,
    and a customer with one is inserted by a second batch once its split is known.
    """
    if client is None:
        raise not_configured()
    if idempotency_key is not None and not KEY_PATTERN.match(idempotency_key):
        raise invalid("Idempotency-Key", "1-255 printable ASCII characters")
    customer_id = _payer(caller, body)
    try:
        _check_amount(settings, body.amount, body.method)
    except ProblemError:
        if await repository.get_customer(db, customer_id) is None:
            raise _no_customer(caller, customer_id) from None  # this error comes first
        raise
    moment = utcnow()
    now = to_db(moment)
    row: Row = {
        "id": new_id("pay"),
        "customer_id": customer_id,
        "amount": body.amount,
        "platform_fee": None,  # set below: by the tier in the INSERT, or from the split
        "venue_id": None,
        "venue_amount": 0,
        "split_rule_id": None,
        "status": "pending",
        "description": body.description,
        "payer_email": body.payer_email,
        "session_id": body.session_id,
        "method": body.method,
        "created_at": now,
        "updated_at": now,
    }
    claim = None
    if idempotency_key is not None:
        expires = to_db(moment + timedelta(hours=settings.idempotency_ttl_hours))
        claim = repository.KeyClaim(idempotency_key, _request_hash(customer_id, body), now, expires)
    split_possible = bool(settings.xendit_platform_account_id)

    def fee_of(tier: str) -> int:
        return platform_fee(body.amount, policy_of(settings, tier))

    fee = repository.ByTier(*tier_case("c.license_type", fee_of))
    customer, inserted = await repository.insert(
        db, {**row, "platform_fee": fee}, claim, without_sub_account=split_possible
    )
    if customer is None:
        raise _no_customer(caller, customer_id)
    row["platform_fee"] = fee_of(customer["license_type"])
    if not inserted and split_possible and customer["xendit_sub_account_id"]:
        # Refused for its sub-account (perhaps for its session or key too): a split rule.
        parts, venue_id, rule_id = await _split(db, settings, customer, body)
        row.update(venue_id=venue_id, venue_amount=parts.venue, split_rule_id=rule_id)
        _, inserted = await repository.insert(db, row, claim, without_sub_account=False)
    if not inserted:  # the session check or a live Idempotency-Key refused it
        await check_session(db, body.session_id, customer_id)
        if claim is None:
            raise Conflict("the session changed meanwhile; retry", code="CONFLICT")
        return await _replay(db, settings, client, customer, claim.key, claim.request_hash, now)
    return await _create_invoice(db, settings, client, row, customer, idempotency_key)


def policy_of(settings: Settings, tier: str) -> FeePolicy:
    """The tier's fee policy (`tier_of`: starter's for a type that is no tier)."""
    return settings.fee_policy[tier_of(tier)]


async def _split(
    db: Database, settings: Settings, customer: Row, body: PaymentCreate
) -> tuple[Split, str | None, str | None]:
    """The parts and (recorded, not yet created at Xendit) split rule of a payment to a
    customer with a sub-account while the platform's account is set (what a split rule
    needs); the venue is the one the session's device is placed at. Returns the split, the
    venue, the rule."""
    tier = str(customer["license_type"])
    policy = policy_of(settings, tier)
    platform_account = settings.xendit_platform_account_id
    assert platform_account  # called only when a split rule applies
    venue = None
    if body.session_id is not None:
        found = await repository.venue_of_session(db, body.session_id, str(customer["id"]))
        if found is not None:
            venue = VenueShare(
                venue_id=str(found["id"]),
                account_id=str(found["xendit_sub_account_id"]),
                basis_points=found["share_basis_points"],
                amount=found["share_amount"],
            )
    parts = split(body.amount, policy, venue, platform_account)
    scope = tier if venue is None else f"{tier}@{venue.venue_id}"
    rule_id = await split_rules.record(db, parts, scope)
    return parts, venue.venue_id if venue and parts.venue else None, rule_id


async def _create_invoice(
    db: Database,
    settings: Settings,
    client: XenditClient,
    row: Row,
    customer: Row,
    key: str | None,
) -> Answer:
    sub_account = customer["xendit_sub_account_id"]
    full = {
        **row,
        "xendit_payment_id": None,
        "invoice_url": None,
        "expires_at": None,
        "paid_at": None,
        "paid_amount": None,
        "payment_method": None,
        "payment_channel": None,
        "failure_reason": None,
        "flagged": 0,
        "review_reason": None,
        "currency": "IDR",
        "qr_string": None,
        "xendit_split_rule_id": None,
    }
    try:
        created = await _ask_xendit(db, settings, client, row, sub_account)
    except XenditError as error:
        reason = f"xendit {error.cause}: {error.detail}"[:500]
        log.warning("payment %s: %s creation failed: %s", row["id"], row["method"], reason)
        problem = BadGateway(
            f"Xendit {_WHAT[row['method']]} creation failed ({error.cause}): {error.detail}; "
            f"payment {row['id']} is failed",
            code=f"XENDIT_{error.cause.upper()}",
            headers={"Location": f"/api/payments/{row['id']}"},
        )
        await repository.fail_creation(
            db, full, reason, to_db(utcnow()), key, orjson.dumps(problem.body()).decode()
        )
        raise problem from error
    full.update(created)
    full["updated_at"] = to_db(utcnow())
    body = to_model(full).model_dump_json()
    await repository.store_invoice(db, full, key, body)
    return Answer(201, body, "application/json", str(row["id"]))


_WHAT = {"invoice": "invoice", "qris": "QR code"}


async def _ask_xendit(
    db: Database, settings: Settings, client: XenditClient, row: Row, sub_account: str | None
) -> dict[str, Any]:
    """Create the invoice or QR code (its split rule first, if it has one and Xendit has
    not made it yet); the columns it fills in on the payment."""
    rule = None
    if row["split_rule_id"] is not None:
        rule = await split_rules.xendit_id(
            db, client, str(row["split_rule_id"]), in_flight_seconds(settings)
        )
    if row["method"] == "qris":
        qr = await client.create_qr_code(qr_payload(settings, row), sub_account, rule)
        if qr.reference_id != row["id"]:
            raise XenditError("bad_response", "QR code reference_id is not our payment id")
        return {
            "xendit_split_rule_id": rule,
            "xendit_payment_id": qr.id,
            "qr_string": qr.qr_string,
            "expires_at": _expiry(qr.expires_at, settings, row["created_at"]),
        }
    payload = invoice_payload(settings, row, sub_account)
    invoice = await client.create_invoice(payload, sub_account, rule)
    if invoice.external_id != row["id"]:
        raise XenditError("bad_response", "invoice external_id is not our payment id")
    return {
        "xendit_split_rule_id": rule,
        "xendit_payment_id": invoice.id,
        "invoice_url": invoice.invoice_url,
        "expires_at": _expiry(invoice.expiry_date, settings, row["created_at"]),
    }


def _expiry(value: str | None, settings: Settings, created_at: str) -> str:
    if value:
        try:
            return to_db(from_db(value))
        except ValueError:
            log.warning("unparseable Xendit expiry_date %r", value)
    return to_db(from_db(created_at) + timedelta(seconds=settings.invoice_duration_seconds))


async def get(db: Database, caller: Caller, payment_id: str) -> Payment:
    return to_model(caller.owned(await repository.get(db, payment_id), "payment", payment_id))


WAIT_MAX_SECONDS = 30
WAIT_POLL_SECONDS = 0.25


async def wait_for_change(
    db: Database,
    caller: Caller,
    payment_id: str,
    wait: int,
    gone: Callable[[], Awaitable[bool]],
) -> Payment:
    """The payment as soon as its status differs from when the request came, or after
    `wait` seconds. The database is the only shared state between workers (and between
    the worker that takes the callback and the one holding the booth's request), so this
    reads one indexed row's status every `WAIT_POLL_SECONDS` (an async query, never a
    blocking call on the event loop), and stops early when the booth hung up."""
    payment = await get(db, caller, payment_id)
    if wait <= 0 or payment.status not in ("pending", "processing"):
        return payment
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(WAIT_POLL_SECONDS, left))
        if await repository.status_of(db, payment_id) != payment.status or await gone():
            break
    return await get(db, caller, payment_id)


async def qr_svg(db: Database, caller: Caller, payment_id: str) -> bytes:
    """The payment's QRIS payload as an SVG QR code (the same renderer as share codes)."""
    payment = await get(db, caller, payment_id)
    if payment.qr_string is None:
        raise Conflict(
            "this payment has no QRIS code (not a `qris` payment, or its creation failed)",
            code="NO_QR_CODE",
        )
    return qr.svg(payment.qr_string)


def date_range(
    created_from: datetime | None, created_to: datetime | None
) -> tuple[str | None, str | None]:
    if created_from and created_to and created_from >= created_to:
        raise invalid("created_to", "must be after created_from")
    return (
        to_db(created_from) if created_from else None,
        to_db(created_to) if created_to else None,
    )


async def list_page(
    db: Database,
    caller: Caller,
    *,
    status: str | None,
    customer_id: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
    flagged: bool | None,
    cursor: str | None,
    limit: int,
    method: str | None = None,
) -> PaymentPage:
    start, end = date_range(created_from, created_to)
    filters = repository.Filters(
        customer_id=caller.scope(customer_id),
        status=status,
        created_from=start,
        created_to=end,
        flagged=flagged,
        method=method,
    )
    rows = await repository.page(db, filters, cursor, limit)
    items, next_cursor = page_of(rows, limit)
    return PaymentPage(items=[to_model(r) for r in items], next_cursor=next_cursor)
