"""Photo routes: thin, rules live in `service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query
from fastapi.responses import Response

from boothcloud.auth import OperatorDep, PipelinedCallerDep
from boothcloud.deps import DbDep, ServicesDep, SettingsDep, StoreDep
from boothcloud.http import respond
from boothcloud.openapi import problems
from boothcloud.photos import service
from boothcloud.photos.schemas import Photo, PhotoCreate, PhotoListQuery, PhotoPage, PhotoPatch
from boothcloud.sessions import thumbnails

router = APIRouter(prefix="/api/photos", tags=["photos"])


@router.post(
    "",
    status_code=201,
    response_model=Photo,
    summary="Log a photo; without `r2_key` the answer carries a presigned `upload_url`",
    responses={
        200: {"model": Photo, "description": "The same `id` and body again: the same photo"},
        **problems(400, 401, 403, 409, 413, 422),
    },
)
async def create_photo(
    body: PhotoCreate, services: ServicesDep, caller: PipelinedCallerDep
) -> Response:
    # One dependency for database, store and settings: each costs ~10 µs per request.
    photo, created = await service.create(
        services.db, services.store, services.settings, caller, body
    )
    return respond(photo, 201 if created else 200, {"Location": f"/api/photos/{photo.id}"})


@router.get(
    "",
    response_model=PhotoPage,
    summary="List photos, newest first",
    responses=problems(401, 403, 422),
)
async def list_photos(
    db: DbDep, caller: PipelinedCallerDep, query: Annotated[PhotoListQuery, Query()]
) -> Response:
    return respond(
        await service.list_page(
            db,
            caller,
            customer_id=query.customer_id,
            filters=query,
            cursor=query.cursor,
            limit=query.limit,
        )
    )


@router.get(
    "/{photo_id}",
    response_model=Photo,
    summary="Get a photo with a presigned `download_url`",
    responses=problems(401, 403, 404),
)
async def get_photo(
    photo_id: str, db: DbDep, store: StoreDep, settings: SettingsDep, caller: PipelinedCallerDep
) -> Response:
    return respond(await service.get(db, store, settings, caller, photo_id))


@router.patch(
    "/{photo_id}",
    response_model=Photo,
    summary="Change print status (valid transitions only) or the assigned printer",
    responses=problems(400, 401, 403, 404, 409, 413, 422),
)
async def patch_photo(
    photo_id: str, body: PhotoPatch, db: DbDep, caller: PipelinedCallerDep
) -> Response:
    return respond(await service.patch(db, caller, photo_id, body))


@router.post(
    "/{photo_id}/uploaded",
    response_model=Photo,
    summary="Confirm the photo's object landed (checked with a HEAD); sets `uploaded_at`",
    description="Needed with an S3/R2 store or a booth-supplied `r2_key` (the local store "
    "records a signed PUT itself). Only uploaded photos are claimed. Confirming again "
    "answers 200 with the same photo. 409 `OBJECT_MISSING` when nothing is there yet; "
    "`OBJECT_EMPTY`, `OBJECT_TOO_LARGE` or `OBJECT_NOT_IMAGE` when the object cannot be "
    "printed.",
    responses=problems(401, 403, 404, 409, 502),
)
async def confirm_upload(
    photo_id: str,
    db: DbDep,
    store: StoreDep,
    settings: SettingsDep,
    caller: PipelinedCallerDep,
    background: BackgroundTasks,
) -> Response:
    photo = await service.confirm_upload(db, store, settings, caller, photo_id)
    thumbnails.derive_after_answer(
        background, db, store, settings.thumbnail_pixels, photo.id, photo.session_id
    )
    return respond(photo)


@router.delete(
    "/{photo_id}",
    status_code=204,
    summary="Erase a photo: its object, then its row (operator)",
    responses=problems(401, 403, 404, 502),
)
async def delete_photo(photo_id: str, db: DbDep, store: StoreDep, caller: OperatorDep) -> Response:
    await service.delete(db, store, caller, photo_id)
    return Response(status_code=204)
