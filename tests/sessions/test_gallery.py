"""The guest's gallery and the QR code, on real files: thumbnails derived once and stored
beside the original, full size and downloads through presigned URLs, the streamed ZIP,
the one 404 page for wrong, expired and revoked codes, and the per-client rate limit."""

from __future__ import annotations

import io
import re
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import httpx
import zxingcpp
from PIL import Image

from boothcloud.deps import Services
from boothcloud.sessions import repository as sessions_repository
from boothcloud.sessions.archive import zip_stream
from boothcloud.sessions.thumbnails import thumbnail_key
from boothcloud.storage.local import LocalStore
from boothcloud.timeutil import utcnow
from tests.conftest import ADMIN
from tests.sessions.helpers import add_session_photo, jpeg, open_session

THUMB = re.compile(r'<img class="thumb" src="([^"]+)"')
FULL = re.compile(r'<a href="([^"]+)" class="full">')


async def _fetch(client: httpx.AsyncClient, url: str) -> bytes:
    response = await client.get(url, follow_redirects=True)
    assert response.status_code == 200, response.text
    return response.content


async def test_the_qr_code_reads_back_as_the_share_url(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    session = await open_session(client, booth)
    png = await client.get(f"/api/sessions/{session['id']}/qr.png", headers=booth)
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert [code.text for code in decoded] == [session["share_url"]]
    svg = await client.get(f"/api/sessions/{session['id']}/qr.svg", headers=ADMIN)
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.content.startswith(b"<svg")
    assert (await client.get(f"/api/sessions/{session['id']}/qr.png")).status_code == 401


async def test_gallery_shows_thumbnails_full_size_and_downloads(
    client: httpx.AsyncClient, booth: dict[str, str], services: Services
) -> None:
    session = await open_session(client, booth)
    originals = [jpeg(seed, (1600, 1200)) for seed in range(3)]
    photos = [await add_session_photo(client, booth, session["id"], data) for data in originals]
    page = await client.get(f"/s/{session['share_code']}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-robots-tag"] == "noindex, nofollow"
    assert '<meta name="robots" content="noindex, nofollow">' in page.text
    assert page.headers["cache-control"] == "private, no-store"
    assert "https://" not in page.text.replace("http://testserver/", "")  # nothing from a CDN
    thumbs = THUMB.findall(page.text)
    fulls = FULL.findall(page.text)
    assert len(thumbs) == len(fulls) == 3
    for thumb, full, photo, original in zip(thumbs, fulls, photos, originals, strict=True):
        assert "signature=" in thumb
        assert "expires=" in full
        small = Image.open(io.BytesIO(await _fetch(client, thumb.replace("&amp;", "&"))))
        assert max(small.size) == services.settings.thumbnail_pixels
        assert await _fetch(client, full.replace("&amp;", "&")) == original
        # stored beside the original, recorded on the photo
        assert await services.store.head(thumbnail_key(photo["r2_key"])) is not None
        download = await client.get(
            f"/s/{session['share_code']}/photos/{photo['id']}", follow_redirects=True
        )
        assert download.content == original
        # saved under its own name, not shown: the link's `download` attribute is lost once
        # the redirect leaves the page's origin (an R2 bucket)
        assert download.headers["content-disposition"] == (
            f'attachment; filename="photo-{photo["id"]}.jpg"'
        )
        # the page's own images are shown, not downloaded
        shown = await client.get(full.replace("&amp;", "&"))
        assert "content-disposition" not in shown.headers
    # Derived once: the second view presigns the same stored thumbnails.
    rows = await sessions_repository.gallery_photos(services.db, session["id"])
    assert all(row["thumb_key"] for row in rows)
    before = [await services.store.head(row["thumb_key"]) for row in rows]
    again = await client.get(f"/s/{session['share_code']}")
    assert len(THUMB.findall(again.text)) == 3
    assert [await services.store.head(row["thumb_key"]) for row in rows] == before


async def test_download_all_is_a_zip_of_the_originals(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    session = await open_session(client, booth)
    originals = [jpeg(seed) for seed in range(4)]
    for data in originals:
        await add_session_photo(client, booth, session["id"], data)
    response = await client.get(f"/s/{session['share_code']}/download.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == [f"photo-{n:03d}.jpg" for n in range(1, 5)]
        assert [archive.read(name) for name in names] == originals


async def test_wrong_expired_and_revoked_codes_get_the_same_404_page(
    client: httpx.AsyncClient, booth: dict[str, str], services: Services
) -> None:
    live = await open_session(client, booth)
    expired = await open_session(client, booth)
    revoked = await open_session(client, booth)
    await services.db.execute(
        "UPDATE sessions SET expires_at = datetime('now', '-1 second') WHERE id = ?",
        (expired["id"],),
    )
    patch = await client.patch(
        f"/api/sessions/{revoked['id']}", json={"revoked": True}, headers=ADMIN
    )
    assert patch.status_code == 200
    wrong = live["share_code"][:-1] + ("A" if live["share_code"][-1] != "A" else "B")
    pages = []
    for code in (wrong, expired["share_code"], revoked["share_code"], "x" * 500, "short"):
        for path in ("", "/download.zip", "/photos/anything"):
            response = await client.get(f"/s/{code}{path}")
            assert response.status_code == 404
            assert response.headers["x-robots-tag"] == "noindex, nofollow"
            pages.append(response.text)
    assert len(set(pages)) == 1
    assert "This gallery is not available" in pages[0]
    assert (await client.get(f"/s/{live['share_code']}")).status_code == 200


async def test_a_photo_of_another_session_is_not_downloadable_by_this_code(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    mine = await open_session(client, booth)
    other = await open_session(client, booth)
    photo = await add_session_photo(client, booth, other["id"], jpeg(1))
    response = await client.get(f"/s/{mine['share_code']}/photos/{photo['id']}")
    assert response.status_code == 404


async def test_gallery_shows_the_customers_name_and_logo(
    client: httpx.AsyncClient, booth: dict[str, str], customer: dict[str, Any]
) -> None:
    session = await open_session(client, booth)
    logo = jpeg(9, (200, 80))
    uploaded = await client.put(
        f"/api/customers/{customer['id']}/gallery-logo",
        content=logo,
        headers={**booth, "Content-Type": "image/jpeg"},
    )
    assert uploaded.status_code == 204, uploaded.text
    page = await client.get(f"/s/{session['share_code']}")
    assert customer["name"] in page.text
    logo_url = re.search(r'<header>\s*<img src="([^"]+)"', page.text)
    assert logo_url is not None
    assert await _fetch(client, logo_url.group(1).replace("&amp;", "&")) == logo
    not_image = await client.put(
        f"/api/customers/{customer['id']}/gallery-logo",
        content=b"<svg/>",
        headers={**booth, "Content-Type": "image/svg+xml"},
    )
    assert not_image.status_code == 422
    removed = await client.delete(f"/api/customers/{customer['id']}/gallery-logo", headers=booth)
    assert removed.status_code == 204
    without = (await client.get(f"/s/{session['share_code']}")).text
    assert re.search(r"<header>\s*<img", without) is None


async def test_a_200_photo_zip_streams_in_constant_memory(tmp_path: Path) -> None:
    """200 photos of 256 KiB (50 MiB in all) go out with a few MiB of Python memory."""
    store = LocalStore(tmp_path / "objects", "http://testserver", "secret")
    photo = bytes(range(256)) * 1024
    entries = []
    for number in range(200):
        key = f"photos/c/{number}.jpg"
        await store.put(key, photo)
        entries.append((f"photo-{number:03d}.jpg", key))
    sizes = 0
    tracemalloc.start()
    try:
        async for chunk in zip_stream(store, entries, utcnow()):
            sizes += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sizes > 200 * len(photo)
    assert peak < 4 * 1024 * 1024, peak  # one 256 KiB chunk at a time, not 50 MiB
