"""Printer routes and the print queue's claim: thin, rules live in the services."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from boothcloud.auth import CallerDep, PipelinedBoothDep, PipelinedCallerDep
from boothcloud.deps import DbDep, ServicesDep
from boothcloud.http import respond
from boothcloud.openapi import problems
from boothcloud.pagination import CursorQuery, CustomerQuery, LimitQuery
from boothcloud.photos import service as photo_service
from boothcloud.photos.schemas import Photo
from boothcloud.printers import service
from boothcloud.printers.schemas import Printer, PrinterCreate, PrinterPage, PrinterPatch

router = APIRouter(prefix="/api/printers", tags=["printers"])


@router.post(
    "",
    status_code=201,
    response_model=Printer,
    summary="Register a printer (a customer's first one becomes the default)",
    responses=problems(400, 401, 403, 409, 413, 422),
)
async def create_printer(body: PrinterCreate, db: DbDep, caller: PipelinedCallerDep) -> Response:
    printer = await service.create(db, caller, body)
    return respond(printer, 201, {"Location": f"/api/printers/{printer.id}"})


@router.get(
    "",
    response_model=PrinterPage,
    summary="List printers, the default first, then in registration order",
    responses=problems(401, 403, 422),
)
async def list_printers(
    db: DbDep,
    caller: PipelinedCallerDep,
    customer_id: CustomerQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Response:
    return respond(
        await service.list_page(db, caller, customer_id=customer_id, cursor=cursor, limit=limit)
    )


@router.get(
    "/{printer_id}",
    response_model=Printer,
    summary="Get a printer",
    responses=problems(401, 403, 404),
)
async def get_printer(printer_id: str, db: DbDep, caller: PipelinedCallerDep) -> Response:
    return respond(await service.get(db, caller, printer_id))


@router.patch(
    "/{printer_id}",
    response_model=Printer,
    summary="Rename a printer or make it the default (the previous default is unset)",
    responses=problems(400, 401, 403, 404, 409, 413, 422),
)
async def patch_printer(
    printer_id: str, body: PrinterPatch, db: DbDep, caller: CallerDep
) -> Response:
    return respond(await service.patch(db, caller, printer_id, body))


@router.delete(
    "/{printer_id}",
    status_code=204,
    summary="Remove a printer; the oldest remaining one becomes default if it was",
    responses=problems(401, 403, 404),
)
async def delete_printer(printer_id: str, db: DbDep, caller: CallerDep) -> Response:
    await service.delete(db, caller, printer_id)
    return Response(status_code=204)


@router.post(
    "/{printer_id}/claim",
    response_model=Photo,
    summary="Take the oldest pending photo for this printer (or unassigned); 204 when none",
    responses={204: {"description": "No photo is waiting"}, **problems(401, 403, 404)},
)
async def claim_photo(
    printer_id: str, services: ServicesDep, caller: PipelinedBoothDep
) -> Response:
    # One dependency for database, store and settings: each costs ~10 µs per request.
    photo = await photo_service.claim(
        services.db, services.store, services.settings, caller, printer_id
    )
    return Response(status_code=204) if photo is None else respond(photo)
