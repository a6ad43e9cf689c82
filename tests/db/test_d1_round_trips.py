"""Bridge round trips per hot route on D1, counted (not timed): each is one call.

Every D1 statement call is an HTTP round trip to the bridge (on Cloudflare, a trip to the
Worker's region), so a route's latency is its round trips times that trip. The hot routes
of a booth (booth auth plus the route's read or write) make one call once the process has
seen the booth's key (`auth.require_caller_pipelined`): the license check rides in the
same atomic batch as the route's first statement. A payment makes two: it is recorded
before Xendit is asked and updated after.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from boothcloud.db.d1 import D1Database
from boothcloud.deps import Services
from tests.conftest import ADMIN, create_customer, license_auth
from tests.db.test_d1_app import app_bridge
from tests.db.test_d1_payments import settings  # the app on D1 with payments on
from tests.fakes.xendit_server import FakeXendit
from tests.payments.conftest import xendit, xendit_server
from tests.photos.helpers import add_photo, add_printer

pytestmark = pytest.mark.d1
__all__ = ["app_bridge", "settings", "xendit", "xendit_server"]  # fixtures used here


async def trips(
    services: Services, client: httpx.AsyncClient, method: str, url: str, **kw: Any
) -> tuple[int, httpx.Response]:
    db = services.db
    assert isinstance(db, D1Database)
    before = db.round_trips
    response = await client.request(method, url, **kw)
    return db.round_trips - before, response


async def test_hot_routes_make_one_round_trip(
    client: httpx.AsyncClient, services: Services
) -> None:
    customer = await create_customer(client)
    booth = license_auth(customer["license_key"])
    # The process learns the key on the booth's first request (full lookup: two trips).
    first, printer = await trips(
        services,
        client,
        "POST",
        "/api/printers",
        json={"name": "P1", "type": "dye-sublimation", "connection_type": "usb"},
        headers=booth,
    )
    assert (first, printer.status_code) == (2, 201), printer.text
    printer_id = printer.json()["id"]
    # A key that stopped working is refused on the check riding along (plus the lookup
    # that words the refusal), and nothing was written.
    suspended = await create_customer(client)
    other = license_auth(suspended["license_key"])
    assert (await client.get("/api/photos", headers=other)).status_code == 200
    patched = await client.patch(
        f"/api/customers/{suspended['id']}", json={"license_status": "suspended"}, headers=ADMIN
    )
    assert patched.status_code == 200, patched.text
    count, response = await trips(services, client, "POST", "/api/photos", json={}, headers=other)
    assert (count, response.status_code) == (2, 403), response.text
    listed = await client.get(f"/api/photos?customer_id={suspended['id']}", headers=ADMIN)
    assert listed.json()["items"] == []
    # Refused before any statement (a bad body): the license still answers first.
    assert (await client.get("/api/photos", headers=other)).status_code == 403
    await client.patch(
        f"/api/customers/{suspended['id']}", json={"license_status": "active"}, headers=ADMIN
    )
    assert (await client.get("/api/photos", headers=other)).status_code == 200  # learned again
    await client.patch(
        f"/api/customers/{suspended['id']}", json={"license_status": "suspended"}, headers=ADMIN
    )
    bad = await client.post("/api/photos", json={"printer_id": 5}, headers=other)
    assert bad.status_code == 403, bad.text

    count, response = await trips(
        services, client, "GET", f"/api/customers/{customer['id']}", headers=booth
    )
    assert (count, response.status_code) == (1, 200)
    count, response = await trips(services, client, "POST", "/api/photos", json={}, headers=booth)
    assert (count, response.status_code) == (1, 201), response.text
    photo = response.json()
    count, response = await trips(services, client, "GET", "/api/photos", headers=booth)
    assert (count, response.status_code) == (1, 200)
    assert [p["id"] for p in response.json()["items"]] == [photo["id"]]
    count, response = await trips(
        services, client, "GET", f"/api/photos/{photo['id']}", headers=booth
    )
    assert (count, response.status_code) == (1, 200)
    count, response = await trips(
        services, client, "POST", f"/api/printers/{printer_id}/claim", headers=booth
    )
    assert (count, response.status_code) == (1, 204)  # nothing uploaded yet
    count, response = await trips(services, client, "GET", "/api/printers", headers=booth)
    assert (count, response.status_code) == (1, 200)
    count, response = await trips(
        services,
        client,
        "POST",
        "/api/printers",
        json={"name": "P2", "type": "inkjet", "connection_type": "usb"},
        headers=booth,
    )
    assert (count, response.status_code) == (1, 201), response.text


async def test_a_client_out_of_failures_is_refused_with_a_remembered_key(
    client: httpx.AsyncClient, services: Services
) -> None:
    customer = await create_customer(client)
    booth = license_auth(customer["license_key"])
    assert (await client.get("/api/photos", headers=booth)).status_code == 200  # learned
    wrong = license_auth("pb-wrong-key")
    for _ in range(services.settings.auth_failure_limit_per_minute):
        assert (await client.get("/api/photos", headers=wrong)).status_code == 401
    count, refused = await trips(services, client, "GET", "/api/photos", headers=booth)
    assert (count, refused.status_code) == (0, 429)


async def learned_booth(client: httpx.AsyncClient, **fields: Any) -> dict[str, str]:
    """A new customer's booth headers, its key already seen by the process (one request)."""
    customer = await create_customer(client, **fields)
    booth = license_auth(customer["license_key"])
    assert (await client.get("/api/photos", headers=booth)).status_code == 200
    return booth


async def test_activation_makes_one_round_trip(
    client: httpx.AsyncClient, services: Services
) -> None:
    booth = await learned_booth(client)  # starter: one device
    path = "/api/licenses/activations"
    count, made = await trips(
        services, client, "POST", path, json={"fingerprint": "booth-pc-1"}, headers=booth
    )
    assert (count, made.status_code) == (1, 201), made.text
    assert made.json()["certificate"]
    count, again = await trips(
        services, client, "POST", path, json={"fingerprint": "booth-pc-1"}, headers=booth
    )
    assert (count, again.status_code) == (1, 200), again.text
    assert again.json()["id"] == made.json()["id"]
    # The tier's limit is decided in the same statement: the refusal is one trip too.
    count, full = await trips(
        services, client, "POST", path, json={"fingerprint": "booth-pc-2"}, headers=booth
    )
    assert (count, full.status_code, full.json()["code"]) == (1, 409, "TOO_MANY_DEVICES")
    listed = (await client.get(path, headers=booth)).json()
    assert [a["fingerprint"] for a in listed["items"]] == ["booth-pc-1"]


async def test_payment_makes_two_round_trips(
    client: httpx.AsyncClient, services: Services, xendit: FakeXendit
) -> None:
    booth = await learned_booth(client, license_type="pro")
    count, paid = await trips(
        services, client, "POST", "/api/payments", json={"amount": 25_000}, headers=booth
    )
    assert (count, paid.status_code) == (2, 201), paid.text
    assert paid.json()["platform_fee"] == 750  # pro: 3 %, picked by the tier in the INSERT
    assert paid.json()["xendit_payment_id"] in xendit.invoices
    keyed = {**booth, "Idempotency-Key": "trip-1"}
    count, first = await trips(
        services, client, "POST", "/api/payments", json={"amount": 30_000}, headers=keyed
    )
    assert (count, first.status_code) == (2, 201), first.text
    # A replay: the batch finds the key taken, then reads the stored answer.
    count, replay = await trips(
        services, client, "POST", "/api/payments", json={"amount": 30_000}, headers=keyed
    )
    assert (count, replay.status_code, replay.json()) == (2, 201, first.json())
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(xendit.invoices) == 2


async def test_photo_patch_makes_one_round_trip(
    client: httpx.AsyncClient, services: Services
) -> None:
    booth = await learned_booth(client)
    printer = await add_printer(client, booth)
    photo = await add_photo(client, booth)
    path = f"/api/photos/{photo['id']}"
    for body in ({"printer_id": printer["id"]}, {"print_status": "printing"}):
        count, moved = await trips(services, client, "PATCH", path, json=body, headers=booth)
        assert (count, moved.status_code) == (1, 200), moved.text
    assert moved.json()["print_status"] == "printing"
    assert moved.json()["printer_id"] == printer["id"]
    # A refused change reads the photo to say why (and changes nothing).
    count, refused = await trips(
        services, client, "PATCH", path, json={"print_status": "pending"}, headers=booth
    )
    assert (count, refused.status_code, refused.json()["code"]) == (2, 409, "INVALID_TRANSITION")


async def test_heartbeat_makes_one_round_trip(
    client: httpx.AsyncClient, services: Services
) -> None:
    booth = await learned_booth(client)
    printer = await add_printer(client, booth)
    made = await client.post(
        "/api/licenses/activations", json={"fingerprint": "booth-pc-1"}, headers=booth
    )
    held = made.json()["certificate_expires_at"]
    path = f"/api/licenses/activations/{made.json()['id']}/heartbeat"
    report = [{"name": "DNP", "state": "idle", "printer_id": printer["id"]}]
    body = {"agent_version": "0.1.0", "certificate_expires_at": held, "printers": report}
    count, beat = await trips(services, client, "POST", path, json=body, headers=booth)
    assert (count, beat.status_code, beat.json()["certificate"]) == (1, 200, None), beat.text
    # A certificate near its end is renewed in the same batch (the license row rides along).
    del body["certificate_expires_at"]
    count, renewed = await trips(services, client, "POST", path, json=body, headers=booth)
    assert (count, renewed.status_code) == (1, 200), renewed.text
    assert renewed.json()["certificate"]["token"]
    # Another customer's printer: the batch fails on the rule, then auth is checked and the
    # statements resent alone to word the refusal; nothing was written.
    other = await learned_booth(client)
    theirs = await add_printer(client, other)
    body["printers"] = [{"name": "DNP", "state": "stopped", "printer_id": theirs["id"]}]
    count, refused = await trips(services, client, "POST", path, json=body, headers=booth)
    assert (count, refused.status_code) == (3, 422), refused.text
