"""The gallery's thumbnails: a small JPEG derived once per photo, stored beside it.

Derived as soon as a session's photo lands (`derive_after_upload`, a background task of
the upload's route, run once its answer is sent), so a guest's first view of the gallery
only presigns; the first view still derives whatever that missed (a restart in between,
a photo uploaded before this existed). Only photos a guest will see (those of a session)
get one. Recorded on the photo; the key is the original's with `.thumb.jpg` for its
extension, inside the customer's prefix.
"""

from __future__ import annotations

import asyncio
import io
import logging

from fastapi import BackgroundTasks
from PIL import Image, ImageOps

from boothcloud.db.base import Database, Row
from boothcloud.sessions import repository
from boothcloud.storage import ObjectStore

log = logging.getLogger("boothcloud.sessions")

QUALITY = 80  # small on a slow phone connection, still clean at 480 px


def thumbnail_key(r2_key: str) -> str:
    folder, _, name = r2_key.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{folder}/{stem}.thumb.jpg" if folder else f"{stem}.thumb.jpg"


def derive(data: bytes, pixels: int) -> bytes:
    """A JPEG whose longest side is at most `pixels`, upright (EXIF orientation applied).
    `draft` lets the JPEG decoder scale down by 1/2-1/8 while decoding: a 12 MP photo is
    never decoded at full size."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (pixels, pixels))
        upright = ImageOps.exif_transpose(image).convert("RGB")
        upright.thumbnail((pixels, pixels), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        upright.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
        return out.getvalue()


async def ensure(db: Database, store: ObjectStore, photo: Row, pixels: int) -> str | None:
    """The photo's thumbnail key, derived and stored now if it has none; None when the
    original cannot be read or decoded (the page then shows the original)."""
    if photo["thumb_key"]:
        return str(photo["thumb_key"])
    key = thumbnail_key(str(photo["r2_key"]))
    try:
        original = await store.get(str(photo["r2_key"]))
        small = await asyncio.to_thread(derive, original, pixels)
    except (KeyError, OSError, ValueError, Image.DecompressionBombError) as error:
        log.warning("no thumbnail for photo %s: %s", photo["id"], type(error).__name__)
        return None
    await store.put(key, small, "image/jpeg")
    await repository.set_thumbnail(db, str(photo["id"]), key)
    return key


def derive_after_answer(
    background: BackgroundTasks,
    db: Database,
    store: ObjectStore,
    pixels: int,
    photo_id: str,
    session_id: str | None,
) -> None:
    """What an upload's route (the local PUT, the S3 confirm) calls once a photo landed:
    a session's photo (a guest will see it) gets its thumbnail after the answer is sent;
    any other photo costs nothing more, not even a query."""
    if session_id is not None:
        background.add_task(derive_after_upload, db, store, pixels, photo_id)


async def derive_after_upload(db: Database, store: ObjectStore, pixels: int, photo_id: str) -> None:
    """The thumbnail of a photo that just landed, if it belongs to a session and has none.
    Best effort, after the answer: a failure is logged and left to the first view."""
    try:
        photo = await repository.photo_needing_thumbnail(db, photo_id)
        if photo is not None:
            await ensure(db, store, photo, pixels)
    except Exception:
        log.exception("deriving the thumbnail of photo %s failed", photo_id)
