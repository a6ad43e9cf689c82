"""Photo rules: keys under the customer's prefix, idempotent logging by the booth's own id,
the upload that makes a photo printable, print-status transitions, the print queue's
claim, and erasure of row and object."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from uuid import UUID

from boothcloud.auth import Caller
from boothcloud.db.base import Database, Row
from boothcloud.errors import BadGateway, Conflict, NotFound, ValidationFailed, invalid
from boothcloud.ids import digest, uuid7
from boothcloud.pagination import page_of
from boothcloud.photos import repository
from boothcloud.photos.schemas import Photo, PhotoCreate, PhotoFilters, PhotoPage, PhotoPatch
from boothcloud.printers import repository as printers
from boothcloud.printers.service import owner_for_create
from boothcloud.sessions.service import check_session
from boothcloud.settings import Settings
from boothcloud.storage import ObjectInfo, ObjectStore
from boothcloud.storage.keys import InvalidKey
from boothcloud.timeutil import to_db, utcnow

log = logging.getLogger("boothcloud.photos")

# The statuses a photo may come from, per target status; anything else is a 409.
PREDECESSORS: dict[str, tuple[str, ...]] = {
    "printing": ("pending",),
    "completed": ("printing",),
    "failed": ("printing",),
    "pending": ("failed",),
}

# What a print station can print; `image/svg+xml` (scriptable) and the rest are refused.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"})
# Server-chosen keys end in `.jpg`; S3/R2 upload URLs bind this Content-Type.
SERVER_KEY_TYPE = "image/jpeg"


def customer_prefix(customer_id: str) -> str:
    return f"photos/{customer_id}/"


def server_key(customer_id: str, photo_id: str) -> str:
    return f"{customer_prefix(customer_id)}{utcnow():%Y/%m/%d}/{photo_id}.jpg"


def request_hash(customer_id: str, body: PhotoCreate) -> str:
    """What makes two create requests "the same": customer, key, printer and session (not
    the id). The session counts only when given, so hashes stored before sessions hold."""
    parts = [customer_id, body.r2_key, body.printer_id]
    if body.session_id is not None:
        parts.append(body.session_id)
    return digest(parts)


def _normal_id(photo_id: str) -> str:
    try:
        return str(UUID(photo_id))
    except ValueError as error:
        raise NotFound(f"photo {photo_id} not found") from error


def _photo(row: Row, **urls: str | None) -> Photo:
    return Photo.model_validate({**row, **urls})


def _presign_get(store: ObjectStore, settings: Settings, key: str) -> str | None:
    try:
        return store.presign_get(key, settings.presign_expiry_seconds)
    except InvalidKey:  # a key logged before keys were validated: no URL rather than a 500
        return None


async def _owned(db: Database, caller: Caller, photo_id: str) -> Row:
    row = await repository.get(db, _normal_id(photo_id))
    if row is None:
        raise NotFound(f"photo {photo_id} not found")
    caller.check_owns(str(row["customer_id"]), "photo", photo_id)
    return row


async def create(
    db: Database, store: ObjectStore, settings: Settings, caller: Caller, body: PhotoCreate
) -> tuple[Photo, bool]:
    """Log a photo; returns it and whether it was created (False: an identical retry)."""
    customer_id = await owner_for_create(db, caller, body.customer_id)
    prefix = customer_prefix(customer_id)
    if body.r2_key is not None and not body.r2_key.startswith(prefix):
        raise invalid("r2_key", f"must be under `{prefix}`")
    photo_id = str(body.id) if body.id is not None else str(uuid7())
    fingerprint = request_hash(customer_id, body)
    row = await repository.insert(
        db,
        {
            "id": photo_id,
            "customer_id": customer_id,
            "r2_key": body.r2_key or server_key(customer_id, photo_id),
            "printer_id": body.printer_id,
            "session_id": body.session_id,
            "request_hash": fingerprint,
        },
    )
    created = row is not None
    if row is None:  # ON CONFLICT DO NOTHING or a printer/session check said no: which?
        row = await repository.get(db, photo_id)
        if row is not None:
            if row["request_hash"] != fingerprint:
                raise Conflict(
                    f"photo id {photo_id} was already used with a different request",
                    code="IDEMPOTENCY_MISMATCH",
                )
        elif body.r2_key is not None and await repository.key_taken(db, body.r2_key):
            raise Conflict("r2_key: another photo already uses this key", code="KEY_IN_USE")
        else:
            await check_session(db, body.session_id, customer_id)
            raise invalid("printer_id", "no such printer for this customer")
    upload_url = (
        store.presign_put(str(row["r2_key"]), settings.presign_expiry_seconds, SERVER_KEY_TYPE)
        if body.r2_key is None
        else None
    )
    return _photo(row, upload_url=upload_url), created


async def get(
    db: Database, store: ObjectStore, settings: Settings, caller: Caller, photo_id: str
) -> Photo:
    row = await _owned(db, caller, photo_id)
    if row["purged_at"] is not None:  # retention deleted its object: nothing to fetch
        return _photo(row)
    return _photo(row, download_url=_presign_get(store, settings, str(row["r2_key"])))


def media_type(content_type: str | None) -> str:
    """`image/JPEG; q=1` -> `image/jpeg`; no header -> ``."""
    return (content_type or "").split(";")[0].strip().lower()


def object_problem(size: int, content_type: str, max_bytes: int) -> tuple[str, str] | None:
    """Why an object cannot be a photo's bytes, as (code, detail); None when it can: the
    one rule behind both the local store's PUT and the S3/R2 confirm."""
    if size <= 0:
        return "OBJECT_EMPTY", "the uploaded object is empty"
    if size > max_bytes:
        return "OBJECT_TOO_LARGE", f"the uploaded object exceeds {max_bytes} bytes"
    if content_type not in PHOTO_TYPES:
        allowed = ", ".join(sorted(PHOTO_TYPES))
        shown = content_type or "none"
        return "OBJECT_NOT_IMAGE", f"the object's Content-Type ({shown}) is not one of {allowed}"
    return None


async def receive_put(
    db: Database,
    settings: Settings,
    key: str,
    content_type: str,
    put: Callable[[Callable[[int], None] | None], Awaitable[ObjectInfo]],
) -> Row | None:
    """A signed PUT of `key` on the local store. When a photo owns the key, the upload
    must pass `object_problem` (422 with its code, checked before the object replaces
    anything) and landing marks the photo uploaded (its row, as before the upload, is
    returned); other keys are stored as they come. `put(accept)` writes the object,
    calling `accept(size)` before it commits."""
    row = await repository.get_by_key(db, key)
    if row is None:
        await put(None)
        return None
    kind = media_type(content_type)

    def accept(size: int) -> None:
        problem = object_problem(size, kind, settings.max_object_bytes)
        if problem is not None:
            raise ValidationFailed(problem[1], code=problem[0])

    info = await put(accept)
    await repository.record_upload(db, str(row["id"]), info.size, kind, replace=True)
    return row


async def confirm_upload(
    db: Database, store: ObjectStore, settings: Settings, caller: Caller, photo_id: str
) -> Photo:
    """The booth says the object landed (S3/R2, or a booth-supplied key): check it with a
    HEAD and set `uploaded_at`. Idempotent: an uploaded photo answers as it is, unchecked."""
    row = await _owned(db, caller, photo_id)
    if row["uploaded_at"] is not None:
        return _photo(row)
    key = str(row["r2_key"])
    try:
        info = await store.head(key)
    except InvalidKey:
        info = None  # a key logged before keys were validated: nothing could be there
    except Exception as error:
        log.exception("HEAD of object %s failed", key)
        raise BadGateway("the object store failed; the upload was not confirmed") from error
    if info is None:
        raise Conflict(
            "no object at r2_key yet: upload it (PUT to upload_url), then confirm",
            code="OBJECT_MISSING",
        )
    kind = media_type(info.content_type)
    problem = object_problem(info.size, kind, settings.max_object_bytes)
    if problem is not None:
        raise Conflict(problem[1], code=problem[0])
    updated = await repository.record_upload(db, str(row["id"]), info.size, kind, replace=False)
    return _photo(updated if updated is not None else await _owned(db, caller, photo_id))


async def list_page(
    db: Database,
    caller: Caller,
    *,
    customer_id: str | None,
    filters: PhotoFilters,
    cursor: str | None,
    limit: int,
) -> PhotoPage:
    rows = await repository.page(
        db,
        customer_id=caller.scope(customer_id),
        print_status=filters.print_status,
        printer_id=filters.printer_id,
        uploaded=filters.uploaded,
        created_from=to_db(filters.created_from) if filters.created_from else None,
        created_to=to_db(filters.created_to) if filters.created_to else None,
        cursor=cursor,
        limit=limit,
    )
    items, next_cursor = page_of(rows, limit)
    return PhotoPage(items=[_photo(r) for r in items], next_cursor=next_cursor)


async def patch(db: Database, caller: Caller, photo_id: str, body: PhotoPatch) -> Photo:
    """Change the print status and/or the printer. The change is tried first as the one
    conditional UPDATE that holds every rule (`repository.update`), so an allowed change
    is one statement (one round trip on D1, the booth's auth riding along); only a refused
    one reads the photo, to answer why exactly as the checks always answered."""
    set_printer = "printer_id" in body.model_fields_set
    status = body.print_status
    if status is None and not set_printer:
        return _photo(await _owned(db, caller, photo_id))
    allowed_from = PREDECESSORS[status] if status is not None else ()
    change = partial(
        repository.update,
        db,
        status=status,
        allowed_from=allowed_from,
        set_printer=set_printer,
        printer_id=body.printer_id,
    )
    row = await change(_normal_id(photo_id), caller.scope(None))
    if row is not None:
        return _photo(row)
    # Refused: 404, 409 or 422 from the photo as it is now, in the order of the checks;
    # if every check passes, the photo changed back meanwhile, so try once more.
    current = await _owned(db, caller, photo_id)
    customer_id = str(current["customer_id"])
    _check_transition(current, status, allowed_from)
    if (
        set_printer
        and body.printer_id is not None
        and not await printers.exists(db, body.printer_id, customer_id)
    ):
        raise invalid("printer_id", "no such printer for this customer")
    row = await change(str(current["id"]), customer_id)
    if row is not None:
        return _photo(row)
    # The conditional UPDATE refused: someone changed the photo (or printer) meanwhile.
    _check_transition(await _owned(db, caller, photo_id), status, allowed_from)
    raise invalid("printer_id", "no such printer for this customer")


def _check_transition(row: Row, status: str | None, allowed_from: tuple[str, ...]) -> None:
    """409 unless `row` may move to `status`: from an allowed status, and to `printing`
    only once uploaded (the claim's rule, so a manual print cannot skip it)."""
    if status is None:
        return
    current = str(row["print_status"])
    if current not in allowed_from:
        raise Conflict(
            f"print_status cannot move from {current} to {status}", code="INVALID_TRANSITION"
        )
    if status == "printing" and row["uploaded_at"] is None:
        raise Conflict(
            "the photo's object was never uploaded: upload it, then confirm",
            code="NOT_UPLOADED",
        )


async def delete(db: Database, store: ObjectStore, caller: Caller, photo_id: str) -> None:
    """Erase the object first, then the row: a failure leaves the row to retry with, never
    an object nobody can find any more."""
    row = await _owned(db, caller, photo_id)
    try:
        await store.delete(str(row["r2_key"]))
    except InvalidKey:
        pass  # nothing this API could have stored under such a key
    except Exception as error:
        log.exception("deleting object %s failed", row["r2_key"])
        raise BadGateway("the object store failed; the photo was not deleted") from error
    if await repository.delete(db, str(row["id"])) is None:
        raise NotFound(f"photo {photo_id} not found")


def stuck_cutoff(settings: Settings) -> str:
    return to_db(utcnow() - timedelta(seconds=settings.print_stuck_after_seconds))


async def claim(
    db: Database, store: ObjectStore, settings: Settings, caller: Caller, printer_id: str
) -> Photo | None:
    assert caller.customer_id is not None
    row, printer_found = await repository.claim(
        db, printer_id, caller.customer_id, stuck_cutoff(settings)
    )
    if not printer_found:
        raise NotFound(f"printer {printer_id} not found")
    if row is None:
        return None
    return _photo(row, download_url=_presign_get(store, settings, str(row["r2_key"])))


async def printing(
    db: Database,
    settings: Settings,
    caller: Caller,
    customer_id: str | None,
    printer_id: str | None,
    limit: int,
    *,
    stuck: bool,
) -> list[Photo]:
    """Prints in `printing`, oldest claim first; `stuck`: only those printing for longer
    than `print_stuck_after_seconds` (what the job requeues)."""
    cutoff = stuck_cutoff(settings) if stuck else None
    rows = await repository.printing(db, caller.scope(customer_id), printer_id, cutoff, limit)
    return [_photo(r) for r in rows]


async def requeue(db: Database, settings: Settings, caller: Caller, photo_id: str) -> Photo:
    """Requeue one stuck print now (the operator's button; the job does it for all later).
    409 NOT_STUCK when the photo is not stuck (any more)."""
    current = await _owned(db, caller, photo_id)
    row = await repository.requeue_one(db, str(current["id"]), stuck_cutoff(settings))
    if row is None:
        raise Conflict(
            f"photo {photo_id} is not stuck in printing (status {current['print_status']})",
            code="NOT_STUCK",
        )
    return _photo(row)


async def requeue_stuck(db: Database, settings: Settings) -> int:
    """Every customer's prints stuck in `printing` go back to `pending` (background job)."""
    moved = await repository.requeue_stuck(db, stuck_cutoff(settings))
    if moved:
        log.warning("requeued %d photo(s) stuck in printing", moved)
    return moved
