"""Every booth operation as a `Call`, built once and sent by either client.

Ids and idempotency keys are chosen here, when the call is built, so every retry of it
sends the same ones (see `core` for which calls are retried when).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from boothcloud_client.core import Call
from boothcloud_client.models import (
    Activation,
    ActivationList,
    Heartbeat,
    Page,
    Payment,
    PaymentMethod,
    Photo,
    Printer,
    PrinterState,
    PrintStatus,
    ServerVersion,
    Session,
    ValidationResult,
    build,
)

T = TypeVar("T")
JPEG = "image/jpeg"  # what the server signs its own keys' upload URLs for


def _one(cls: type[T]) -> Callable[[httpx.Response], T]:
    return lambda response: build(cls, response.json())


def _page(cls: type[T]) -> Callable[[httpx.Response], Page[T]]:
    def read(response: httpx.Response) -> Page[T]:
        data = response.json()
        return Page(tuple(build(cls, item) for item in data["items"]), data.get("next_cursor"))

    return read


def _nothing(_: httpx.Response) -> None:
    return None


def _bytes(response: httpx.Response) -> bytes:
    return response.content


def _paging(
    cursor: str | None, limit: int | None, **more: str | int | None
) -> dict[str, str | int]:
    values: dict[str, str | int | None] = {"cursor": cursor, "limit": limit, **more}
    return {name: value for name, value in values.items() if value is not None}


def _body(**fields: Any) -> dict[str, Any]:
    """Only the fields given (None: leave them to the server's defaults)."""
    return {name: value for name, value in fields.items() if value is not None}


# Licenses and devices


def version() -> Call[ServerVersion]:
    return Call("GET", "/api/version", _one(ServerVersion), authenticated=False)


def validate(license_key: str, fingerprint: str | None) -> Call[ValidationResult]:
    body = _body(license_key=license_key, fingerprint=fingerprint)
    return Call(
        "POST", "/api/licenses/validate", _one(ValidationResult), json=body, authenticated=False
    )


def activate(fingerprint: str, name: str | None) -> Call[Activation]:
    """Replay-safe: the same fingerprint again answers 200 with the same activation."""
    body = _body(fingerprint=fingerprint, name=name)
    read = lambda response: Activation.from_json(response.json())  # noqa: E731
    return Call("POST", "/api/licenses/activations", read, json=body)


def activations() -> Call[ActivationList]:
    read = lambda response: ActivationList.from_json(response.json())  # noqa: E731
    return Call("GET", "/api/licenses/activations", read)


def deactivate(activation_id: str) -> Call[None]:
    return Call("DELETE", f"/api/licenses/activations/{activation_id}", _nothing, ok=(204,))


def public_key() -> Call[str]:
    read: Callable[[httpx.Response], str] = lambda response: str(  # noqa: E731
        response.json()["public_key_pem"]
    )
    return Call("GET", "/api/licenses/public-key", read, authenticated=False)


def heartbeat(
    activation_id: str,
    *,
    agent_version: str,
    free_disk_bytes: int | None,
    queue_depth: int,
    outbox_depth: int | None,
    printers: Sequence[PrinterState],
    certificate_expires_at: datetime | None,
) -> Call[Heartbeat]:
    """Replay-safe: a repeated heartbeat states the same facts again."""
    body = _body(
        agent_version=agent_version,
        free_disk_bytes=free_disk_bytes,
        queue_depth=queue_depth,
        outbox_depth=outbox_depth,
        certificate_expires_at=(
            certificate_expires_at.isoformat() if certificate_expires_at else None
        ),
    )
    body["printers"] = [printer.to_json() for printer in printers]
    read = lambda response: Heartbeat.from_json(response.json())  # noqa: E731
    return Call("POST", f"/api/licenses/activations/{activation_id}/heartbeat", read, json=body)


# Photos and the print queue


def create_photo(
    photo_id: uuid.UUID | str | None,
    *,
    r2_key: str | None,
    printer_id: str | None,
    session_id: str | None,
) -> Call[Photo]:
    """Replay-safe through the client-chosen id: the same id and body answer 200 with the
    same photo (a new id is drawn when none is given)."""
    body = _body(
        id=str(photo_id or uuid.uuid4()),
        r2_key=r2_key,
        printer_id=printer_id,
        session_id=session_id,
    )
    return Call("POST", "/api/photos", _one(Photo), json=body)


def upload(url: str, data: bytes, content_type: str) -> Call[None]:
    """PUT to a presigned URL: the same bytes to the same key again are harmless."""
    headers = {"Content-Type": content_type}
    return Call(
        "PUT", url, _nothing, headers=headers, content=data, external=True, ok=(200, 201, 204)
    )


def download(url: str) -> Call[bytes]:
    return Call("GET", url, _bytes, external=True, ok=(200,))


def confirm_uploaded(photo_id: str) -> Call[Photo]:
    return Call("POST", f"/api/photos/{photo_id}/uploaded", _one(Photo))


def get_photo(photo_id: str) -> Call[Photo]:
    return Call("GET", f"/api/photos/{photo_id}", _one(Photo))


def list_photos(
    *,
    print_status: PrintStatus | None,
    printer_id: str | None,
    uploaded: bool | None,
    cursor: str | None,
    limit: int | None,
) -> Call[Page[Photo]]:
    params = _paging(
        cursor,
        limit,
        print_status=print_status,
        printer_id=printer_id,
        uploaded=None if uploaded is None else str(uploaded).lower(),
    )
    return Call("GET", "/api/photos", _page(Photo), params=params)


def set_print_status(photo_id: str, status: PrintStatus) -> Call[Photo]:
    """Replay-safe in effect: a repeated move answers 409 `INVALID_TRANSITION`, which the
    clients resolve by reading the photo (see `Client.set_print_status`)."""
    return Call("PATCH", f"/api/photos/{photo_id}", _one(Photo), json={"print_status": status})


def claim(printer_id: str) -> Call[Photo | None]:
    """Not replay-safe: a repeated claim takes a second job (retried only when unsent)."""

    def read(response: httpx.Response) -> Photo | None:
        return None if response.status_code == 204 else build(Photo, response.json())

    return Call("POST", f"/api/printers/{printer_id}/claim", read, replay_safe=False, ok=(200, 204))


# Printers


def list_printers(cursor: str | None, limit: int | None) -> Call[Page[Printer]]:
    return Call("GET", "/api/printers", _page(Printer), params=_paging(cursor, limit))


def get_printer(printer_id: str) -> Call[Printer]:
    return Call("GET", f"/api/printers/{printer_id}", _one(Printer))


def create_printer(
    name: str, printer_type: str, connection_type: str, is_default: bool | None
) -> Call[Printer]:
    """Not replay-safe (no client id on printers): retried only when unsent."""
    body = _body(
        name=name, type=printer_type, connection_type=connection_type, is_default=is_default
    )
    return Call("POST", "/api/printers", _one(Printer), json=body, replay_safe=False)


# Payments


def create_payment(
    amount: int,
    *,
    method: PaymentMethod,
    description: str | None,
    payer_email: str | None,
    session_id: str | None,
    idempotency_key: str | None,
) -> Call[Payment]:
    """Replay-safe through `Idempotency-Key` (drawn here when not given)."""
    body = _body(
        amount=amount,
        method=method,
        description=description,
        payer_email=payer_email,
        session_id=session_id,
    )
    headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    return Call("POST", "/api/payments", _one(Payment), json=body, headers=headers)


def get_payment(payment_id: str, wait: int) -> Call[Payment]:
    """`wait` > 0 long-polls (up to 30 s): the read timeout grows by as much."""
    params: Mapping[str, int] = {"wait": wait} if wait else {}
    return Call(
        "GET", f"/api/payments/{payment_id}", _one(Payment), params=params, extra_timeout=wait
    )


def payment_qr_svg(payment_id: str) -> Call[bytes]:
    return Call("GET", f"/api/payments/{payment_id}/qr.svg", _bytes)


# Sessions


def open_session(activation_id: str, payment_id: str | None) -> Call[Session]:
    """Not replay-safe (a repeat opens a second session): retried only when unsent."""
    body = _body(activation_id=activation_id, payment_id=payment_id)
    return Call("POST", "/api/sessions", _one(Session), json=body, replay_safe=False)


def get_session(session_id: str) -> Call[Session]:
    return Call("GET", f"/api/sessions/{session_id}", _one(Session))


def patch_session(session_id: str, *, close: bool, payment_id: str | None) -> Call[Session]:
    body = _body(status="closed" if close else None, payment_id=payment_id)
    return Call("PATCH", f"/api/sessions/{session_id}", _one(Session), json=body)
