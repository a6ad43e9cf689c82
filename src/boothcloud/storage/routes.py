"""Presigned URLs of the local object folder, served by boothcloud itself.

`PUT /objects/{key}?method=PUT&expires=..&signature=..` stores the body and
`GET /objects/{key}?method=GET&...` returns it, exactly like an S3/R2 presigned URL: the
URL is the whole credential, so no Authorization header is read. The signature binds the
method, the key and the expiry; a bad or expired one answers 403 problem+json. The app's
1 MiB JSON body cap exempts this prefix, so uploads are streamed to disk under their own
limit (`max_object_bytes`, 413 beyond it). A PUT of a photo's key is that photo's
upload: the photos service checks it (non-empty, an image type) before it lands and marks
the photo uploaded once it has. With an S3 backend these routes answer 404: presigned URLs
then point at the S3 store, and the booth confirms with `POST /api/photos/{id}/uploaded`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import FileResponse, Response

from boothcloud.deps import DbDep, SettingsDep, StoreDep
from boothcloud.errors import Forbidden, NotFound, PayloadTooLarge
from boothcloud.openapi import problems
from boothcloud.photos import service as photos
from boothcloud.sessions import thumbnails
from boothcloud.storage import DOWNLOAD_NAME, ObjectStore, attachment
from boothcloud.storage.keys import InvalidKey
from boothcloud.storage.local import LocalStore, ObjectTooLarge, guess_type

OBJECTS_PREFIX = "/objects/"
router = APIRouter(prefix="/objects", tags=["objects"])

ExpiresQuery = Annotated[int, Query(description="Unix time after which the URL is refused.")]
SignatureQuery = Annotated[str, Query(max_length=128, description="HMAC-SHA256, hex.")]
MethodQuery = Annotated[str, Query(max_length=8, description="`PUT` or `GET`.")]
DownloadAsQuery = Annotated[
    str | None,
    Query(
        pattern=DOWNLOAD_NAME,
        description="Signed with the URL: answer as an attachment of this file name.",
    ),
]


def _local(store: ObjectStore) -> LocalStore:
    if not isinstance(store, LocalStore):
        raise NotFound("objects are not served here: this deployment uses an S3 store")
    return store


def _authorize(
    store: LocalStore,
    http_method: str,
    key: str,
    method: str,
    expires: int,
    signature: str,
    download_as: str | None = None,
) -> None:
    if method != http_method or not store.verify(method, key, expires, signature, download_as):
        raise Forbidden("the URL's signature is invalid or has expired")


def _path(store: LocalStore, key: str) -> str:
    try:
        return str(store.path_for(key))
    except InvalidKey as error:
        raise NotFound("no such object") from error


@router.put(
    "/{key:path}",
    status_code=200,
    summary="Upload an object with a presigned URL (local object folder)",
    description="Without `Content-Type` the key's extension names the type. A photo's key "
    "must get a non-empty image (`image/jpeg`, `image/png`, `image/webp`, `image/heic`, "
    "`image/heif`): 422 `OBJECT_EMPTY` / `OBJECT_NOT_IMAGE` otherwise, and nothing is "
    "stored; once stored the photo is uploaded (`uploaded_at`).",
    responses=problems(403, 404, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def put_object(
    key: str,
    request: Request,
    background: BackgroundTasks,
    db: DbDep,
    store: StoreDep,
    settings: SettingsDep,
    method: MethodQuery,
    expires: ExpiresQuery,
    signature: SignatureQuery,
) -> Response:
    local = _local(store)
    _authorize(local, "PUT", key, method, expires, signature)
    _path(local, key)
    limit = settings.max_object_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"object exceeds {limit} bytes")
    content_type = request.headers.get("content-type") or guess_type(key)
    try:
        photo = await photos.receive_put(
            db,
            settings,
            key,
            content_type,
            lambda accept: local.put_stream(key, request.stream(), limit, accept),
        )
    except ObjectTooLarge as error:
        raise PayloadTooLarge(str(error)) from error
    if photo is not None:
        thumbnails.derive_after_answer(
            background, db, store, settings.thumbnail_pixels, str(photo["id"]), photo["session_id"]
        )
    return Response(status_code=200)


@router.get(
    "/{key:path}",
    summary="Download an object with a presigned URL (local object folder)",
    responses={200: {"content": {"application/octet-stream": {}}}, **problems(403, 404)},
    response_class=Response,
)
async def get_object(
    key: str,
    store: StoreDep,
    method: MethodQuery,
    expires: ExpiresQuery,
    signature: SignatureQuery,
    download_as: DownloadAsQuery = None,
) -> Response:
    local = _local(store)
    _authorize(local, "GET", key, method, expires, signature, download_as)
    path = _path(local, key)
    if await local.head(key) is None:
        raise NotFound("no such object")
    disposition = {"Content-Disposition": attachment(download_as)} if download_as else None
    return FileResponse(path, media_type=guess_type(key), headers=disposition)
