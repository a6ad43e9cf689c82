"""`Client` (blocking) and `AsyncClient` (asyncio): the same operations, one implementation.

Each method builds its `Call` in `calls` and hands it to `_send`, which is the only part
that differs: the sync one blocks in `time.sleep`, the async one awaits `asyncio.sleep`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Self, TypeVar

import httpx

from boothcloud_client import calls
from boothcloud_client.core import USER_AGENT, Call, Core, RetryPolicy, unreachable
from boothcloud_client.errors import BoothcloudError
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
)

T = TypeVar("T")


def _already(failure: BoothcloudError) -> bool:
    """A print-status move refused because the photo is not where the move starts."""
    return failure.status == 409 and failure.code == "INVALID_TRANSITION"


class Client:
    """A booth's blocking client. `license_key` authenticates as the booth (`License`);
    without it only the public calls (`validate`, `version`, `public_key`) work."""

    def __init__(
        self,
        base_url: str,
        license_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._core = Core(base_url, license_key, retry=retry, timeout=timeout)
        self._http = httpx.Client(headers={"User-Agent": USER_AGENT}, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: Call[T]) -> T:
        """Send one call, retrying transient failures as `RetryPolicy` allows."""
        request = self._core.request(self._http, call)  # once: every attempt sends it
        attempt = 1
        while True:
            try:
                try:
                    response = self._http.send(request)
                except httpx.TransportError as error:
                    raise unreachable(error) from error
                return self._core.finish(call, response)
            except BoothcloudError as failure:
                delay = self._core.retry.delay(call, failure, attempt)
                if delay is None:
                    raise
                time.sleep(delay)
                attempt += 1

    # Licenses and devices

    def version(self) -> ServerVersion:
        """The server's API version (every call checks it too, from a response header)."""
        return self.send(calls.version())

    def validate(self, license_key: str, fingerprint: str | None = None) -> ValidationResult:
        return self.send(calls.validate(license_key, fingerprint))

    def activate(self, fingerprint: str, name: str | None = None) -> Activation:
        return self.send(calls.activate(fingerprint, name))

    def activations(self) -> ActivationList:
        return self.send(calls.activations())

    def deactivate(self, activation_id: str) -> None:
        self.send(calls.deactivate(activation_id))

    def public_key(self) -> str:
        """The Ed25519 public key (PEM) that verifies certificates offline."""
        return self.send(calls.public_key())

    def heartbeat(
        self,
        activation_id: str,
        *,
        agent_version: str,
        free_disk_bytes: int | None = None,
        queue_depth: int = 0,
        outbox_depth: int | None = None,
        printers: Sequence[PrinterState] = (),
        certificate_expires_at: datetime | None = None,
    ) -> Heartbeat:
        return self.send(
            calls.heartbeat(
                activation_id,
                agent_version=agent_version,
                free_disk_bytes=free_disk_bytes,
                queue_depth=queue_depth,
                outbox_depth=outbox_depth,
                printers=printers,
                certificate_expires_at=certificate_expires_at,
            )
        )

    # Photos and the print queue

    def create_photo(
        self,
        photo_id: uuid.UUID | str | None = None,
        *,
        r2_key: str | None = None,
        printer_id: str | None = None,
        session_id: str | None = None,
    ) -> Photo:
        return self.send(
            calls.create_photo(
                photo_id, r2_key=r2_key, printer_id=printer_id, session_id=session_id
            )
        )

    def upload(self, url: str, data: bytes, content_type: str = calls.JPEG) -> None:
        """PUT the bytes to a presigned URL (a photo's `upload_url`)."""
        self.send(calls.upload(url, data, content_type))

    def download(self, url: str) -> bytes:
        """GET a presigned URL (a photo's `download_url`)."""
        return self.send(calls.download(url))

    def confirm_uploaded(self, photo_id: str) -> Photo:
        return self.send(calls.confirm_uploaded(photo_id))

    def log_photo(
        self,
        data: bytes,
        photo_id: uuid.UUID | str | None = None,
        *,
        printer_id: str | None = None,
        session_id: str | None = None,
    ) -> Photo:
        """Log a JPEG, upload it and confirm it: the whole capture in one call. With the
        same `photo_id`, calling it again after any failure finishes the job once."""
        photo = self.create_photo(
            photo_id or uuid.uuid4(), printer_id=printer_id, session_id=session_id
        )
        if photo.uploaded_at is None and photo.upload_url is not None:
            self.upload(photo.upload_url, data)
        return self.confirm_uploaded(photo.id)

    def get_photo(self, photo_id: str) -> Photo:
        return self.send(calls.get_photo(photo_id))

    def list_photos(
        self,
        *,
        print_status: PrintStatus | None = None,
        printer_id: str | None = None,
        uploaded: bool | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Photo]:
        return self.send(
            calls.list_photos(
                print_status=print_status,
                printer_id=printer_id,
                uploaded=uploaded,
                cursor=cursor,
                limit=limit,
            )
        )

    def set_print_status(self, photo_id: str, status: PrintStatus) -> Photo:
        """Move the photo's print status. A photo already in `status` (a retried report
        whose first answer was lost) answers the photo, not an error."""
        try:
            return self.send(calls.set_print_status(photo_id, status))
        except BoothcloudError as failure:
            if not _already(failure):
                raise
            photo = self.get_photo(photo_id)
            if photo.print_status != status:
                raise
            return photo

    def claim(self, printer_id: str) -> Photo | None:
        """The next photo for this printer (now `printing`, with `download_url`), or None."""
        return self.send(calls.claim(printer_id))

    # Printers

    def printers(self, cursor: str | None = None, limit: int | None = None) -> Page[Printer]:
        return self.send(calls.list_printers(cursor, limit))

    def get_printer(self, printer_id: str) -> Printer:
        return self.send(calls.get_printer(printer_id))

    def create_printer(
        self,
        name: str,
        printer_type: str = "other",
        connection_type: str = "usb",
        *,
        is_default: bool | None = None,
    ) -> Printer:
        return self.send(calls.create_printer(name, printer_type, connection_type, is_default))

    # Payments

    def create_payment(
        self,
        amount: int,
        *,
        method: PaymentMethod = "qris",
        description: str | None = None,
        payer_email: str | None = None,
        session_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        return self.send(
            calls.create_payment(
                amount,
                method=method,
                description=description,
                payer_email=payer_email,
                session_id=session_id,
                idempotency_key=idempotency_key,
            )
        )

    def get_payment(self, payment_id: str, *, wait: int = 0) -> Payment:
        """`wait` (0-30 s): answer as soon as the status changes, or after `wait`."""
        return self.send(calls.get_payment(payment_id, wait))

    def payment_qr_svg(self, payment_id: str) -> bytes:
        return self.send(calls.payment_qr_svg(payment_id))

    # Sessions

    def open_session(self, activation_id: str, payment_id: str | None = None) -> Session:
        return self.send(calls.open_session(activation_id, payment_id))

    def get_session(self, session_id: str) -> Session:
        return self.send(calls.get_session(session_id))

    def close_session(self, session_id: str) -> Session:
        return self.send(calls.patch_session(session_id, close=True, payment_id=None))

    def attach_payment(self, session_id: str, payment_id: str) -> Session:
        return self.send(calls.patch_session(session_id, close=False, payment_id=payment_id))


class AsyncClient:
    """The asyncio twin of `Client`: the same methods, awaited."""

    def __init__(
        self,
        base_url: str,
        license_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._core = Core(base_url, license_key, retry=retry, timeout=timeout)
        self._http = httpx.AsyncClient(headers={"User-Agent": USER_AGENT}, transport=transport)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send one call, retrying transient failures as `RetryPolicy` allows."""
        request = self._core.request(self._http, call)  # once: every attempt sends it
        attempt = 1
        while True:
            try:
                try:
                    response = await self._http.send(request)
                except httpx.TransportError as error:
                    raise unreachable(error) from error
                return self._core.finish(call, response)
            except BoothcloudError as failure:
                delay = self._core.retry.delay(call, failure, attempt)
                if delay is None:
                    raise
                await asyncio.sleep(delay)
                attempt += 1

    async def version(self) -> ServerVersion:
        return await self.send(calls.version())

    async def validate(self, license_key: str, fingerprint: str | None = None) -> ValidationResult:
        return await self.send(calls.validate(license_key, fingerprint))

    async def activate(self, fingerprint: str, name: str | None = None) -> Activation:
        return await self.send(calls.activate(fingerprint, name))

    async def activations(self) -> ActivationList:
        return await self.send(calls.activations())

    async def deactivate(self, activation_id: str) -> None:
        await self.send(calls.deactivate(activation_id))

    async def public_key(self) -> str:
        return await self.send(calls.public_key())

    async def heartbeat(
        self,
        activation_id: str,
        *,
        agent_version: str,
        free_disk_bytes: int | None = None,
        queue_depth: int = 0,
        outbox_depth: int | None = None,
        printers: Sequence[PrinterState] = (),
        certificate_expires_at: datetime | None = None,
    ) -> Heartbeat:
        return await self.send(
            calls.heartbeat(
                activation_id,
                agent_version=agent_version,
                free_disk_bytes=free_disk_bytes,
                queue_depth=queue_depth,
                outbox_depth=outbox_depth,
                printers=printers,
                certificate_expires_at=certificate_expires_at,
            )
        )

    async def create_photo(
        self,
        photo_id: uuid.UUID | str | None = None,
        *,
        r2_key: str | None = None,
        printer_id: str | None = None,
        session_id: str | None = None,
    ) -> Photo:
        return await self.send(
            calls.create_photo(
                photo_id, r2_key=r2_key, printer_id=printer_id, session_id=session_id
            )
        )

    async def upload(self, url: str, data: bytes, content_type: str = calls.JPEG) -> None:
        await self.send(calls.upload(url, data, content_type))

    async def download(self, url: str) -> bytes:
        return await self.send(calls.download(url))

    async def confirm_uploaded(self, photo_id: str) -> Photo:
        return await self.send(calls.confirm_uploaded(photo_id))

    async def log_photo(
        self,
        data: bytes,
        photo_id: uuid.UUID | str | None = None,
        *,
        printer_id: str | None = None,
        session_id: str | None = None,
    ) -> Photo:
        photo = await self.create_photo(
            photo_id or uuid.uuid4(), printer_id=printer_id, session_id=session_id
        )
        if photo.uploaded_at is None and photo.upload_url is not None:
            await self.upload(photo.upload_url, data)
        return await self.confirm_uploaded(photo.id)

    async def get_photo(self, photo_id: str) -> Photo:
        return await self.send(calls.get_photo(photo_id))

    async def list_photos(
        self,
        *,
        print_status: PrintStatus | None = None,
        printer_id: str | None = None,
        uploaded: bool | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Photo]:
        return await self.send(
            calls.list_photos(
                print_status=print_status,
                printer_id=printer_id,
                uploaded=uploaded,
                cursor=cursor,
                limit=limit,
            )
        )

    async def set_print_status(self, photo_id: str, status: PrintStatus) -> Photo:
        try:
            return await self.send(calls.set_print_status(photo_id, status))
        except BoothcloudError as failure:
            if not _already(failure):
                raise
            photo = await self.get_photo(photo_id)
            if photo.print_status != status:
                raise
            return photo

    async def claim(self, printer_id: str) -> Photo | None:
        return await self.send(calls.claim(printer_id))

    async def printers(self, cursor: str | None = None, limit: int | None = None) -> Page[Printer]:
        return await self.send(calls.list_printers(cursor, limit))

    async def get_printer(self, printer_id: str) -> Printer:
        return await self.send(calls.get_printer(printer_id))

    async def create_printer(
        self,
        name: str,
        printer_type: str = "other",
        connection_type: str = "usb",
        *,
        is_default: bool | None = None,
    ) -> Printer:
        return await self.send(
            calls.create_printer(name, printer_type, connection_type, is_default)
        )

    async def create_payment(
        self,
        amount: int,
        *,
        method: PaymentMethod = "qris",
        description: str | None = None,
        payer_email: str | None = None,
        session_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        return await self.send(
            calls.create_payment(
                amount,
                method=method,
                description=description,
                payer_email=payer_email,
                session_id=session_id,
                idempotency_key=idempotency_key,
            )
        )

    async def get_payment(self, payment_id: str, *, wait: int = 0) -> Payment:
        return await self.send(calls.get_payment(payment_id, wait))

    async def payment_qr_svg(self, payment_id: str) -> bytes:
        return await self.send(calls.payment_qr_svg(payment_id))

    async def open_session(self, activation_id: str, payment_id: str | None = None) -> Session:
        return await self.send(calls.open_session(activation_id, payment_id))

    async def get_session(self, session_id: str) -> Session:
        return await self.send(calls.get_session(session_id))

    async def close_session(self, session_id: str) -> Session:
        return await self.send(calls.patch_session(session_id, close=True, payment_id=None))

    async def attach_payment(self, session_id: str, payment_id: str) -> Session:
        return await self.send(calls.patch_session(session_id, close=False, payment_id=payment_id))


__all__ = ["AsyncClient", "Client"]
