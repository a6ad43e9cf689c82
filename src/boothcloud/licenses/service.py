"""License rules: Keygen-style validation codes, device limits, signed activations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from boothcloud.auth import Caller, not_found
from boothcloud.db.base import Database, Row
from boothcloud.errors import Conflict, invalid
from boothcloud.ids import new_id
from boothcloud.licenses import repository
from boothcloud.licenses.certificates import CertificateSigner, certificate_claims
from boothcloud.licenses.schemas import (
    Activation,
    ActivationCreate,
    ActivationList,
    ActivationWithCertificate,
    ValidateRequest,
    ValidateResponse,
)
from boothcloud.settings import Settings, Tier
from boothcloud.timeutil import from_db, utcnow

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
    return settings.tier_device_limits.get(cast(Tier, license_type or "starter"))


def _with_certificate(
    activation: Row, caller: Caller, license_row: Row, signer: CertificateSigner, settings: Settings
) -> ActivationWithCertificate:
    expires_at = license_row["license_expires_at"]
    claims = certificate_claims(
        activation_id=str(activation["id"]),
        customer_id=str(activation["customer_id"]),
        license_type=str(caller.license_type),
        fingerprint=str(activation["fingerprint"]),
        issued_at=utcnow(),
        license_expires_at=from_db(expires_at) if expires_at else None,
        ttl_days=settings.certificate_ttl_days,
        grace_days=settings.certificate_grace_days,
    )
    return ActivationWithCertificate.model_validate(
        {
            **activation,
            "certificate": signer.sign(claims),
            "certificate_expires_at": datetime.fromtimestamp(claims["exp"], UTC),
            "certificate_grace_until": datetime.fromtimestamp(claims["grace_until"], UTC),
        }
    )


async def activate(
    db: Database,
    caller: Caller,
    body: ActivationCreate,
    signer: CertificateSigner,
    settings: Settings,
) -> tuple[ActivationWithCertificate, bool]:
    """Activate this device; the same fingerprint again returns the existing activation.

    Returns the activation (with a fresh certificate) and whether it was created now.
    """
    assert caller.customer_id is not None
    license_row = await repository.get_license(db, caller.customer_id)
    if license_row is None:
        raise not_found("customer", caller.customer_id)
    created = await repository.insert_activation_within_limit(
        db,
        new_id("act"),
        caller.customer_id,
        body.fingerprint,
        body.name,
        device_limit(settings, caller.license_type),
    )
    row = await repository.find_activation(db, caller.customer_id, body.fingerprint)
    if row is None:
        limit = device_limit(settings, caller.license_type)
        raise Conflict(
            f"the {caller.license_type} tier allows {limit} activated device(s); "
            "deactivate one first",
            code="TOO_MANY_DEVICES",
        )
    return _with_certificate(row, caller, license_row, signer, settings), created


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
        items=[Activation.model_validate(r) for r in rows],
        device_limit=device_limit(settings, str(license_row["license_type"])),
    )


async def quietest(db: Database, caller: Caller, customer_id: str | None, limit: int) -> list[Row]:
    """Devices in the caller's scope, the longest silent first (the console's booths)."""
    return await repository.quietest_activations(db, caller.scope(customer_id), limit)


async def deactivate(db: Database, caller: Caller, activation_id: str) -> None:
    caller.owned(await repository.get_activation(db, activation_id), "activation", activation_id)
    await repository.delete_activation(db, activation_id)
