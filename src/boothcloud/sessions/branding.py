"""The customer's branding on its gallery pages: an optional logo, stored as an object.

Only raster images (SVG can carry script), no larger than the request body limit, under
`branding/<customer_id>/`; the page shows it through a presigned URL like every photo.
"""

from __future__ import annotations

from boothcloud.auth import Caller
from boothcloud.db.base import Database
from boothcloud.errors import NotFound, invalid
from boothcloud.photos.service import media_type
from boothcloud.sessions import repository
from boothcloud.storage import ObjectStore

LOGO_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


async def set_logo(
    db: Database,
    store: ObjectStore,
    caller: Caller,
    customer_id: str,
    content_type: str,
    data: bytes,
) -> None:
    """Store the gallery logo under `branding/<customer_id>/` and record its key; a PNG,
    JPEG or WebP (SVG can carry script) no larger than the request body limit."""
    caller.check_owns(customer_id, "customer", customer_id)
    extension = LOGO_TYPES.get(media_type(content_type))
    if extension is None:
        raise invalid("Content-Type", f"one of {', '.join(sorted(LOGO_TYPES))}")
    if not data:
        raise invalid("body", "the logo is empty")
    current = await repository.logo_of(db, customer_id)
    if current is None:
        raise NotFound(f"customer {customer_id} not found")
    key = f"branding/{customer_id}/logo.{extension}"
    await store.put(key, data, media_type(content_type))
    await repository.set_logo(db, customer_id, key)
    if current["gallery_logo_key"] and current["gallery_logo_key"] != key:
        await store.delete(str(current["gallery_logo_key"]))


async def remove_logo(db: Database, store: ObjectStore, caller: Caller, customer_id: str) -> None:
    caller.check_owns(customer_id, "customer", customer_id)
    current = await repository.logo_of(db, customer_id)
    if current is None:
        raise NotFound(f"customer {customer_id} not found")
    await repository.set_logo(db, customer_id, None)
    if current["gallery_logo_key"]:
        await store.delete(str(current["gallery_logo_key"]))
