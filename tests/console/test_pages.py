"""The console's pages in-process: customer search (the API's too), the requeue button's
refusal, backups as background work, the booths from their heartbeats."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from boothcloud.deps import Services
from tests.conftest import ADMIN, ADMIN_TOKEN, create_customer, license_auth
from tests.console.helpers import page_csrf, sign_in
from tests.licenses.test_heartbeat import STOPPED, beat, booth_device, silence


@pytest.fixture
async def console(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        assert (await sign_in(http, ADMIN_TOKEN)).status_code == 303
        yield http


def _names(html: str) -> list[str]:
    return re.findall(r'<td><a href="/console/customers/[^"]+">([^<]+)</a>', html)


async def test_customers_search_by_part_of_name_or_email_with_filters(
    client: httpx.AsyncClient, console: httpx.AsyncClient
) -> None:
    await create_customer(client, name="Kilau Photobox", email="hello@kilau.example")
    await create_customer(client, name="Ceria", email="KILAU-fans@ceria.example")
    pro = await create_customer(client, name="100% Foto", license_type="pro")
    await client.patch(
        f"/api/customers/{pro['id']}", json={"license_status": "suspended"}, headers=ADMIN
    )
    api = await client.get("/api/customers", params={"q": "kilau"}, headers=ADMIN)
    assert [c["name"] for c in api.json()["items"]] == ["Ceria", "Kilau Photobox"]
    literal = await client.get("/api/customers", params={"q": "%"}, headers=ADMIN)
    assert [c["name"] for c in literal.json()["items"]] == ["100% Foto"]  # not a wildcard
    suspended = await client.get(
        "/api/customers", params={"license_status": "suspended"}, headers=ADMIN
    )
    assert [c["id"] for c in suspended.json()["items"]] == [pro["id"]]
    page = await console.get("/console/customers", params={"q": "KILAU", "tier": "starter"})
    assert _names(page.text) == ["Ceria", "Kilau Photobox"]
    page = await console.get("/console/customers", params={"status": "suspended"})
    assert _names(page.text) == ["100% Foto"]
    everyone = await console.get("/console/customers", params={"q": "", "tier": ""})
    assert len(_names(everyone.text)) == 3


async def test_customers_page_through_the_apis_cursor(
    client: httpx.AsyncClient, console: httpx.AsyncClient
) -> None:
    for n in range(27):
        await create_customer(client, name=f"Paged {n:02d}")
    first = await console.get("/console/customers")
    assert len(_names(first.text)) == 25
    cursor = re.search(r'rel="next" href="\?[^"]*cursor=([^"&]+)"', first.text)
    assert cursor is not None
    second = await console.get("/console/customers", params={"cursor": cursor.group(1)})
    assert _names(second.text) == ["Paged 01", "Paged 00"]


async def test_requeueing_a_print_that_is_not_stuck_says_so(
    client: httpx.AsyncClient, console: httpx.AsyncClient, customer: dict[str, Any]
) -> None:
    booth = license_auth(customer["license_key"])
    photo = (await client.post("/api/photos", json={}, headers=booth)).json()
    csrf = await page_csrf(console, "/console/print-queues")
    answer = await console.post(f"/console/print-queues/{photo['id']}/requeue", data={"csrf": csrf})
    assert answer.status_code == 409
    assert "is not stuck in printing (status pending)" in answer.text
    unknown = await console.post(
        "/console/print-queues/01a231de-e6af-723a-a63b-a7584f855311/requeue", data={"csrf": csrf}
    )
    assert unknown.status_code == 404


async def _finished(console: httpx.AsyncClient) -> str:
    for _ in range(600):  # bounded: the backup of an empty database takes well under this
        progress = await console.get("/console/backups/progress")
        if 'data-finished="yes"' in progress.text:
            return progress.text
        await asyncio.sleep(0.05)
    raise AssertionError("the backup task never finished")


async def test_backups_run_in_the_background_and_verify_only_listed_keys(
    console: httpx.AsyncClient, customer: dict[str, Any]
) -> None:
    csrf = await page_csrf(console, "/console/backups")
    started = await console.post("/console/backups", data={"csrf": csrf})
    assert started.status_code == 303  # answered before the work is done
    assert "taken" in await _finished(console)
    listed = await console.get("/console/backups")
    (key,) = re.findall(r"<code>(backups/db-backup-[^<]+\.sql\.gz)</code>", listed.text)
    assert "customers: 1" in listed.text
    elsewhere = await console.post(
        "/console/backups/verify", data={"csrf": csrf, "key": "/etc/passwd"}
    )
    assert elsewhere.status_code == 422
    assert "not a backup in the list" in elsewhere.text
    verified = await console.post("/console/backups/verify", data={"csrf": csrf, "key": key})
    assert verified.status_code == 303
    assert "checksum matches" in await _finished(console)


async def test_booths_show_dead_devices_then_stopped_printers_then_alive_ones(
    client: httpx.AsyncClient, console: httpx.AsyncClient, services: Services
) -> None:
    window = services.settings.heartbeat_window_seconds
    made = {}
    silences = {"alive-booth-1": 60, "dead-booth-1": window + 60, "dead-booth-2": 3 * window}
    for fingerprint, silent in silences.items():
        _, auth, device = await booth_device(client, fingerprint)
        answer = await beat(
            client,
            auth,
            device["id"],
            free_disk_bytes=12 * 1024**3,
            queue_depth=4,
            printers=[STOPPED] if fingerprint == "alive-booth-1" else [],
        )
        assert answer.status_code == 200, answer.text
        await silence(services.db, device["id"], silent)
        made[fingerprint] = device
    page = await console.get("/console/booths")
    assert page.status_code == 200
    sections = re.findall(r'<table id="(\w+)">', page.text)
    assert sections == ["dead", "stopped", "alive"]
    dead, stopped, alive = page.text.split('<table id="')[1:]
    assert re.findall(r"<code>([\w-]+)</code>", dead) == ["dead-booth-2", "dead-booth-1"]
    assert re.findall(r"<code>([\w-]+)</code>", alive) == ["alive-booth-1"]
    assert "DEAD" in dead
    assert "ALIVE" in alive
    for shown in ("0.1.0", "12.0 GiB", '<td class="num">4</td>'):  # agent, disk, queue
        assert shown in alive
    for shown in ("<code>DNP_DS620</code>", "media-empty-error", "Ribbon (ribbon): 3%", "Paper: ?"):
        assert shown in stopped
    one = made["dead-booth-1"]["customer_id"]
    scoped = await console.get("/console/booths", params={"customer_id": one})
    assert re.findall(r"<code>([\w-]+)</code>", scoped.text) == ["dead-booth-1"]
