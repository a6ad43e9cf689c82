"""The guest's gallery: `GET /s/{share_code}`, no login, the code is the key.

Server-rendered HTML with its CSS inline (one request before the images, nothing from a
CDN), thumbnails first, each opening the original through a presigned, expiring URL, a
download per photo and "download all" as a streamed ZIP. Every lookup is rate-limited per
client, and a wrong, expired or revoked code answers the same friendly 404 page, so codes
cannot be told apart from outside. Pages say `noindex` and are never cached.
"""

from __future__ import annotations

import asyncio
import hmac
import mimetypes
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from boothcloud.db.base import Database, Row
from boothcloud.deps import Services, ServicesDep
from boothcloud.licenses.ratelimit import RateLimiter
from boothcloud.sessions import repository, thumbnails
from boothcloud.sessions.archive import zip_stream
from boothcloud.sessions.service import share_hash
from boothcloud.storage.keys import InvalidKey
from boothcloud.timeutil import from_db, utcnow

router = APIRouter(tags=["gallery"])
_HTML: dict[str, Any] = {"content": {"text/html": {}}}
# Every gallery route may answer the 404 page (wrong, expired, revoked) or the 429 page.
PAGES: dict[int | str, dict[str, Any]] = {
    404: {**_HTML, "description": "Wrong, expired or revoked code (HTML page)"},
    429: {**_HTML, "description": "Too many lookups from this client (HTML page)"},
}

MAX_CODE_LENGTH = 64
THUMBNAILS_AT_ONCE = 4  # thumbnails a first view derives concurrently
templates = Environment(
    loader=PackageLoader("boothcloud.sessions", "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
HEADERS = {
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}


class GalleryClosed(Exception):
    """Answered with the friendly 404 page (wrong, expired, revoked or purged code)."""


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def not_found_page() -> HTMLResponse:
    return _page("not_found.html", 404)


def _limiter(services: Services) -> RateLimiter:
    limiter: RateLimiter = services.extras.get("gallery_limiter") or services.extras.setdefault(
        "gallery_limiter", RateLimiter(services.settings.gallery_rate_limit_per_minute)
    )
    return limiter


@dataclass(frozen=True, slots=True)
class Gallery:
    session: Row
    services: Services

    @property
    def db(self) -> Database:
        return self.services.db


async def open_gallery(request: Request, share_code: str, services: ServicesDep) -> Gallery:
    """The live gallery of this code, after the client's rate limit; GalleryClosed (the
    404 page) for anything else, the same answer whatever made it so."""
    client = request.client.host if request.client else "unknown"
    wait = _limiter(services).allow(client)
    if wait:
        raise RateLimited(max(1, round(wait)))
    if len(share_code) > MAX_CODE_LENGTH:
        raise GalleryClosed
    row = await repository.by_share_hash(services.db, share_hash(share_code))
    if (
        row is None
        or not hmac.compare_digest(str(row["share_code"]), share_code)
        or row["revoked_at"] is not None
        or row["purged_at"] is not None
        or from_db(row["expires_at"]) <= utcnow()
    ):
        raise GalleryClosed
    return Gallery(row, services)


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


GalleryDep = Annotated[Gallery, Depends(open_gallery)]


def _presign(gallery: Gallery, key: str, download_as: str | None = None) -> str | None:
    try:
        url = gallery.services.store.presign_get(
            key, gallery.services.settings.presign_expiry_seconds, download_as
        )
    except InvalidKey:
        return None
    return url


def _extension(photo: Row) -> str:
    known = mimetypes.guess_extension(str(photo["content_type"] or "")) or ""
    return ".jpg" if known in ("", ".jpe", ".jpeg") else known


async def _count(gallery: Gallery, column: str) -> None:
    await repository.count(
        gallery.db, str(gallery.session["customer_id"]), utcnow().date().isoformat(), column
    )


@router.get(
    "/s/{share_code}",
    response_class=HTMLResponse,
    summary="The guest's gallery page (HTML); the friendly 404 page for a wrong, expired "
    "or revoked code",
    responses=PAGES,
)
async def gallery_page(share_code: str, gallery: GalleryDep) -> HTMLResponse:
    services = gallery.services
    rows = await repository.gallery_photos(gallery.db, str(gallery.session["id"]))
    # A first view derives the thumbnails still missing: a few at a time (object reads,
    # and Pillow decoding off the event loop), not one after another.
    limit = asyncio.Semaphore(THUMBNAILS_AT_ONCE)

    async def thumb(photo: Row) -> str | None:
        async with limit:
            return await thumbnails.ensure(
                gallery.db, services.store, photo, services.settings.thumbnail_pixels
            )

    thumb_keys = await asyncio.gather(*(thumb(photo) for photo in rows))
    photos = []
    for number, (photo, thumb_key) in enumerate(zip(rows, thumb_keys, strict=True), start=1):
        full = _presign(gallery, str(photo["r2_key"]))
        if full is None:
            continue
        photos.append(
            {
                "number": number,
                "full": full,
                "thumb": (_presign(gallery, thumb_key) if thumb_key else None) or full,
                "download": f"/s/{share_code}/photos/{photo['id']}",
            }
        )
    await _count(gallery, "gallery_opens")
    logo_key = gallery.session["gallery_logo_key"]
    return _page(
        "gallery.html",
        customer=gallery.session["customer_name"],
        logo=_presign(gallery, str(logo_key)) if logo_key else None,
        photos=photos,
        zip_url=f"/s/{share_code}/download.zip",
        expires=from_db(gallery.session["expires_at"]),
    )


@router.get(
    "/s/{share_code}/photos/{photo_id}",
    summary="Download one photo of the gallery (a redirect to a presigned, expiring URL)",
    response_class=RedirectResponse,
    status_code=302,
    responses=PAGES,
)
async def gallery_photo(photo_id: str, gallery: GalleryDep) -> Response:
    photo = await repository.gallery_photo(gallery.db, str(gallery.session["id"]), photo_id)
    url = (
        _presign(gallery, str(photo["r2_key"]), f"photo-{photo['id']}{_extension(photo)}")
        if photo is not None
        else None
    )
    if url is None:
        return not_found_page()
    await _count(gallery, "downloads")
    return RedirectResponse(url, status_code=302, headers=HEADERS)


@router.get(
    "/s/{share_code}/download.zip",
    summary='"Download all": the gallery\'s photos as one ZIP, streamed',
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}, **PAGES},
)
async def gallery_zip(gallery: GalleryDep) -> Response:
    rows = await repository.gallery_photos(gallery.db, str(gallery.session["id"]))
    entries = [
        (f"photo-{number:03d}{_extension(photo)}", str(photo["r2_key"]))
        for number, photo in enumerate(rows, start=1)
    ]
    await _count(gallery, "downloads")
    name = f"photos-{gallery.session['id']}.zip"
    return StreamingResponse(
        zip_stream(gallery.services.store, entries, utcnow()),
        media_type="application/zip",
        headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def install_gallery_pages(app: Any) -> None:
    """The 404 and 429 pages for the gallery's routes (HTML, not problem+json: a guest's
    phone shows them)."""

    async def closed(_: Request, __: Exception) -> Response:
        return not_found_page()

    async def limited(_: Request, error: Exception) -> Response:
        assert isinstance(error, RateLimited)
        page = _page("rate_limited.html", 429)
        page.headers["Retry-After"] = str(error.retry_after)
        return page

    app.add_exception_handler(GalleryClosed, closed)
    app.add_exception_handler(RateLimited, limited)
