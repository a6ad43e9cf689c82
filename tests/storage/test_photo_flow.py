"""The booth's whole flow on both object stores: register a printer, log a photo, upload
to the presigned URL (and confirm, which the local store does itself), claim it, download
it, complete it, erase it; and the confirm's checks of what landed."""

from __future__ import annotations

from typing import Any

import pytest

from boothcloud.sessions import repository as sessions_repository
from boothcloud.sessions.thumbnails import derive, thumbnail_key
from tests.conftest import ADMIN, create_customer, license_auth
from tests.photos.helpers import JPEG
from tests.sessions.helpers import jpeg, open_session
from tests.storage.conftest import Backend

IMAGE = {"Content-Type": "image/jpeg"}


async def _booth(backend: Backend) -> tuple[dict[str, Any], dict[str, str], str]:
    customer = await create_customer(backend.api)
    booth = license_auth(customer["license_key"])
    printer = await backend.api.post(
        "/api/printers",
        json={"name": "DNP RX1", "type": "dye-sublimation", "connection_type": "usb"},
        headers=booth,
    )
    assert printer.status_code == 201, printer.text
    return customer, booth, f"/api/printers/{printer.json()['id']}/claim"


async def test_booth_flow(backend: Backend) -> None:
    customer, booth, claim = await _booth(backend)
    api = backend.api
    logged = await api.post("/api/photos", json={}, headers=booth)
    assert logged.status_code == 201, logged.text
    photo = logged.json()
    assert photo["r2_key"].startswith(f"photos/{customer['id']}/")
    assert photo["uploaded_at"] is None
    assert (await api.post(claim, headers=booth)).status_code == 204  # no bytes yet

    uploaded = await backend.http.put(photo["upload_url"], content=JPEG, headers=IMAGE)
    assert uploaded.status_code == 200, uploaded.text
    confirm = f"/api/photos/{photo['id']}/uploaded"
    if backend.name == "s3":  # only a confirm tells the server the object landed
        assert (await api.post(claim, headers=booth)).status_code == 204
        confirmed = await api.post(confirm, headers=booth)
        assert confirmed.status_code == 200, confirmed.text
    current = (await api.get(f"/api/photos/{photo['id']}", headers=booth)).json()
    assert current["uploaded_at"] is not None
    assert (current["object_size"], current["content_type"]) == (len(JPEG), "image/jpeg")
    again = await api.post(confirm, headers=booth)  # idempotent, on both stores
    assert again.status_code == 200
    assert again.json() == {**current, "download_url": None}

    claimed = await api.post(claim, headers=booth)
    assert claimed.status_code == 200
    assert claimed.json()["id"] == photo["id"]
    assert (await backend.http.get(claimed.json()["download_url"])).content == JPEG

    done = await api.patch(
        f"/api/photos/{photo['id']}", json={"print_status": "completed"}, headers=booth
    )
    assert done.json()["print_status"] == "completed"

    erased = await api.delete(f"/api/photos/{photo['id']}", headers=ADMIN)
    assert erased.status_code == 204
    assert await backend.store.head(photo["r2_key"]) is None
    assert (await api.get(f"/api/photos/{photo['id']}", headers=booth)).status_code == 404


async def test_a_session_photo_gets_its_thumbnail_once_it_lands(backend: Backend) -> None:
    """After the upload's answer (the local PUT, or the confirm on S3), a background task
    derives the thumbnail, so the guest's first view of the gallery only presigns; a photo
    outside any session gets none (no guest will see it)."""
    _, booth, _ = await _booth(backend)
    api = backend.api
    session = await open_session(api, booth)
    original = jpeg(3, (320, 240))  # under this fixture's 4 KiB object limit
    photos = []
    for body in ({"session_id": session["id"]}, {}):
        logged = await api.post("/api/photos", json=body, headers=booth)
        assert logged.status_code == 201, logged.text
        photo = logged.json()
        put = await backend.http.put(photo["upload_url"], content=original, headers=IMAGE)
        assert put.status_code == 200, put.text
        if backend.name == "s3":
            confirmed = await api.post(f"/api/photos/{photo['id']}/uploaded", headers=booth)
            assert confirmed.status_code == 200, confirmed.text
        photos.append(photo)
    in_session, loose = photos
    rows = await sessions_repository.gallery_photos(backend.services.db, session["id"])
    assert [row["thumb_key"] for row in rows] == [thumbnail_key(in_session["r2_key"])]
    pixels = backend.services.settings.thumbnail_pixels
    assert await backend.store.get(rows[0]["thumb_key"]) == derive(original, pixels)
    assert await backend.store.head(thumbnail_key(loose["r2_key"])) is None


async def test_confirm_without_an_object_is_409(backend: Backend) -> None:
    _, booth, claim = await _booth(backend)
    photo = (await backend.api.post("/api/photos", json={}, headers=booth)).json()
    missing = await backend.api.post(f"/api/photos/{photo['id']}/uploaded", headers=booth)
    assert missing.status_code == 409
    assert missing.json()["code"] == "OBJECT_MISSING"
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await backend.api.post(claim, headers=booth)).status_code == 204


@pytest.mark.parametrize(
    ("name", "data", "content_type", "code"),
    [
        ("empty.jpg", b"", "image/jpeg", "OBJECT_EMPTY"),
        ("notes.txt", b"hello", "text/plain", "OBJECT_NOT_IMAGE"),
        ("vector.svg", b"<svg/>", "image/svg+xml", "OBJECT_NOT_IMAGE"),
        ("huge.jpg", b"\xff" * 4097, "image/jpeg", "OBJECT_TOO_LARGE"),  # limit: 4096
    ],
)
async def test_confirm_refuses_what_cannot_be_printed(
    backend: Backend, name: str, data: bytes, content_type: str, code: str
) -> None:
    customer, booth, claim = await _booth(backend)
    key = f"photos/{customer['id']}/own/{name}"
    await backend.store.put(key, data, content_type)  # the booth wrote it itself
    photo = (await backend.api.post("/api/photos", json={"r2_key": key}, headers=booth)).json()
    refused = await backend.api.post(f"/api/photos/{photo['id']}/uploaded", headers=booth)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == code
    current = (await backend.api.get(f"/api/photos/{photo['id']}", headers=booth)).json()
    assert current["uploaded_at"] is None
    assert (await backend.api.post(claim, headers=booth)).status_code == 204


async def test_booth_supplied_key_already_stored_is_confirmed(backend: Backend) -> None:
    """A booth that writes to the bucket itself logs the key, then confirms it."""
    customer, booth, claim = await _booth(backend)
    key = f"photos/{customer['id']}/event-7/IMG_0001.png"
    await backend.store.put(key, JPEG, "image/png")
    photo = (await backend.api.post("/api/photos", json={"r2_key": key}, headers=booth)).json()
    assert photo["uploaded_at"] is None  # logging never looks at the store
    confirmed = await backend.api.post(f"/api/photos/{photo['id']}/uploaded", headers=ADMIN)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["content_type"] == "image/png"
    assert (await backend.api.post(claim, headers=booth)).json()["id"] == photo["id"]


@pytest.mark.parametrize(
    ("data", "headers", "code"),
    [(b"", IMAGE, "OBJECT_EMPTY"), (JPEG, {"Content-Type": "text/html"}, "OBJECT_NOT_IMAGE")],
)
async def test_local_put_of_a_photo_is_checked_before_it_lands(
    backend: Backend, data: bytes, headers: dict[str, str], code: str
) -> None:
    if backend.name != "local":
        pytest.skip("the local store's own PUT; S3 stores what it gets and the confirm checks")
    _, booth, claim = await _booth(backend)
    photo = (await backend.api.post("/api/photos", json={}, headers=booth)).json()
    refused = await backend.http.put(photo["upload_url"], content=data, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == code
    assert await backend.store.head(photo["r2_key"]) is None  # nothing written
    assert (await backend.api.post(claim, headers=booth)).status_code == 204

    assert (await backend.http.put(photo["upload_url"], content=JPEG)).status_code == 200
    first = (await backend.api.get(f"/api/photos/{photo['id']}", headers=booth)).json()
    again = await backend.http.put(photo["upload_url"], content=data, headers=headers)
    assert again.status_code == 422  # refused before it replaces the good object
    assert await backend.store.get(photo["r2_key"]) == JPEG
    later = (await backend.api.get(f"/api/photos/{photo['id']}", headers=booth)).json()
    assert (later["uploaded_at"], later["object_size"]) == (first["uploaded_at"], len(JPEG))
    assert (await backend.api.post(claim, headers=booth)).json()["id"] == photo["id"]


async def test_local_put_again_records_the_new_object(backend: Backend) -> None:
    if backend.name != "local":
        pytest.skip("the local store's own PUT")
    _, booth, _ = await _booth(backend)
    photo = (await backend.api.post("/api/photos", json={}, headers=booth)).json()
    await backend.http.put(photo["upload_url"], content=JPEG)
    first = (await backend.api.get(f"/api/photos/{photo['id']}", headers=booth)).json()
    png = b"\x89PNG" + bytes(100)
    replaced = await backend.http.put(
        photo["upload_url"], content=png, headers={"Content-Type": "image/png"}
    )
    assert replaced.status_code == 200
    later = (await backend.api.get(f"/api/photos/{photo['id']}", headers=booth)).json()
    assert later["uploaded_at"] == first["uploaded_at"]  # the first upload's time stays
    assert (later["object_size"], later["content_type"]) == (len(png), "image/png")
