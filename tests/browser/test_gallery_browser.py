"""The guest's gallery in a real browser: Debian's headless Chromium, driven by
Playwright, at a phone viewport, against a live server whose objects are on SeaweedFS.

Every thumbnail loads, a full-size image is byte for byte the upload, "download all"
gives a ZIP of the uploads, the QR code on the booth's screen reads back as the share
URL, and an expired and a revoked code show the 404 page. With
`BOOTHCLOUD_SCREENSHOTS=1` the screenshots in docs/screenshots/ are rewritten (see
docs/sessions.md).
"""

from __future__ import annotations

import io
import os
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image

from boothcloud.app import create_app
from boothcloud.settings import Settings
from tests.conftest import ADMIN, make_settings
from tests.live import free_port, serve_in_thread
from tests.s3server import S3Server, s3_server  # noqa: F401 - the session fixture
from tests.sessions.helpers import jpeg

pytestmark = [pytest.mark.browser, pytest.mark.s3]

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing: `./dev test` installs it")
        pytest.skip("/usr/bin/chromium is missing (`./dev test` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live(tmp_path: Path, s3_server: S3Server) -> Iterator[tuple[str, Settings]]:  # noqa: F811
    port = free_port()
    settings = make_settings(
        tmp_path / "data",
        **s3_server.settings(),
        host="127.0.0.1",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
    )
    with serve_in_thread(create_app(settings, apply_migrations=True), port) as url:
        yield url, settings


def _gallery(http: httpx.Client, photos: list[bytes]) -> dict[str, Any]:
    """A customer, its booth device, a session and its photos, uploaded to SeaweedFS."""
    customer = http.post(
        "/api/customers",
        json={"name": "Kilau Photobox", "email": f"owner{os.urandom(4).hex()}@example.com"},
        headers=ADMIN,
    ).json()
    booth = {"Authorization": f"License {customer['license_key']}"}
    device = http.post(
        "/api/licenses/activations", json={"fingerprint": "browser-booth-1"}, headers=booth
    ).json()
    session = http.post("/api/sessions", json={"activation_id": device["id"]}, headers=booth)
    assert session.status_code == 201, session.text
    body: dict[str, Any] = session.json()
    for data in photos:
        photo = http.post("/api/photos", json={"session_id": body["id"]}, headers=booth).json()
        put = httpx.put(photo["upload_url"], content=data, headers={"Content-Type": "image/jpeg"})
        assert put.status_code == 200, put.text
        confirmed = http.post(f"/api/photos/{photo['id']}/uploaded", headers=booth)
        assert confirmed.status_code == 200, confirmed.text
    body["booth"] = booth
    return body


def _until(page: Any, expression: str, seconds: float = 30.0) -> None:
    """Wait until `expression` is true in the page, asked through `page.evaluate`.

    Not `page.wait_for_function`: when its first check is false it re-checks with `eval`
    inside the page, which the gallery's own CSP (`default-src 'none'`) refuses, so the
    test failed whenever the thumbnails were still loading at the first look."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {seconds:g} s: {expression}"
        page.wait_for_timeout(50)


def _shoot(page: Any, name: str, tmp_path: Path) -> None:
    target = SCREENSHOTS if os.environ.get("BOOTHCLOUD_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / name), full_page=True)


def test_the_gallery_on_a_phone(chromium: Any, live: tuple[str, Settings], tmp_path: Path) -> None:
    url, settings = live
    uploads = [jpeg(seed, (1600, 1200)) for seed in range(5)]
    with httpx.Client(base_url=url) as http:
        session = _gallery(http, uploads)
        svg = http.get(f"/api/sessions/{session['id']}/qr.svg", headers=session["booth"])
    context = chromium.new_context(viewport=PHONE, accept_downloads=True, is_mobile=True)
    page = context.new_page()
    try:
        # The booth's screen: the SVG QR code, rendered by the browser, reads back.
        page.set_content(f'<body style="margin:0;background:#fff">{svg.text}</body>')
        shot = Image.open(io.BytesIO(page.screenshot()))
        assert [code.text for code in zxingcpp.read_barcodes(shot)] == [session["share_url"]]

        answer = page.goto(session["share_url"])
        assert answer is not None
        assert answer.status == 200
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        _until(
            page,
            "Array.from(document.querySelectorAll('img.thumb'))"
            ".every(i => i.complete && i.naturalWidth > 0)",
        )
        widths = page.eval_on_selector_all("img.thumb", "els => els.map(e => e.naturalWidth)")
        assert len(widths) == len(uploads)
        assert all(0 < width <= settings.thumbnail_pixels for width in widths)
        page.evaluate("window.scrollTo(0, 0)")
        _shoot(page, "gallery-phone.png", tmp_path)

        full = page.get_attribute("a.full >> nth=0", "href")
        assert full is not None
        assert full.startswith(settings.s3_endpoint_url or "")
        with page.expect_download() as download:
            page.click("#download-all")
        archive = zipfile.ZipFile(download.value.path())
        assert [archive.read(name) for name in archive.namelist()] == uploads
        opened = page.goto(full)
        assert opened is not None
        assert opened.body() == uploads[0]
    finally:
        context.close()


def test_expired_and_revoked_codes_show_the_404_page(
    chromium: Any, live: tuple[str, Settings], tmp_path: Path
) -> None:
    url, settings = live
    with httpx.Client(base_url=url) as http:
        expired = _gallery(http, [jpeg(1)])
        revoked = _gallery(http, [jpeg(2)])
        patched = http.patch(
            f"/api/sessions/{revoked['id']}", json={"revoked": True}, headers=ADMIN
        )
        assert patched.status_code == 200
    with sqlite3.connect(settings.sqlite_path) as db:  # the gallery's time is up
        db.execute(
            "UPDATE sessions SET expires_at = datetime('now', '-1 minute') WHERE id = ?",
            (expired["id"],),
        )
    context = chromium.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    try:
        for session in (expired, revoked):
            answer = page.goto(session["share_url"])
            assert answer is not None
            assert answer.status == 404
            assert page.locator("#not-found h1").inner_text() == "This gallery is not available"
            assert page.locator("img.thumb").count() == 0
        _shoot(page, "gallery-not-found.png", tmp_path)
    finally:
        context.close()
