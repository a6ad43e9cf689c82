"""Venue routes: thin, rules live in `service`."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from boothcloud.auth import CallerDep, OperatorDep
from boothcloud.deps import DbDep
from boothcloud.http import respond
from boothcloud.openapi import problems
from boothcloud.pagination import CursorQuery, CustomerQuery, LimitQuery
from boothcloud.venues import service
from boothcloud.venues.schemas import Placement, Venue, VenueCreate, VenuePage

router = APIRouter(prefix="/api/venues", tags=["venues"])


@router.post(
    "",
    status_code=201,
    response_model=Venue,
    summary="Record a venue and its share of each payment (operator)",
    responses=problems(400, 401, 403, 413, 422),
)
async def create_venue(body: VenueCreate, db: DbDep, caller: OperatorDep) -> Response:
    venue = await service.create(db, caller, body)
    return respond(venue, 201, {"Location": f"/api/venues/{venue.id}"})


@router.get(
    "",
    response_model=VenuePage,
    summary="List venues, newest first",
    responses=problems(401, 403, 422),
)
async def list_venues(
    db: DbDep,
    caller: CallerDep,
    customer_id: CustomerQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> Response:
    return respond(
        await service.list_page(db, caller, customer_id=customer_id, cursor=cursor, limit=limit)
    )


@router.get(
    "/{venue_id}",
    response_model=Venue,
    summary="Get a venue",
    responses=problems(401, 403, 404),
)
async def get_venue(venue_id: str, db: DbDep, caller: CallerDep) -> Response:
    return respond(await service.get(db, caller, venue_id))


@router.put(
    "/{venue_id}/activations/{activation_id}",
    response_model=Placement,
    summary="Place a device (license activation) at this venue (operator)",
    responses=problems(401, 403, 404),
)
async def place_device(
    venue_id: str, activation_id: str, db: DbDep, caller: OperatorDep
) -> Response:
    return respond(await service.place(db, caller, venue_id, activation_id))


@router.delete(
    "/{venue_id}/activations/{activation_id}",
    status_code=204,
    summary="Take a device away from this venue (operator)",
    responses=problems(401, 403, 404),
)
async def unplace_device(
    venue_id: str, activation_id: str, db: DbDep, caller: OperatorDep
) -> Response:
    await service.unplace(db, caller, venue_id, activation_id)
    return Response(status_code=204)
