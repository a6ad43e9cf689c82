"""License routes: public validation, device activations and their heartbeats, the
operator's fleet views (dead devices, stopped printers), the certificate public key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from boothcloud.auth import CallerDep, OperatorDep, PipelinedBoothDep
from boothcloud.deps import DbDep, ServicesDep, SettingsDep
from boothcloud.http import respond
from boothcloud.licenses import service
from boothcloud.licenses.ratelimit import client_address
from boothcloud.licenses.schemas import (
    ActivationCreate,
    ActivationList,
    ActivationPage,
    ActivationWithCertificate,
    DevicePrinterPage,
    HeartbeatAnswer,
    HeartbeatCreate,
    PublicKey,
    ValidateRequest,
    ValidateResponse,
)
from boothcloud.openapi import problems
from boothcloud.pagination import CursorQuery, LimitQuery
from boothcloud.schemas import Ref

router = APIRouter(prefix="/api/licenses", tags=["licenses"])


@router.post(
    "/validate",
    response_model=ValidateResponse,
    summary="Check a license key (and optionally a device); no credentials needed",
    responses=problems(400, 413, 422, 429),
)
async def validate_license(
    body: ValidateRequest, request: Request, services: ServicesDep
) -> Response:
    services.validate_limiter.take(
        client_address(request), "too many validation requests; slow down"
    )
    return respond(await service.validate(services.db, body))


@router.post(
    "/activations",
    status_code=201,
    response_model=ActivationWithCertificate,
    summary="Activate this booth device; returns a signed offline certificate",
    responses={
        200: {"description": "Already activated: the existing activation, fresh certificate"},
        **problems(400, 401, 403, 409, 413, 422),
    },
)
async def activate_device(
    body: ActivationCreate, services: ServicesDep, caller: PipelinedBoothDep
) -> Response:
    activation, created = await service.activate(
        services.db, caller, body, services.signer, services.settings
    )
    headers = {"Location": f"/api/licenses/activations/{activation.id}"}
    return respond(activation, 201 if created else 200, headers)


@router.get(
    "/activations",
    response_model=ActivationList,
    summary="A customer's activated devices and the tier's limit",
    description="A booth sees its own customer's; the operator passes `customer_id`.",
    responses=problems(401, 403, 404, 422),
)
async def list_activations(
    services: ServicesDep,
    caller: CallerDep,
    customer_id: Annotated[Ref | None, Query(description="Required for the operator.")] = None,
) -> Response:
    return respond(
        await service.list_activations(services.db, caller, services.settings, customer_id)
    )


@router.delete(
    "/activations/{activation_id}",
    status_code=204,
    summary="Deactivate a device, freeing its slot",
    responses=problems(401, 403, 404),
)
async def deactivate_device(activation_id: str, db: DbDep, caller: CallerDep) -> Response:
    await service.deactivate(db, caller, activation_id)
    return Response(status_code=204)


@router.post(
    "/activations/{activation_id}/heartbeat",
    response_model=HeartbeatAnswer,
    summary="A booth device's heartbeat: agent, disk, printers; refreshes its certificate",
    description="Sets `last_seen_at` (the device is `ALIVE` for "
    "`BOOTHCLOUD_HEARTBEAT_WINDOW_SECONDS` after) and replaces the device's printer report. "
    "The answer carries a fresh certificate when `certificate_expires_at` (the booth's "
    "current one) is within `BOOTHCLOUD_CERTIFICATE_REFRESH_DAYS`, or is omitted. "
    "Repeating a heartbeat is harmless.",
    responses=problems(400, 401, 403, 404, 413, 422),
)
async def heartbeat(
    activation_id: str, body: HeartbeatCreate, services: ServicesDep, caller: PipelinedBoothDep
) -> Response:
    return respond(
        await service.heartbeat(
            services.db, caller, activation_id, body, services.signer, services.settings
        )
    )


OperatorCustomer = Annotated[Ref | None, Query(description="Only this customer's.")]


@router.get(
    "/dead-devices",
    response_model=ActivationPage,
    summary="Activated devices not heard from within the heartbeat window (operator)",
    responses=problems(401, 403, 422),
)
async def dead_devices(
    db: DbDep,
    settings: SettingsDep,
    _: OperatorDep,
    customer_id: OperatorCustomer = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Response:
    return respond(await service.dead_devices(db, settings, customer_id, cursor, limit))


@router.get(
    "/stopped-printers",
    response_model=DevicePrinterPage,
    summary="Booth printers last reported stopped by their heartbeat (operator)",
    responses=problems(401, 403, 422),
)
async def stopped_printers(
    db: DbDep,
    settings: SettingsDep,
    _: OperatorDep,
    customer_id: OperatorCustomer = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Response:
    return respond(await service.stopped_printers(db, settings, customer_id, cursor, limit))


@router.get(
    "/public-key",
    response_model=PublicKey,
    summary="The Ed25519 public key that verifies activation certificates offline",
)
async def public_key(services: ServicesDep) -> Response:
    return respond(PublicKey(public_key_pem=services.signer.public_key_pem()))
