"""The operator console and the owner view in a real browser: Debian's headless Chromium,
driven by Playwright, against a live server whose payments go through the local fake
Xendit (its callbacks arrive over real HTTP).

The operator signs in, creates a customer and sees its key, watches a payment completed by
Xendit appear without a reload, exports the CSV and compares it with the API, refunds part
of the payment from its row, requeues a stuck print, takes and verifies a backup, signs
out; an owner sees only their rows. Every request any page makes goes to the server
itself. With `BOOTHCLOUD_SCREENSHOTS=1` the screenshots in docs/console/ are rewritten
(see docs/console.md).
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from boothcloud.app import create_app
from boothcloud.settings import Settings
from boothcloud.timeutil import to_db, utcnow
from tests.browser.test_gallery_browser import chromium  # noqa: F401 - the module fixture
from tests.conftest import ADMIN, ADMIN_TOKEN, make_settings
from tests.fakes.xendit_server import SECRET_KEY, RunningFake
from tests.licenses.test_heartbeat import STOPPED
from tests.live import free_port, serve_in_thread
from tests.sessions.helpers import jpeg

pytestmark = pytest.mark.browser

CALLBACK_TOKEN = "console-callback-token"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


@pytest.fixture(scope="module")
def xendit() -> Iterator[RunningFake]:
    server = RunningFake()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live(tmp_path: Path, xendit: RunningFake) -> Iterator[tuple[str, Settings]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        tmp_path / "data",
        host="127.0.0.1",
        port=port,
        public_url=url,
        xendit_secret_key=SECRET_KEY,
        xendit_base_url=xendit.fake.url,
        xendit_callback_token=CALLBACK_TOKEN,
        print_stuck_after_seconds=60,
    )
    xendit.fake.reset()
    xendit.fake.webhook_url = f"{url}/api/webhooks/xendit"
    xendit.fake.callback_token = CALLBACK_TOKEN
    with serve_in_thread(create_app(settings, apply_migrations=True), port) as served:
        yield served, settings


class Watched:
    """A page whose every request is recorded, to prove nothing comes from elsewhere."""

    def __init__(self, browser: Any, origin: str, viewport: dict[str, int]) -> None:
        self.origin = origin
        self.context = browser.new_context(
            viewport=viewport, accept_downloads=True, is_mobile=viewport == PHONE
        )
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: pytest.fail(f"script error: {error}"))

    def goto(self, path: str) -> Any:
        answer = self.page.goto(self.origin + path)
        assert answer is not None
        return answer

    def check_origins(self) -> None:
        assert self.requests
        outside = [u for u in self.requests if not u.startswith(self.origin + "/")]
        assert not outside, outside

    def shoot(self, name: str, tmp_path: Path) -> None:
        target = SCREENSHOTS if os.environ.get("BOOTHCLOUD_SCREENSHOTS") == "1" else tmp_path
        target.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(target / name), full_page=True)

    def close(self) -> None:
        self.context.close()


def _booth(http: httpx.Client, name: str) -> dict[str, Any]:
    """A customer with a device, a printer and a session, through the API."""
    made = http.post(
        "/api/customers",
        json={"name": name, "email": f"{os.urandom(4).hex()}@example.com"},
        headers=ADMIN,
    )
    assert made.status_code == 201, made.text
    customer: dict[str, Any] = made.json()
    booth = {"Authorization": f"License {customer['license_key']}"}
    device = http.post(
        "/api/licenses/activations", json={"fingerprint": f"{name}-booth"}, headers=booth
    ).json()
    session = http.post("/api/sessions", json={"activation_id": device["id"]}, headers=booth)
    printer = http.post(
        "/api/printers",
        json={"name": f"{name} DNP", "type": "dye-sublimation", "connection_type": "usb"},
        headers=booth,
    )
    customer.update(
        booth=booth, device=device["id"], session=session.json()["id"], printer=printer.json()["id"]
    )
    return customer


def _stuck_print(http: httpx.Client, customer: dict[str, Any], settings: Settings) -> str:
    """An uploaded photo claimed by the printer long enough ago to count as stuck."""
    booth = customer["booth"]
    photo = http.post("/api/photos", json={"session_id": customer["session"]}, headers=booth)
    body = photo.json()
    put = httpx.put(body["upload_url"], content=jpeg(3), headers={"Content-Type": "image/jpeg"})
    assert put.status_code == 200, put.text
    claimed = http.post(f"/api/printers/{customer['printer']}/claim", headers=booth)
    assert claimed.json()["id"] == body["id"], claimed.text
    with sqlite3.connect(settings.sqlite_path) as db:
        db.execute(
            "UPDATE photos SET claimed_at = datetime('now', '-1 hour') WHERE id = ?", (body["id"],)
        )
    return str(body["id"])


def test_the_operator_console(
    chromium: Any,  # noqa: F811
    live: tuple[str, Settings],
    xendit: RunningFake,
    tmp_path: Path,
) -> None:
    url, settings = live
    with httpx.Client(base_url=url) as http:
        studio = _booth(http, "Kilau Photobox")
        quiet = _booth(http, "Ceria Fotobooth")
        stuck = _stuck_print(http, studio, settings)
        beat = {"agent_version": "0.4.2", "free_disk_bytes": 48 * 1024**3, "queue_depth": 3}
        answer = http.post(
            f"/api/licenses/activations/{studio['device']}/heartbeat",
            json={**beat, "printers": [STOPPED]},
            headers=studio["booth"],
        )
        assert answer.status_code == 200, answer.text
    with sqlite3.connect(settings.sqlite_path) as db:  # not heard from for two hours
        silent = to_db(utcnow() - timedelta(hours=2))
        db.execute(
            "UPDATE license_activations SET last_seen_at = ? WHERE id = ?",
            (silent, quiet["device"]),
        )
    tab = Watched(chromium, url, DESKTOP)
    page = tab.page
    try:
        # Sign in: the keyboard alone.
        tab.goto("/console/customers")
        assert page.url == f"{url}/console/login"
        page.get_by_label("Admin token").fill(ADMIN_TOKEN)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{url}/console/customers")
        assert page.locator("#customers tbody tr").count() == 2

        # Create a customer and see its key, once.
        page.get_by_label("Name", exact=True).fill("Snap & Smile Bandung")
        page.get_by_label("Email", exact=True).fill("snap@example.com")
        page.get_by_role("button", name="Create customer").click()
        key = page.locator("#license-key").inner_text()
        assert key.startswith("PB-")
        tab.shoot("customer-new-key.png", tmp_path)
        tab.goto("/console/customers?q=snap")
        assert page.locator("#customers tbody tr").count() == 1
        tab.shoot("customers.png", tmp_path)

        # A payment completed by Xendit appears without a reload.
        with httpx.Client(base_url=url) as http:
            created = http.post("/api/payments", json={"amount": 35_000}, headers=studio["booth"])
            assert created.status_code == 201, created.text
        payment = created.json()
        tab.goto("/console/payments")
        row = page.locator(f'#payments tr[data-id="{payment["id"]}"]')
        assert row.locator(".badge").first.inner_text() == "pending"
        page.evaluate("window.stillHere = true")
        paid = httpx.post(f"{xendit.fake.url}/_fake/invoices/{payment['xendit_payment_id']}/paid")
        assert paid.json()["webhook_status"] == 200, paid.text
        row.locator(".badge.completed").wait_for()
        assert page.evaluate("window.stillHere") is True  # the same document: no reload
        page.reload()  # the daily chart is drawn by the server: now with the money
        page.locator(".chart figcaption").wait_for()
        assert "gross Rp 35.000" in page.locator(".chart figcaption").inner_text()

        # The CSV export parses and matches the API's list.
        with page.expect_download() as download:
            page.click("#export-csv")
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        with httpx.Client(base_url=url) as http:
            api = http.get("/api/payments", headers=ADMIN).json()["items"]
        assert [(r["id"], r["status"], int(r["amount"]), int(r["net_amount"])) for r in rows] == [
            (p["id"], p["status"], p["amount"], p["net_amount"]) for p in api
        ]

        # Refund part of it from its row; the page answers with what Xendit was asked.
        row.get_by_label("Amount to refund").fill("5000")
        row.get_by_role("button", name="Refund").click()
        assert "Rp 5.000, pending at Xendit" in page.locator("#notice").inner_text()
        assert page.locator("#payments tr.part", has_text="(pending, operator): Rp 5.000").count()
        page.locator(".chart figcaption").wait_for()
        tab.shoot("payments.png", tmp_path)

        # Requeue the stuck print.
        tab.goto(f"/console/print-queues?customer_id={studio['id']}")
        assert page.locator(f'#stuck tr[data-id="{stuck}"]').count() == 1
        tab.shoot("print-queues.png", tmp_path)
        page.locator(f'#stuck tr[data-id="{stuck}"] button.requeue').click()
        page.locator("#notice").wait_for()
        assert page.locator(f'#pending tr[data-id="{stuck}"]').count() == 1
        with httpx.Client(base_url=url) as http:
            status = http.get(f"/api/photos/{stuck}", headers=ADMIN).json()["print_status"]
        assert status == "pending"

        tab.goto("/console/booths")
        for table, device in (("dead", quiet), ("stopped", studio), ("alive", studio)):
            assert page.locator(f"#{table} tbody tr").count() == 1
            assert device["id"] in page.locator(f"#{table} tbody").inner_text()
        assert "media-empty-error" in page.locator("#stopped").inner_text()
        tab.shoot("booths.png", tmp_path)

        # Take a backup (background work, its progress polled), see it listed, verify it.
        tab.goto("/console/backups")
        page.click("#take-backup")
        page.locator('#task[data-finished="yes"]').wait_for()
        assert page.locator("#task .error").count() == 0
        page.reload()
        assert page.locator("#backups tbody tr").count() == 1
        assert page.locator("#backups code").first.inner_text().startswith("backups/db-backup-")
        page.locator("#backups button.verify").click()
        page.locator('#task[data-finished="yes"]').wait_for()
        assert "checksum matches" in page.locator("#task").inner_text()
        tab.shoot("backups.png", tmp_path)

        tab.goto(f"/console/customers/{studio['id']}")
        assert page.locator("#devices tbody tr").count() == 1

        page.click("#sign-out")
        page.wait_for_url(f"{url}/console/login?signed_out=1")
        tab.goto("/console/payments")
        assert page.url.startswith(f"{url}/console/login")
        tab.shoot("sign-in.png", tmp_path)
        tab.check_origins()
    finally:
        tab.close()


def test_the_owner_sees_only_their_rows_on_a_phone(
    chromium: Any,  # noqa: F811
    live: tuple[str, Settings],
    tmp_path: Path,
) -> None:
    url, _ = live
    with httpx.Client(base_url=url) as http:
        mine = _booth(http, "Kilat Foto")
        theirs = _booth(http, "Studio Foto Medan")
    tab = Watched(chromium, url, PHONE)
    page = tab.page
    try:
        tab.goto("/console/owner/login")
        page.get_by_label("License key").fill(mine["license_key"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{url}/console/owner")
        text = page.locator("main").inner_text()
        assert "Kilat Foto DNP" in text
        assert mine["session"] in text
        assert "Studio Foto Medan" not in text
        assert theirs["session"] not in text
        shown = page.eval_on_selector_all(
            "[data-customer]", "els => els.map(e => e.dataset.customer)"
        )
        assert shown
        assert set(shown) == {mine["id"]}
        tab.shoot("owner-phone.png", tmp_path)
        # Read-only: the operator's pages send the owner to the operator's sign-in.
        tab.goto("/console/customers")
        assert page.url.startswith(f"{url}/console/login")
        tab.check_origins()
    finally:
        tab.close()
