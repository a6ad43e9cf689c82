"""License rules: Keygen-style validation codes, device limits, signed activations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from boothcloud.auth import Caller, not_found
from boothcloud.customers.repository import tier_case
from boothcloud.db.base import Database, Row
from boothcloud.errors import Conflict, invalid
from boothcloud.ids import new_id
from boothcloud.licenses import repository
from boothcloud.licenses.certificates import CertificateSigner, certificate_claims
from boothcloud.licenses.schemas import (
    Activation,
    ActivationCreate,
    ActivationList,
    ActivationPage,
    ActivationWithCertificate,
    DevicePrinter,
    DevicePrinterPage,
    DeviceStatus,
    HeartbeatAnswer,
    HeartbeatCreate,
    IssuedCertificate,
    ValidateRequest,
    ValidateResponse,
)
from boothcloud.pagination import pack_cursor, page_of, unpack_cursor
from boothcloud.settings import Settings, tier_of
from boothcloud.timeutil import from_db, to_db, utcnow

_DETAILS = {
    "VALID": "license is valid",
    "NOT_FOUND": "no license with this key",
    "SUSPENDED": "license is suspended",
    "EXPIRED": "license has expired",
    "NOT_ACTIVATED": "this device is not activated for the license",
}


def _answer(
    code: str, row: Row | None = None, activation_id: str | None = None
) -> ValidateResponse:
    return ValidateResponse.model_validate(
        {
            "valid": code == "VALID",
            "code": code,
            "detail": _DETAILS[code],
            "customer_id": row["id"] if row else None,
            "license_type": row["license_type"] if row else None,
            "license_expires_at": row["license_expires_at"] if row else None,
            "activation_id": activation_id,
        }
    )


async def validate(db: Database, body: ValidateRequest) -> ValidateResponse:
    """Unknown keys are a normal answer (200, `valid: false`), not an error."""
    row = await repository.find_by_key(db, body.license_key)
    if row is None:
        return _answer("NOT_FOUND")
    problem = repository.license_problem(row)
    if problem is not None:
        return _answer(problem, row)
    if body.fingerprint is None:
        return _answer("VALID", row)
    activation = await repository.find_activation(db, str(row["id"]), body.fingerprint)
    if activation is None:
        return _answer("NOT_ACTIVATED", row)
    return _answer("VALID", row, str(activation["id"]))


def device_limit(settings: Settings, license_type: str | None) -> int | None:
    return settings.tier_device_limits[tier_of(license_type)]


def dead_cutoff(settings: Settings) -> datetime:
    """Devices last seen before this moment are DEAD (Keygen's heartbeat window)."""
    return utcnow() - timedelta(seconds=settings.heartbeat_window_seconds)


def device_status(row: Row, settings: Settings) -> DeviceStatus:
    """The one liveness rule; `seen_page` applies the same cutoff in SQL."""
    seen = row["last_seen_at"]
    return "ALIVE" if seen is not None and from_db(seen) >= dead_cutoff(settings) else "DEAD"


def _activation(row: Row, settings: Settings) -> dict[str, Any]:
    return {**row, "status": device_status(row, settings)}


def _issue(
    activation: Row, license_row: Row, signer: CertificateSigner, settings: Settings
) -> IssuedCertificate:
    expires_at = license_row["license_expires_at"]
    claims = certificate_claims(
        activation_id=str(activation["id"]),
        customer_id=str(activation["customer_id"]),
        license_type=str(license_row["license_type"]),
        fingerprint=str(activation["fingerprint"]),
        issued_at=utcnow(),
        license_expires_at=from_db(expires_at) if expires_at else None,
        ttl_days=settings.certificate_ttl_days,
        grace_days=settings.certificate_grace_days,
    )
    return IssuedCertificate(
        token=signer.sign(claims),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        grace_until=datetime.fromtimestamp(claims["grace_until"], UTC),
    )


async def activate(
    db: Database,
    caller: Caller,
    body: ActivationCreate,
    signer: CertificateSigner,
    settings: Settings,
) -> tuple[ActivationWithCertificate, bool]:
    """Activate this device; the same fingerprint again returns the existing activation.

    Returns the activation (with a fresh certificate) and whether it was created now. One
    batch (`activate_within_limit`): the tier, its device limit, the insert and the row
    with its license all come from one moment of the database, so the route needs no
    customer read of its own (and, with `PipelinedBoothDep`, no lookup for auth either).
    """
    assert caller.customer_id is not None
    row, created = await repository.activate_within_limit(
        db,
        new_id("act"),
        caller.customer_id,
        body.fingerprint,
        body.name,
        tier_case("license_type", lambda tier: device_limit(settings, tier)),
        to_db(utcnow()),
    )
    if row is None:
        raise not_found("customer", caller.customer_id)
    if row["id"] is None:
        tier = row["license_type"]
        raise Conflict(
            f"the {tier} tier allows {device_limit(settings, tier)} activated device(s); "
            "deactivate one first",
            code="TOO_MANY_DEVICES",
        )
    issued = _issue(row, row, signer, settings)
    answer = ActivationWithCertificate.model_validate(
        {
            **_activation(row, settings),
            "certificate": issued.token,
            "certificate_expires_at": issued.expires_at,
            "certificate_grace_until": issued.grace_until,
        }
    )
    return answer, created


async def list_activations(
    db: Database, caller: Caller, settings: Settings, customer_id: str | None
) -> ActivationList:
    """A booth sees its own customer's devices; the operator names the customer."""
    scoped = caller.scope(customer_id)
    if scoped is None:
        raise invalid("customer_id", "the operator must name the customer")
    license_row = await repository.get_license(db, scoped)
    if license_row is None:
        raise not_found("customer", scoped)
    rows = await repository.list_activations(db, scoped)
    return ActivationList(
        items=[Activation.model_validate(_activation(r, settings)) for r in rows],
        device_limit=device_limit(settings, str(license_row["license_type"])),
    )


async def deactivate(db: Database, caller: Caller, activation_id: str) -> None:
    caller.owned(await repository.get_activation(db, activation_id), "activation", activation_id)
    await repository.delete_activation(db, activation_id)


async def heartbeat(
    db: Database,
    caller: Caller,
    activation_id: str,
    body: HeartbeatCreate,
    signer: CertificateSigner,
    settings: Settings,
) -> HeartbeatAnswer:
    """Record a booth's heartbeat; refresh its certificate when it is close to expiry.

    Another customer's activation answers like an unknown one. The certificate is
    refreshed when the booth's own (`certificate_expires_at`, or none stated) expires
    within `certificate_refresh_days`: the booth says what it holds, so an answer lost on
    the way is simply asked for again by the next heartbeat. One batch does it all
    (`repository.record_heartbeat`): on D1, one round trip with the booth's auth.
    """
    assert caller.customer_id is not None
    now = utcnow()
    held = body.certificate_expires_at
    refresh = held is None or held - now <= timedelta(days=settings.certificate_refresh_days)
    row, license_row = await repository.record_heartbeat(
        db,
        activation_id,
        caller.customer_id,
        to_db(now),
        body.model_dump(
            include={"agent_version", "free_disk_bytes", "queue_depth", "outbox_depth"}
        ),
        [printer.model_dump() for printer in body.printers],
        with_license=refresh,
    )
    if row is None or (refresh and license_row is None):
        raise not_found("activation", activation_id)
    certificate = _issue(row, license_row, signer, settings) if license_row else None
    return HeartbeatAnswer(
        activation=Activation.model_validate(_activation(row, settings)), certificate=certificate
    )


def _after(cursor: str | None, size: int) -> list[str] | None:
    """The keyset a fleet list's cursor carries: `size` strings."""
    if cursor is None:
        return None
    return unpack_cursor(cursor, lambda v: len(v) == size and all(isinstance(x, str) for x in v))


async def dead_devices(
    db: Database, settings: Settings, customer_id: str | None, cursor: str | None, limit: int
) -> ActivationPage:
    """Activations not heard from within the heartbeat window, longest silent first."""
    return await _seen(db, settings, False, customer_id, cursor, limit)


async def alive_devices(
    db: Database, settings: Settings, customer_id: str | None, cursor: str | None, limit: int
) -> ActivationPage:
    """Activations heard from within the heartbeat window, longest silent first (the
    console's booths page, after the dead devices and the stopped printers)."""
    return await _seen(db, settings, True, customer_id, cursor, limit)


async def _seen(
    db: Database,
    settings: Settings,
    alive: bool,
    customer_id: str | None,
    cursor: str | None,
    limit: int,
) -> ActivationPage:
    cutoff = to_db(dead_cutoff(settings))
    rows = await repository.seen_page(db, cutoff, alive, customer_id, _after(cursor, 2), limit)
    items, next_cursor = page_of(rows, limit, lambda r: pack_cursor([r["last_seen_at"], r["id"]]))
    return ActivationPage(
        items=[Activation.model_validate(_activation(r, settings)) for r in items],
        next_cursor=next_cursor,
    )


async def stopped_printers(
    db: Database, settings: Settings, customer_id: str | None, cursor: str | None, limit: int
) -> DevicePrinterPage:
    """CUPS queues whose booth last reported them `stopped`, oldest report first; with the
    device's liveness, since a dead booth's last report may be stale."""
    rows = await repository.printers_in_state(db, "stopped", customer_id, _after(cursor, 3), limit)
    items, next_cursor = page_of(
        rows, limit, lambda r: pack_cursor([r["reported_at"], r["activation_id"], r["name"]])
    )
    return DevicePrinterPage(
        items=[
            DevicePrinter.model_validate(
                {
                    **r,
                    "device_status": device_status(r, settings),
                    "markers": orjson.loads(r["markers"]),
                }
            )
            for r in items
        ],
        next_cursor=next_cursor,
    )
