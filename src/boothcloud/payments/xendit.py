"""A small async client for Xendit's Invoice API (`/v2/invoices`), QR Codes API
(`/qr_codes`, version `2022-07-31`, for dynamic QRIS), xenPlatform split rules
(`POST /split_rules`; a payment names its rule in the `with-split-rule` header) and refunds
(`POST /refunds` for invoices, `POST /qr_codes/payments/{id}/refunds` for QR payments).

Why not the official SDK at runtime: it is synchronous (it would block the event loop)
and pulls in urllib3. This client speaks the same documented wire format with httpx,
with explicit timeouts, and turns every failure into one `XenditError` whose `cause`
(`timeout`, `unreachable`, `http_4xx`, `http_5xx`, `bad_response`) the API can name.
The tests check every request it sends against the SDK's models.

A client is opened per call: the app's lifespan has no hook for domain clients, and a
photobooth sends a handful of invoices a minute, so connection reuse is not worth a
client that outlives its event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from boothcloud.settings import Settings


class XenditError(Exception):
    """Xendit did not give a usable answer; `cause` says why, `detail` says more."""

    def __init__(self, cause: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"{cause}: {detail}")
        self.cause = cause
        self.detail = detail
        self.status = status


@dataclass(frozen=True, slots=True)
class Invoice:
    """The parts of a Xendit invoice this service uses."""

    id: str
    external_id: str
    status: str
    amount: float
    invoice_url: str | None
    expiry_date: str | None
    paid_amount: float | None
    paid_at: str | None
    payment_method: str | None
    payment_channel: str | None
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, data: Any) -> Invoice:
        if not isinstance(data, dict):
            raise XenditError("bad_response", "invoice is not a JSON object")
        try:
            return cls(
                id=str(data["id"]),
                external_id=str(data["external_id"]),
                status=str(data["status"]),
                amount=float(data["amount"]),
                invoice_url=_opt_str(data.get("invoice_url")),
                expiry_date=_opt_str(data.get("expiry_date")),
                paid_amount=_opt_float(data.get("paid_amount")),
                paid_at=_opt_str(data.get("paid_at")),
                payment_method=_opt_str(data.get("payment_method")),
                payment_channel=_opt_str(data.get("payment_channel")),
                raw=data,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise XenditError("bad_response", f"invoice lacks a field: {error}") from error


QR_API_VERSION = "2022-07-31"


@dataclass(frozen=True, slots=True)
class QrCode:
    """The parts of a Xendit QR code (`POST /qr_codes`, `GET /qr_codes/{id}`) used here."""

    id: str
    reference_id: str
    status: str  # ACTIVE or INACTIVE
    amount: float
    qr_string: str
    expires_at: str | None

    @classmethod
    def from_json(cls, data: Any) -> QrCode:
        if not isinstance(data, dict):
            raise XenditError("bad_response", "QR code is not a JSON object")
        try:
            return cls(
                id=str(data["id"]),
                reference_id=str(data["reference_id"]),
                status=str(data["status"]),
                amount=float(data["amount"]),
                qr_string=str(data["qr_string"]),
                expires_at=_opt_str(data.get("expires_at")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise XenditError("bad_response", f"QR code lacks a field: {error}") from error


@dataclass(frozen=True, slots=True)
class SplitRule:
    """The parts of a created split rule used here: its id (`splitru_...`)."""

    id: str
    routes: list[dict[str, Any]]

    @classmethod
    def from_json(cls, data: Any) -> SplitRule:
        if not isinstance(data, dict):
            raise XenditError("bad_response", "split rule is not a JSON object")
        routes = data.get("routes")
        if not isinstance(data.get("id"), str) or not isinstance(routes, list):
            raise XenditError("bad_response", "split rule lacks `id` or `routes`")
        return cls(id=data["id"], routes=routes)


@dataclass(frozen=True, slots=True)
class XenditRefund:
    """The parts of a Xendit refund (`POST /refunds`, or a QR payment's refund) used here."""

    id: str
    status: str  # PENDING, SUCCEEDED or FAILED
    amount: float
    failure_code: str | None

    @classmethod
    def from_json(cls, data: Any) -> XenditRefund:
        if not isinstance(data, dict):
            raise XenditError("bad_response", "refund is not a JSON object")
        try:
            return cls(
                id=str(data["id"]),
                status=str(data["status"]),
                amount=float(data["amount"]),
                failure_code=_opt_str(data.get("failure_code")),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise XenditError("bad_response", f"refund lacks a field: {error}") from error


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


class XenditClient:
    def __init__(self, base_url: str, secret_key: str, timeout_seconds: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(secret_key, "")
        self._timeout = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0))

    @classmethod
    def from_settings(cls, settings: Settings) -> XenditClient | None:
        """None when no secret key is configured: payments then answer 503."""
        if settings.xendit_secret_key is None:
            return None
        key = settings.xendit_secret_key.get_secret_value()
        if not key:
            return None
        return cls(settings.xendit_base_url, key, settings.xendit_timeout_seconds)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        for_user_id: str | None,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        api_version: str | None = None,
        split_rule: str | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if api_version:
            headers["api-version"] = api_version
        if for_user_id:
            headers["for-user-id"] = for_user_id
        if split_rule:
            headers["with-split-rule"] = split_rule
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, auth=self._auth, timeout=self._timeout
            ) as http:
                response = await http.request(
                    method, path, json=json, params=params, headers=headers
                )
        except httpx.TimeoutException as error:
            raise XenditError(
                "timeout", f"no answer from Xendit in time ({method} {path})"
            ) from error
        except httpx.HTTPError as error:
            raise XenditError("unreachable", f"{type(error).__name__}: {error}") from error
        if response.status_code >= 400:
            cause = "http_5xx" if response.status_code >= 500 else "http_4xx"
            raise XenditError(cause, _error_message(response), response.status_code)
        try:
            return response.json()
        except ValueError as error:
            raise XenditError("bad_response", "Xendit answered with invalid JSON") from error

    async def create_invoice(
        self, payload: dict[str, Any], for_user_id: str | None, split_rule: str | None = None
    ) -> Invoice:
        data = await self._request(
            "POST", "/v2/invoices", json=payload, for_user_id=for_user_id, split_rule=split_rule
        )
        return Invoice.from_json(data)

    async def create_split_rule(self, payload: dict[str, Any], idempotency_key: str) -> SplitRule:
        """`POST /split_rules` on the master account (no `for-user-id`): rules belong to
        the platform and are named by any sub-account's payment."""
        data = await self._request(
            "POST", "/split_rules", json=payload, for_user_id=None, idempotency_key=idempotency_key
        )
        return SplitRule.from_json(data)

    async def get_invoice(self, invoice_id: str, for_user_id: str | None) -> Invoice:
        data = await self._request("GET", f"/v2/invoices/{invoice_id}", for_user_id=for_user_id)
        return Invoice.from_json(data)

    async def find_by_external_id(self, external_id: str, for_user_id: str | None) -> list[Invoice]:
        """Invoices Xendit holds for our payment id: finds one created by a timed-out call."""
        data = await self._request(
            "GET", "/v2/invoices", params={"external_id": external_id}, for_user_id=for_user_id
        )
        if not isinstance(data, list):
            raise XenditError("bad_response", "invoice list is not a JSON array")
        return [Invoice.from_json(item) for item in data]

    async def create_qr_code(
        self, payload: dict[str, Any], for_user_id: str | None, split_rule: str | None = None
    ) -> QrCode:
        data = await self._request(
            "POST",
            "/qr_codes",
            json=payload,
            for_user_id=for_user_id,
            api_version=QR_API_VERSION,
            split_rule=split_rule,
        )
        return QrCode.from_json(data)

    async def qr_payments(self, qr_id: str, for_user_id: str | None) -> list[dict[str, Any]]:
        """`GET /qr_codes/{id}/payments`: the payments made on a QR code (a dynamic one
        takes at most one), in the shape of the `qr.payment` callback's `data`."""
        data = await self._request(
            "GET",
            f"/qr_codes/{qr_id}/payments",
            for_user_id=for_user_id,
            api_version=QR_API_VERSION,
        )
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise XenditError("bad_response", "QR payment list has no `data` array")
        return items

    async def create_refund(
        self, payload: dict[str, Any], idempotency_key: str, for_user_id: str | None
    ) -> XenditRefund:
        """`POST /refunds` (an invoice's payment: `invoice_id` in the body)."""
        data = await self._request(
            "POST",
            "/refunds",
            json=payload,
            for_user_id=for_user_id,
            idempotency_key=idempotency_key,
        )
        return XenditRefund.from_json(data)

    async def create_qr_refund(
        self,
        qr_payment_id: str,
        payload: dict[str, Any],
        idempotency_key: str,
        for_user_id: str | None,
    ) -> XenditRefund:
        """`POST /qr_codes/payments/{qrpy_id}/refunds`: a QRIS payment's refund."""
        data = await self._request(
            "POST",
            f"/qr_codes/payments/{qr_payment_id}/refunds",
            json=payload,
            for_user_id=for_user_id,
            api_version=QR_API_VERSION,
            idempotency_key=idempotency_key,
        )
        return XenditRefund.from_json(data)


def _error_message(response: httpx.Response) -> str:
    """Xendit errors look like `{"error_code": "...", "message": "..."}`."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        code = body.get("error_code")
        message = body.get("message")
        if code or message:
            return f"HTTP {response.status_code} {code or ''}: {message or ''}".strip()
    return f"HTTP {response.status_code}"
