"""A local Xendit Invoice and QR Codes API, over real HTTP, checked against the official
SDK's models where it has them.

It serves `POST /v2/invoices`, `GET /v2/invoices/{id}` and `GET /v2/invoices?external_id=`
like Xendit does (Basic auth with the secret key as username, `for-user-id` for
xenPlatform sub-accounts, `{"error_code", "message"}` errors), and builds invoice callbacks
in Xendit's format. Every request boothcloud sends is validated against the
`xendit-python` SDK's `CreateInvoiceRequest`, and every invoice and callback this server
produces against the SDK's `Invoice` and `InvoiceCallback`, strictly (no unknown keys), so
the contract comes from Xendit, not from boothcloud. Tests can make the next calls time
out or fail with any status.

QR codes (`POST /qr_codes`, `GET /qr_codes/{id}`, `GET /qr_codes/{id}/payments`, the
`qr.payment` callback) follow the QR Codes API reference, version `2022-07-31` (the
`api-version` header is required). `xendit-python` 7.0.0 has no model of that API: the
QR code's `qr_string` and `expires_at` are checked against the SDK's
`payment_request.QRCodeChannelProperties` (the same two fields in Payment Requests), and
every body against the documented field lists below, strictly.

Split rules (`POST /split_rules`, xenPlatform) and the `with-split-rule` header on invoice
and QR code creation follow the API reference "Create split rule" (docs.xendit.co/apidocs/
create-split-rule): `xendit-python` 7.0.0 has no split rule model (only the header, on
`PaymentRequestApi.create_payment_request`), so requests and responses are checked against
that page's documented fields and examples. An unknown rule id in `with-split-rule` answers
the API's documented 404 for an object referenced that does not exist (`DATA_NOT_FOUND`).
For every payment created with a rule, `moved` records what Xendit would route, computed
as that page documents (percent routes "rounded off to the nearest monetary unit": half
up), independently of boothcloud's arithmetic, so tests can compare the two.

Refunds: `POST /refunds` (an invoice's payment, by `invoice_id`) is checked against the
SDK's `refund.CreateRefund`, its answer against `refund.Refund` plus the fields Xendit's
API reference adds (`status`, `invoice_id`, ...), and the `refund.succeeded` /
`refund.failed` callback's `data` against `refund.RefundCallbackData`. A QRIS payment's
refund, `POST /qr_codes/payments/{qrpy_id}/refunds` (api-version `2022-07-31`), has no SDK
model: its body is checked against what Xendit's help centre documents (`amount`,
`reason`), and its answer is a refund object of the same shape, status `PENDING` (as
documented). Both honour the `Idempotency-key` header: the same key answers the same
refund. A refund stays PENDING until a test (or `POST /_fake/refunds/{id}/{status}`)
ends it and posts the callback.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from xendit.configuration import Configuration
from xendit.invoice.model.create_invoice_request import CreateInvoiceRequest
from xendit.invoice.model.invoice import Invoice as SdkInvoice
from xendit.invoice.model.invoice_callback import InvoiceCallback as SdkCallback
from xendit.invoice.model.invoice_status import InvoiceStatus
from xendit.model_utils import validate_and_convert_types
from xendit.payment_request.model.qr_code_channel_properties import QRCodeChannelProperties
from xendit.refund.model.create_refund import CreateRefund
from xendit.refund.model.refund import Refund as SdkRefund
from xendit.refund.model.refund_callback_data import RefundCallbackData

SECRET_KEY = "xnd_development_fake_secret"
USER_ID = "5f0f0f0f0f0f0f0f0f0f0f0f"  # the master account's Xendit user id
_SDK_CONFIG = Configuration()


class ContractError(AssertionError):
    """A message broke the Xendit contract as the SDK's models define it."""


# Fields Xendit's API reference documents on a paid invoice (GET /v2/invoices/{id}) that
# the SDK's `Invoice` model leaves out (it accepts them as additional properties).
DOCUMENTED_EXTRAS: dict[str, frozenset[str]] = {
    "Invoice": frozenset({"paid_amount", "paid_at", "payment_channel", "payment_destination"}),
    # The Refund object of the API reference (`POST /refunds`): also these.
    "Refund": frozenset({"status", "reason", "invoice_id", "payment_id", "payment_method_type"}),
}


# The QR Codes API reference (api-version 2022-07-31): the create request's fields, the
# QR code object, and a QR payment (the `qr.payment` callback's `data`).
QR_REQUEST_FIELDS = frozenset(
    {"reference_id", "type", "currency", "amount", "channel_code", "expires_at"}
    | {"description", "metadata", "basket"}
)
QR_CODE_FIELDS = frozenset(
    {"id", "reference_id", "business_id", "type", "currency", "amount", "channel_code"}
    | {"status", "qr_string", "expires_at", "created", "updated", "description", "metadata"}
)
QR_PAYMENT_FIELDS = frozenset(
    {"id", "business_id", "currency", "amount", "status", "created", "qr_id", "qr_string"}
    | {"reference_id", "type", "channel_code", "expires_at", "description", "metadata"}
    | {"payment_detail"}
)
QRIS_MAX = 10_000_000
# A QR payment's refund request, as Xendit's help centre documents it (both optional).
QR_REFUND_FIELDS = frozenset({"amount", "reason"})

# Create split rule (xenPlatform API reference): request, route and response fields.
SPLIT_RULE_REQUEST_FIELDS = frozenset({"name", "description", "routes", "metadata"})
SPLIT_ROUTE_FIELDS = frozenset(
    {"flat_amount", "percent_amount", "currency", "destination_account_id", "reference_id"}
)
SPLIT_CURRENCIES = frozenset({"IDR", "PHP", "VND", "MYR", "THB", "SGD", "USD"})


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def split_rule_check(body: Any) -> None:
    """A `POST /split_rules` body as the API reference documents it."""
    if not isinstance(body, dict):
        raise ContractError("CreateSplitRule: not an object")
    documented_check("CreateSplitRule", SPLIT_RULE_REQUEST_FIELDS, body)
    if not isinstance(body.get("name"), str) or not body["name"]:
        raise ContractError("CreateSplitRule: name is required")
    routes = body.get("routes")
    if not isinstance(routes, list) or not routes:
        raise ContractError("CreateSplitRule: routes is required")
    for route in routes:
        if not isinstance(route, dict):
            raise ContractError("route: not an object")
        documented_check("route", SPLIT_ROUTE_FIELDS, route)
        flat, percent = route.get("flat_amount"), route.get("percent_amount")
        if (flat is None) == (percent is None):
            raise ContractError("route: exactly one of flat_amount and percent_amount")
        if flat is not None and not _positive_number(flat):
            raise ContractError("route: flat_amount must be a positive number")
        if percent is not None and not (
            _positive_number(percent)
            and percent <= 100
            and Decimal(str(percent)) == Decimal(str(percent)).quantize(Decimal("0.01"))
        ):
            raise ContractError("route: percent_amount is 0-100 with at most 2 decimals")
        if route.get("currency") not in SPLIT_CURRENCIES:
            raise ContractError("route: currency is an ISO 4217 code Xendit lists")
        for name in ("destination_account_id", "reference_id"):
            if not isinstance(route.get(name), str) or not 1 <= len(route[name]) <= 255:
                raise ContractError(f"route: {name} is required")


def route_amount(route: dict[str, Any], amount: int) -> int:
    """What Xendit routes for one route of a payment of `amount` (half up, as documented)."""
    if route.get("flat_amount") is not None:
        return int(route["flat_amount"])
    share = Decimal(amount) * Decimal(str(route["percent_amount"])) / 100
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def documented_check(name: str, fields: frozenset[str], data: dict[str, Any]) -> None:
    unknown = set(data) - fields
    if unknown:
        raise ContractError(f"{name}: unknown fields {sorted(unknown)}")


def qr_request_check(body: Any) -> None:
    """A `POST /qr_codes` body as the API reference documents it."""
    if not isinstance(body, dict):
        raise ContractError("CreateQRCode: not an object")
    documented_check("CreateQRCode", QR_REQUEST_FIELDS, body)
    if not isinstance(body.get("reference_id"), str) or not body["reference_id"]:
        raise ContractError("CreateQRCode: reference_id is required")
    if body.get("type") not in ("DYNAMIC", "STATIC") or body.get("currency") != "IDR":
        raise ContractError("CreateQRCode: type DYNAMIC|STATIC and currency IDR are required")
    amount = body.get("amount")
    if body["type"] == "DYNAMIC" and not (
        isinstance(amount, int) and not isinstance(amount, bool) and 1 <= amount <= QRIS_MAX
    ):
        raise ContractError(f"CreateQRCode: a DYNAMIC amount is 1 to {QRIS_MAX} IDR")
    if "expires_at" in body:
        datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00"))


def sdk_check(model: Any, data: dict[str, Any]) -> Any:
    """Validate `data` against an SDK model: types, required fields and no unknown keys."""
    known = set(model.attribute_map.values()) | DOCUMENTED_EXTRAS.get(model.__name__, set())
    unknown = set(data) - known
    if unknown:
        raise ContractError(f"{model.__name__}: unknown fields {sorted(unknown)}")
    try:
        return validate_and_convert_types(
            copy.deepcopy(data), (model,), [model.__name__], True, True, configuration=_SDK_CONFIG
        )
    except Exception as error:
        raise ContractError(f"{model.__name__}: {error}") from error


def _iso(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Failure:
    status: int | None = None  # answer this HTTP status
    delay: float = 0.0  # sleep first (longer than the client's timeout: a timeout)


@dataclass
class FakeXendit:
    """State and controls of the fake; the HTTP app runs in a background thread."""

    url: str = ""
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)  # validated create bodies
    headers: list[dict[str, str]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    webhook_url: str | None = None  # where `POST /_fake/...` delivers callbacks (QR: + /qr)
    callback_token: str = ""
    qr_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    qr_payments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    split_rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    split_rule_keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # by idempotency
    split_rule_posts: int = 0  # every POST /split_rules, replays included
    moved: dict[str, dict[str, int]] = field(default_factory=dict)  # payment id -> reference
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    refund_keys: dict[str, str] = field(default_factory=dict)  # Idempotency-key -> refund id

    def reset(self) -> None:
        self.split_rules.clear()
        self.split_rule_keys.clear()
        self.split_rule_posts = 0
        self.moved.clear()
        self.webhook_url = None
        self.refunds.clear()
        self.refund_keys.clear()
        self.qr_codes.clear()
        self.qr_payments.clear()
        self.invoices.clear()
        self.requests.clear()
        self.headers.clear()
        self.failures.clear()

    def fail_next(self, status: int | None = None, delay: float = 0.0, times: int = 1) -> None:
        self.failures.extend(Failure(status, delay) for _ in range(times))

    # -- invoices -------------------------------------------------------------------------
    def _create(self, body: dict[str, Any], for_user_id: str | None) -> dict[str, Any]:
        created = _now()
        duration = float(body.get("invoice_duration") or 86_400)
        invoice_id = secrets.token_hex(12)
        invoice: dict[str, Any] = {
            "id": invoice_id,
            "external_id": body["external_id"],
            "user_id": for_user_id or USER_ID,
            "status": "PENDING",
            "merchant_name": "Fake Merchant",
            "merchant_profile_picture_url": "https://example.com/logo.png",
            "amount": body["amount"],
            "payer_email": body.get("payer_email"),
            "description": body.get("description"),
            "expiry_date": _iso(created + timedelta(seconds=duration)),
            "invoice_url": f"{self.url}/web/invoices/{invoice_id}",
            "available_banks": [],
            "available_retail_outlets": [],
            "available_ewallets": [],
            "available_qr_codes": [],
            "available_direct_debits": [],
            "available_paylaters": [],
            "should_send_email": False,
            "created": _iso(created),
            "updated": _iso(created),
            "currency": body.get("currency", "IDR"),
        }
        for name in ("success_redirect_url", "failure_redirect_url", "fees"):
            if name in body:
                invoice[name] = body[name]
        invoice = {k: v for k, v in invoice.items() if v is not None}
        sdk_check(SdkInvoice, invoice)
        self.invoices[invoice_id] = invoice
        return invoice

    def set_status(
        self,
        invoice_id: str,
        status: str,
        *,
        paid_amount: float | None = None,
        method: str = "QR_CODE",
        channel: str = "QRIS",
    ) -> dict[str, Any]:
        """Move an invoice as Xendit would (a guest pays, it settles, it expires)."""
        assert status in InvoiceStatus.allowed_values[("value",)].values()
        invoice = self.invoices[invoice_id]
        invoice["status"] = status
        invoice["updated"] = _iso(_now())
        if status in ("PAID", "SETTLED"):
            invoice.setdefault("paid_at", _iso(_now()))
            invoice["paid_amount"] = invoice["amount"] if paid_amount is None else paid_amount
            invoice["payment_method"] = method
            invoice["payment_channel"] = channel
        return invoice

    def callback(self, invoice_id: str, **overrides: Any) -> dict[str, Any]:
        """The callback body Xendit posts for the invoice's current state (SDK-checked)."""
        invoice = self.invoices[invoice_id]
        body: dict[str, Any] = {
            name: invoice[name]
            for name in (
                "id",
                "external_id",
                "user_id",
                "status",
                "merchant_name",
                "amount",
                "created",
                "updated",
                "currency",
                "payer_email",
                "description",
                "paid_amount",
                "paid_at",
                "payment_method",
                "payment_channel",
                "success_redirect_url",
                "failure_redirect_url",
                "fees",
            )
            if name in invoice
        }
        if "payment_channel" in body:
            body["payment_destination"] = body["payment_channel"]
            body["payment_id"] = f"qrpy_{invoice_id}"
        body.update(overrides)
        sdk_check(SdkCallback, body)
        return body

    async def deliver(
        self,
        http: httpx.AsyncClient,
        invoice_id: str,
        token: str,
        path: str = "/api/webhooks/xendit",
        **overrides: Any,
    ) -> httpx.Response:
        """POST the callback to boothcloud's webhook, as Xendit's notifier does."""
        return await http.post(
            path,
            json=self.callback(invoice_id, **overrides),
            headers={"x-callback-token": token, "content-type": "application/json"},
        )

    # -- QR codes -------------------------------------------------------------------------
    def _create_qr(self, body: dict[str, Any], for_user_id: str | None) -> dict[str, Any]:
        created = _now()
        qr_id = f"qr_{secrets.token_hex(16)}"
        expires = body.get("expires_at") or _iso(created + timedelta(hours=48))
        qr: dict[str, Any] = {
            "id": qr_id,
            "reference_id": body["reference_id"],
            "business_id": for_user_id or USER_ID,
            "type": body["type"],
            "currency": body["currency"],
            "amount": body.get("amount"),
            "channel_code": body.get("channel_code", "ID_DANA"),
            "status": "ACTIVE",
            # An EMVCo-shaped payload; a real one also names the merchant and a CRC.
            "qr_string": f"00020101021226660014ID.CO.QRIS.WWW0118{qr_id[3:21]}5303360"
            f"54{len(str(body.get('amount', ''))):02d}{body.get('amount', '')}5802ID6304FAKE",
            "expires_at": expires,
            "created": _iso(created),
            "updated": _iso(created),
            "description": body.get("description"),
            "metadata": body.get("metadata"),
        }
        documented_check("QRCode", QR_CODE_FIELDS, qr)
        sdk_check(QRCodeChannelProperties, {"qr_string": qr["qr_string"], "expires_at": expires})
        self.qr_codes[qr_id] = qr
        self.qr_payments[qr_id] = []
        return qr

    def pay_qr(self, qr_id: str, amount: float | None = None) -> dict[str, Any]:
        """A guest pays the QR code (a dynamic one is then INACTIVE): the payment made."""
        qr = self.qr_codes[qr_id]
        qr["status"] = "INACTIVE"
        qr["updated"] = _iso(_now())
        payment = {
            "id": f"qrpy_{secrets.token_hex(16)}",
            "business_id": qr["business_id"],
            "currency": "IDR",
            "amount": qr["amount"] if amount is None else amount,
            "status": "SUCCEEDED",
            "created": _iso(_now()),
            "qr_id": qr_id,
            "qr_string": qr["qr_string"],
            "reference_id": qr["reference_id"],
            "type": qr["type"],
            "channel_code": qr["channel_code"],
            "expires_at": qr["expires_at"],
            "description": qr["description"],
            "metadata": qr["metadata"],
            "payment_detail": {"receipt_id": secrets.token_hex(6), "source": "DANA"},
        }
        documented_check("QRPayment", QR_PAYMENT_FIELDS, payment)
        self.qr_payments[qr_id].append(payment)
        return payment

    def qr_callback(self, payment: dict[str, Any]) -> dict[str, Any]:
        """The `qr.payment` callback body Xendit posts for a QR payment."""
        return {
            "event": "qr.payment",
            "api_version": "v2",
            "business_id": payment["business_id"],
            "created": _iso(_now()),
            "data": payment,
        }

    async def deliver_qr(
        self,
        http: httpx.AsyncClient,
        payment: dict[str, Any],
        token: str,
        path: str = "/api/webhooks/xendit/qr",
    ) -> httpx.Response:
        return await http.post(
            path,
            json=self.qr_callback(payment),
            headers={"x-callback-token": token, "content-type": "application/json"},
        )

    # -- refunds --------------------------------------------------------------------------
    def _refundable(self, paid: float, refunded_of: str) -> float:
        taken = sum(
            r["amount"]
            for r in self.refunds.values()
            if refunded_of in (r.get("invoice_id"), r["payment_id"]) and r["status"] != "FAILED"
        )
        return paid - taken

    def _refund(
        self, body: dict[str, Any], key: str | None, *, paid: float, payment_id: str, **ids: Any
    ) -> dict[str, Any]:
        """A new PENDING refund (or, for a known Idempotency-key, the one made before)."""
        if key is not None and key in self.refund_keys:
            return self.refunds[self.refund_keys[key]]
        amount = body.get("amount", self._refundable(paid, ids.get("invoice_id") or payment_id))
        moment = _iso(_now())
        refund: dict[str, Any] = {
            "id": f"rfd-{secrets.token_hex(16)}",
            "payment_id": payment_id,
            "amount": amount,
            "channel_code": "QRIS",
            "country": "ID",
            "currency": "IDR",
            "reference_id": body.get("reference_id"),
            "failure_code": None,
            "refund_fee_amount": None,
            "created": moment,
            "updated": moment,
            "metadata": body.get("metadata"),
            "status": "PENDING",
            "reason": body.get("reason", "OTHERS"),
            "payment_method_type": "QR_CODE",
            **ids,
        }
        sdk_check(SdkRefund, refund)
        self.refunds[refund["id"]] = refund
        if key is not None:
            self.refund_keys[key] = refund["id"]
        return refund

    def _refusal(
        self, body: dict[str, Any], key: str | None, paid: float, of: str
    ) -> Response | None:
        """Xendit's 400 for more than the unrefunded rest (a known key replays instead)."""
        if key is not None and key in self.refund_keys:
            return None
        if body.get("amount", 0) > self._refundable(paid, of):
            return _error(400, "MAXIMUM_REFUND_AMOUNT_REACHED", "amount exceeds what is refundable")
        return None

    def end_refund(self, refund_id: str, status: str, failure_code: str | None = None) -> None:
        """Xendit finishes the refund (SUCCEEDED or FAILED)."""
        assert status in ("SUCCEEDED", "FAILED")
        refund = self.refunds[refund_id]
        refund["status"] = status
        refund["failure_code"] = failure_code if status == "FAILED" else None
        refund["updated"] = _iso(_now())

    def refund_callback(self, refund_id: str, **overrides: Any) -> dict[str, Any]:
        """The `refund.succeeded` / `refund.failed` callback for the refund's state."""
        refund = self.refunds[refund_id]
        data = {k: refund.get(k) for k in RefundCallbackData.attribute_map}
        data.update(overrides)
        sdk_check(RefundCallbackData, data)
        return {
            "event": f"refund.{str(data['status']).lower()}",
            "business_id": USER_ID,
            "created": _iso(_now()),
            "data": data,
        }

    async def deliver_refund(
        self,
        http: httpx.AsyncClient,
        refund_id: str,
        token: str,
        path: str = "/api/webhooks/xendit/refund",
        **overrides: Any,
    ) -> httpx.Response:
        return await http.post(
            path,
            json=self.refund_callback(refund_id, **overrides),
            headers={"x-callback-token": token, "content-type": "application/json"},
        )

    async def create_refund(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "INVALID_API_KEY", "API key is invalid")
        body = await request.json()
        try:
            sdk_check(CreateRefund, body)
        except ContractError as error:
            return _error(400, "API_VALIDATION_ERROR", str(error))
        invoice = self.invoices.get(str(body.get("invoice_id")))
        if invoice is None or invoice["status"] not in ("PAID", "SETTLED"):
            return _error(404, "DATA_NOT_FOUND", "no paid invoice with this invoice_id")
        key = request.headers.get("idempotency-key")
        paid = float(invoice.get("paid_amount", invoice["amount"]))
        refused = self._refusal(body, key, paid, invoice["id"])
        if refused is not None:
            return refused

        def make(body: dict[str, Any], for_user_id: str | None) -> dict[str, Any]:
            payment_id = str(invoice.get("payment_id", f"qrpy_{invoice['id']}"))
            return self._refund(
                body, key, paid=paid, payment_id=payment_id, invoice_id=invoice["id"]
            )

        return await self._created(request, body, make)

    async def create_qr_refund(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "INVALID_API_KEY", "API key is invalid")
        if request.headers.get("api-version") != "2022-07-31":
            return _error(400, "API_VALIDATION_ERROR", "api-version 2022-07-31 is required")
        body = await request.json()
        qrpy_id = request.path_params["qrpy_id"]
        try:
            documented_check("QRRefund", QR_REFUND_FIELDS, body)
        except ContractError as error:
            return _error(400, "API_VALIDATION_ERROR", str(error))
        paid = [
            p
            for ps in self.qr_payments.values()
            for p in ps
            if p["id"] == qrpy_id and p["status"] == "SUCCEEDED"
        ]
        if not paid:
            return _error(404, "DATA_NOT_FOUND", "no succeeded QR payment with this id")
        key = request.headers.get("idempotency-key")
        refused = self._refusal(body, key, float(paid[0]["amount"]), qrpy_id)
        if refused is not None:
            return refused

        def make(body: dict[str, Any], for_user_id: str | None) -> dict[str, Any]:
            return self._refund(
                body, key, paid=float(paid[0]["amount"]), payment_id=qrpy_id, invoice_id=None
            )

        return await self._created(request, body, make)

    async def control_refund(self, request: Request) -> Response:
        """`POST /_fake/refunds/{id}/{status}`: Xendit ends the refund; the callback goes to
        `webhook_url` + `/refund` over real HTTP."""
        refund_id = request.path_params["refund_id"]
        if refund_id not in self.refunds:
            return _error(404, "DATA_NOT_FOUND", "refund not found")
        self.end_refund(refund_id, request.path_params["status"].upper(), "REFUND_FAILED")
        if self.webhook_url is None:
            return JSONResponse({"delivered": False, "refund": self.refunds[refund_id]})
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await self.deliver_refund(
                http, refund_id, self.callback_token, f"{self.webhook_url}/refund"
            )
        return JSONResponse({"delivered": True, "webhook_status": answer.status_code})

    # -- HTTP -----------------------------------------------------------------------------
    def _authorized(self, request: Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{SECRET_KEY}:".encode()).decode()
        return request.headers.get("authorization") == expected

    async def _failure(self) -> Response | None:
        if not self.failures:
            return None
        failure = self.failures.pop(0)
        if failure.delay:
            await asyncio.sleep(failure.delay)
        if failure.status is not None:
            code = "SERVER_ERROR" if failure.status >= 500 else "API_VALIDATION_ERROR"
            return _error(failure.status, code, "injected by the test")
        return None

    async def create_invoice(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "INVALID_API_KEY", "API key is invalid")
        body = await request.json()
        try:
            sdk_check(CreateInvoiceRequest, body)
        except ContractError as error:
            return _error(400, "API_VALIDATION_ERROR", str(error))
        return await self._created(request, body, self._create)

    async def create_qr_code(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "INVALID_API_KEY", "API key is invalid")
        if request.headers.get("api-version") != "2022-07-31":
            return _error(400, "API_VALIDATION_ERROR", "api-version 2022-07-31 is required")
        body = await request.json()
        try:
            qr_request_check(body)
        except (ContractError, ValueError) as error:
            return _error(400, "API_VALIDATION_ERROR", str(error))
        return await self._created(request, body, self._create_qr)

    # -- split rules ------------------------------------------------------------------------
    async def create_split_rule(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "INVALID_API_KEY", "API key is invalid")
        self.split_rule_posts += 1
        body = await request.json()
        try:
            split_rule_check(body)
        except ContractError as error:
            return _error(400, "API_VALIDATION_ERROR", str(error))
        references = [r["reference_id"] for r in body["routes"]]
        if len(set(references)) != len(references):
            return _error(400, "DUPLICATE_ERROR", "reference_id is not unique for the routes")
        key = request.headers.get("idempotency-key")
        if key and key in self.split_rule_keys:
            return JSONResponse(self.split_rule_keys[key])
        failed = await self._failure()
        if failed is not None:
            return failed
        now = _iso(_now())
        rule = {
            "id": f"splitru_{uuid.uuid4()}",
            "name": body["name"],
            "description": body.get("description"),
            "routes": body["routes"],
            "created": now,
            "updated": now,
            "metadata": body.get("metadata") or {},
        }
        self.split_rules[rule["id"]] = rule
        if key:
            self.split_rule_keys[key] = rule
        return JSONResponse(rule)

    def _split_refused(self, request: Request, reference: str, amount: Any) -> Response | None:
        """Check `with-split-rule` on a payment's creation; record what the rule moves."""
        rule_id = request.headers.get("with-split-rule")
        if rule_id is None:
            return None
        rule = self.split_rules.get(rule_id)
        if rule is None:
            return _error(404, "DATA_NOT_FOUND", f"split rule {rule_id} not found")
        moved = {r["reference_id"]: route_amount(r, int(amount)) for r in rule["routes"]}
        if sum(moved.values()) > int(amount):
            return _error(400, "INVALID_AMOUNT", "split rule routes exceed the payment amount")
        self.moved[reference] = moved
        return None

    async def _created(self, request: Request, body: dict[str, Any], make: Any) -> Response:
        """Record the request and create, honouring an injected failure."""
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        refused = self._split_refused(
            request, str(body.get("external_id") or body.get("reference_id")), body["amount"]
        )
        if refused is not None:
            return refused
        failure = self.failures.pop(0) if self.failures else None
        if failure is None:
            return JSONResponse(make(body, request.headers.get("for-user-id")))
        if failure.delay:
            # Xendit got the request and made the object, but answers after we gave up.
            created = make(body, request.headers.get("for-user-id"))
            await asyncio.sleep(failure.delay)
            if failure.status is None:
                return JSONResponse(created)
        assert failure.status is not None
        code = "SERVER_ERROR" if failure.status >= 500 else "API_VALIDATION_ERROR"
        return _error(failure.status, code, "injected by the test")

    async def get_qr_code(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "INVALID_API_KEY", "API key is invalid")
        failed = await self._failure()
        if failed is not None:
            return failed
        qr = self.qr_codes.get(request.path_params["qr_id"])
        if qr is None:
            return _error(404, "DATA_NOT_FOUND", "QR code not found")
        return JSONResponse(qr)

    async def list_qr_payments(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "INVALID_API_KEY", "API key is invalid")
        failed = await self._failure()
        if failed is not None:
            return failed
        payments = self.qr_payments.get(request.path_params["qr_id"])
        if payments is None:
            return _error(404, "DATA_NOT_FOUND", "QR code not found")
        return JSONResponse({"data": payments, "has_more": False})

    async def control_qr(self, request: Request) -> Response:
        """`POST /_fake/qr_codes/{id}/pay`: a guest scans and pays; the `qr.payment`
        callback goes to `webhook_url` + `/qr` over real HTTP."""
        qr_id = request.path_params["qr_id"]
        if qr_id not in self.qr_codes:
            return _error(404, "DATA_NOT_FOUND", "QR code not found")
        payment = self.pay_qr(qr_id)
        if self.webhook_url is None:
            return JSONResponse({"delivered": False, "payment": payment})
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await self.deliver_qr(
                http, payment, self.callback_token, f"{self.webhook_url}/qr"
            )
        return JSONResponse({"delivered": True, "webhook_status": answer.status_code})

    async def get_invoice(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "INVALID_API_KEY", "API key is invalid")
        failed = await self._failure()
        if failed is not None:
            return failed
        invoice = self.invoices.get(request.path_params["invoice_id"])
        if invoice is None:
            return _error(404, "INVOICE_NOT_FOUND_ERROR", "Could not find invoice")
        sdk_check(SdkInvoice, invoice)
        return JSONResponse(invoice)

    async def list_invoices(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "INVALID_API_KEY", "API key is invalid")
        external_id = request.query_params.get("external_id")
        found = [i for i in self.invoices.values() if i["external_id"] == external_id]
        return JSONResponse(found)

    async def control(self, request: Request) -> Response:
        """`POST /_fake/invoices/{id}/{status}`: a guest pays (or it expires), and the
        callback goes to `webhook_url` over real HTTP, as Xendit's notifier would send it."""
        invoice_id = request.path_params["invoice_id"]
        if invoice_id not in self.invoices:
            return _error(404, "INVOICE_NOT_FOUND_ERROR", "Could not find invoice")
        self.set_status(invoice_id, request.path_params["status"].upper())
        if self.webhook_url is None:
            return JSONResponse({"delivered": False, "invoice": self.invoices[invoice_id]})
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await self.deliver(http, invoice_id, self.callback_token, self.webhook_url)
        return JSONResponse({"delivered": True, "webhook_status": answer.status_code})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/_fake/invoices/{invoice_id}/{status}", self.control, methods=["POST"]),
                Route("/_fake/qr_codes/{qr_id}/pay", self.control_qr, methods=["POST"]),
                Route("/_fake/refunds/{refund_id}/{status}", self.control_refund, methods=["POST"]),
                Route("/refunds", self.create_refund, methods=["POST"]),
                Route(
                    "/qr_codes/payments/{qrpy_id}/refunds",
                    self.create_qr_refund,
                    methods=["POST"],
                ),
                Route("/qr_codes", self.create_qr_code, methods=["POST"]),
                Route("/split_rules", self.create_split_rule, methods=["POST"]),
                Route("/qr_codes/{qr_id}", self.get_qr_code, methods=["GET"]),
                Route("/qr_codes/{qr_id}/payments", self.list_qr_payments, methods=["GET"]),
                Route("/v2/invoices", self.create_invoice, methods=["POST"]),
                Route("/v2/invoices", self.list_invoices, methods=["GET"]),
                Route("/v2/invoices/{invoice_id}", self.get_invoice, methods=["GET"]),
            ]
        )


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


class RunningFake:
    """The fake served by uvicorn on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, port: int = 0) -> None:
        self.fake = FakeXendit()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        port = self._sock.getsockname()[1]
        self.fake.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            self.fake.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> FakeXendit:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Xendit did not start")
            time.sleep(0.01)
        return self.fake

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()


def main() -> None:
    """Run the fake on its own for a manual end-to-end try (see docs/payments.md)."""
    import argparse

    parser = argparse.ArgumentParser(
        description="A local fake of Xendit's Invoice, QR Codes and refund APIs "
        "(callbacks: QR to webhook + /qr, refunds to webhook + /refund)."
    )
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--webhook", default="http://127.0.0.1:8000/api/webhooks/xendit")
    parser.add_argument("--token", default="dev-xendit-callback-token")
    args = parser.parse_args()
    running = RunningFake(args.port)
    running.fake.webhook_url = args.webhook
    running.fake.callback_token = args.token
    print(f"fake Xendit on {running.fake.url} (secret key {SECRET_KEY}); Ctrl-C stops it")
    running.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        running.stop()


if __name__ == "__main__":
    main()
