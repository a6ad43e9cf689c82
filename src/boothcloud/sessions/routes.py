"""Session routes: thin, rules live in `service`."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from boothcloud.auth import BoothDep, CallerDep
from boothcloud.deps import DbDep, SettingsDep, StoreDep
from boothcloud.http import respond
from boothcloud.openapi import problems
from boothcloud.pagination import CustomerQuery
from boothcloud.sessions import branding, qr, service
from boothcloud.sessions.schemas import (
    Session,
    SessionCreate,
    SessionListQuery,
    SessionPage,
    SessionPatch,
    StatsPage,
)

router = APIRouter(prefix="/api/sessions", tags=["sessions"])
branding_router = APIRouter(prefix="/api/customers", tags=["sessions"])

ScaleQuery = Annotated[int, Query(ge=1, le=40, description="Pixels per QR module.")]
# The code is the gallery's key: no shared cache may keep it.
_PRIVATE = {"Cache-Control": "private, no-store"}


@router.post(
    "",
    status_code=201,
    response_model=Session,
    summary="Open a guest session from one of the booth's activated devices",
    responses=problems(400, 401, 403, 409, 413, 422),
)
async def open_session(
    body: SessionCreate, db: DbDep, settings: SettingsDep, caller: BoothDep
) -> Response:
    found = await service.open_session(db, settings, caller, body)
    return respond(found, 201, {"Location": f"/api/sessions/{found.id}"})


@router.get(
    "",
    response_model=SessionPage,
    summary="List sessions, newest first (filter by customer, device, status, date)",
    responses=problems(401, 403, 422),
)
async def list_sessions(
    db: DbDep,
    settings: SettingsDep,
    caller: CallerDep,
    query: Annotated[SessionListQuery, Query()],
) -> Response:
    return respond(
        await service.list_page(
            db,
            settings,
            caller,
            customer_id=query.customer_id,
            filters=query,
            cursor=query.cursor,
            limit=query.limit,
        )
    )


@router.get(
    "/stats",
    response_model=StatsPage,
    summary="Per customer and UTC day: sessions, paid sessions, photos, prints, gallery "
    "opens and downloads (counted, never per guest)",
    responses=problems(401, 403, 422),
)
async def session_stats(
    db: DbDep,
    caller: CallerDep,
    day_from: Annotated[date, Query(alias="from", description="First UTC day.")],
    day_to: Annotated[date, Query(alias="to", description="Last UTC day (inclusive).")],
    customer_id: CustomerQuery = None,
) -> Response:
    return respond(await service.stats(db, caller, customer_id, day_from, day_to))


@router.get(
    "/{session_id}",
    response_model=Session,
    summary="Get a session",
    responses=problems(401, 403, 404),
)
async def get_session(
    session_id: str, db: DbDep, settings: SettingsDep, caller: CallerDep
) -> Response:
    return respond(await service.get(db, settings, caller, session_id))


@router.patch(
    "/{session_id}",
    response_model=Session,
    summary="Close the session, attach its payment; operator: revoke or extend the gallery",
    responses=problems(400, 401, 403, 404, 409, 413, 422),
)
async def patch_session(
    session_id: str, body: SessionPatch, db: DbDep, settings: SettingsDep, caller: CallerDep
) -> Response:
    return respond(await service.patch(db, settings, caller, session_id, body))


async def _qr(
    kind: str, session_id: str, db: DbDep, settings: SettingsDep, caller: CallerDep, scale: int
) -> Response:
    url = await service.owned_share_url(db, settings, caller, session_id)
    image, media_type = (
        (qr.svg(url, scale), "image/svg+xml")
        if kind == "svg"
        else (
            qr.png(url, scale),
            "image/png",
        )
    )
    return Response(image, media_type=media_type, headers=_PRIVATE)


@router.get(
    "/{session_id}/qr.svg",
    summary="The share URL as a QR code (SVG)",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **problems(401, 403, 404, 422)},
)
async def session_qr_svg(
    session_id: str, db: DbDep, settings: SettingsDep, caller: CallerDep, scale: ScaleQuery = 8
) -> Response:
    return await _qr("svg", session_id, db, settings, caller, scale)


@router.get(
    "/{session_id}/qr.png",
    summary="The share URL as a QR code (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problems(401, 403, 404, 422)},
)
async def session_qr_png(
    session_id: str, db: DbDep, settings: SettingsDep, caller: CallerDep, scale: ScaleQuery = 8
) -> Response:
    return await _qr("png", session_id, db, settings, caller, scale)


@branding_router.put(
    "/{customer_id}/gallery-logo",
    status_code=204,
    summary="Set the logo of the customer's gallery pages (PNG, JPEG or WebP body)",
    responses=problems(401, 403, 404, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in branding.LOGO_TYPES
            },
        }
    },
)
async def put_gallery_logo(
    customer_id: str, request: Request, db: DbDep, store: StoreDep, caller: CallerDep
) -> Response:
    content_type = request.headers.get("content-type", "")
    await branding.set_logo(db, store, caller, customer_id, content_type, await request.body())
    return Response(status_code=204)


@branding_router.delete(
    "/{customer_id}/gallery-logo",
    status_code=204,
    summary="Remove the gallery logo (pages show the customer's name only)",
    responses=problems(401, 403, 404),
)
async def delete_gallery_logo(
    customer_id: str, db: DbDep, store: StoreDep, caller: CallerDep
) -> Response:
    await branding.remove_logo(db, store, caller, customer_id)
    return Response(status_code=204)
