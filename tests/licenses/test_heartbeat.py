"""Device heartbeats on a real database: liveness (ALIVE | DEAD), printer reports, the
operator's fleet views, scoping, and the certificate refresh (also run on D1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from boothcloud.db.base import Database
from boothcloud.deps import Services
from boothcloud.licenses.certificates import verify_certificate
from boothcloud.schemas import INTEGER_MAX
from boothcloud.timeutil import to_db, utcnow
from tests.conftest import ADMIN, create_customer, license_auth
from tests.photos.helpers import add_printer

STOPPED = {
    "name": "DNP_DS620",
    "state": "stopped",
    "reason": "media-empty-error",
    "markers": [{"name": "Ribbon", "level": 3, "type": "ribbon"}, {"name": "Paper"}],
}


async def booth_device(client: httpx.AsyncClient, fingerprint: str = "booth-pc-1") -> Any:
    customer = await create_customer(client)
    auth = license_auth(customer["license_key"])
    response = await client.post(
        "/api/licenses/activations",
        json={"fingerprint": fingerprint, "name": "Lobby"},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    return customer, auth, response.json()


async def beat(
    client: httpx.AsyncClient, auth: dict[str, str], activation_id: str, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/licenses/activations/{activation_id}/heartbeat",
        json={"agent_version": "0.1.0", **body},
        headers=auth,
    )


async def silence(db: Database, activation_id: str, seconds: int) -> None:
    """The device was last heard from `seconds` ago (the clock is not ours to move)."""
    moment = to_db(utcnow() - timedelta(seconds=seconds))
    await db.execute(
        "UPDATE license_activations SET last_seen_at = ? WHERE id = ?", (moment, activation_id)
    )


async def test_a_heartbeat_records_the_device_and_keeps_it_alive(
    client: httpx.AsyncClient, services: Services
) -> None:
    _, auth, activation = await booth_device(client)
    assert activation["status"] == "ALIVE"  # activating is being heard from
    response = await beat(
        client,
        auth,
        activation["id"],
        free_disk_bytes=12_000_000_000,
        queue_depth=2,
        outbox_depth=5,
        printers=[STOPPED],
    )
    assert response.status_code == 200, response.text
    seen = response.json()["activation"]
    assert seen["status"] == "ALIVE"
    assert (seen["agent_version"], seen["free_disk_bytes"]) == ("0.1.0", 12_000_000_000)
    assert (seen["queue_depth"], seen["outbox_depth"]) == (2, 5)
    listed = (await client.get("/api/licenses/activations", headers=auth)).json()["items"]
    assert listed[0]["last_seen_at"] == seen["last_seen_at"]
    assert listed[0]["status"] == "ALIVE"

    await silence(services.db, activation["id"], services.settings.heartbeat_window_seconds + 5)
    listed = (await client.get("/api/licenses/activations", headers=auth)).json()["items"]
    assert listed[0]["status"] == "DEAD"
    dead = (await client.get("/api/licenses/dead-devices", headers=ADMIN)).json()
    assert [a["id"] for a in dead["items"]] == [activation["id"]]
    assert dead["items"][0]["status"] == "DEAD"

    assert (await beat(client, auth, activation["id"])).json()["activation"]["status"] == "ALIVE"
    dead = (await client.get("/api/licenses/dead-devices", headers=ADMIN)).json()
    assert dead["items"] == []


async def test_the_window_is_the_setting(client: httpx.AsyncClient, services: Services) -> None:
    """Just inside the window: ALIVE; just outside: DEAD."""
    _, auth, activation = await booth_device(client)
    window = services.settings.heartbeat_window_seconds
    await silence(services.db, activation["id"], window - 5)
    listed = (await client.get("/api/licenses/activations", headers=auth)).json()["items"]
    assert listed[0]["status"] == "ALIVE"
    await silence(services.db, activation["id"], window + 5)
    listed = (await client.get("/api/licenses/activations", headers=auth)).json()["items"]
    assert listed[0]["status"] == "DEAD"


async def test_stopped_printers_are_listed_until_reported_otherwise(
    client: httpx.AsyncClient,
) -> None:
    customer, auth, activation = await booth_device(client)
    printer = await add_printer(client, auth, "DNP")
    idle = {"name": "Canon_SELPHY", "state": "idle"}
    report = [{**STOPPED, "printer_id": printer["id"]}, idle]
    assert (await beat(client, auth, activation["id"], printers=report)).status_code == 200
    stopped = (await client.get("/api/licenses/stopped-printers", headers=ADMIN)).json()
    assert len(stopped["items"]) == 1
    item = stopped["items"][0]
    assert item["activation_id"] == activation["id"]
    assert (item["customer_id"], item["device_name"]) == (customer["id"], "Lobby")
    assert (item["name"], item["printer_id"], item["state"]) == (
        "DNP_DS620",
        printer["id"],
        "stopped",
    )
    assert item["reason"] == "media-empty-error"
    assert item["markers"] == [
        {"name": "Ribbon", "level": 3, "type": "ribbon"},
        {"name": "Paper", "level": None, "type": None},
    ]
    assert item["device_status"] == "ALIVE"
    only_theirs = await client.get(
        "/api/licenses/stopped-printers", params={"customer_id": "cus_other"}, headers=ADMIN
    )
    assert only_theirs.json()["items"] == []

    # The next report replaces the last: the printer is back.
    back = [{**STOPPED, "state": "printing", "reason": None}]
    assert (await beat(client, auth, activation["id"], printers=back)).status_code == 200
    stopped = (await client.get("/api/licenses/stopped-printers", headers=ADMIN)).json()
    assert stopped["items"] == []


async def test_fleet_lists_page_with_cursors(client: httpx.AsyncClient, services: Services) -> None:
    ids = []
    for n in range(3):
        _, auth, activation = await booth_device(client, f"booth-pc-page-{n}")
        await beat(client, auth, activation["id"], printers=[STOPPED])
        await silence(services.db, activation["id"], 3600 - n)
        ids.append(activation["id"])
    for path in ("/api/licenses/dead-devices", "/api/licenses/stopped-printers"):
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(path, params=params, headers=ADMIN)).json()
            seen += [item.get("activation_id", item.get("id")) for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted(ids)
        assert len(seen) == len(set(seen))
    first = (await client.get("/api/licenses/dead-devices", headers=ADMIN)).json()["items"]
    assert [a["id"] for a in first] == ids  # longest silent first
    bad = await client.get("/api/licenses/dead-devices", params={"cursor": "x"}, headers=ADMIN)
    assert bad.status_code == 422


async def stopped_names(client: httpx.AsyncClient, customer_id: str) -> list[str]:
    page = await client.get(
        "/api/licenses/stopped-printers", params={"customer_id": customer_id}, headers=ADMIN
    )
    assert page.status_code == 200, page.text
    return [item["name"] for item in page.json()["items"]]


async def agent_version(client: httpx.AsyncClient, auth: dict[str, str]) -> list[str | None]:
    listed = await client.get("/api/licenses/activations", headers=auth)
    return [item["agent_version"] for item in listed.json()["items"]]


async def test_another_customers_activation_answers_like_an_unknown_one(
    client: httpx.AsyncClient,
) -> None:
    customer, their_auth, theirs = await booth_device(client, "their-booth")
    assert (await beat(client, their_auth, theirs["id"], printers=[STOPPED])).status_code == 200
    _, auth, _ = await booth_device(client, "my-booth-1")
    # 404 before any printer is looked at (this one is nobody's).
    nobodys = [{"name": "q", "state": "idle", "printer_id": "prn_unknown"}]
    hidden = await beat(client, auth, theirs["id"], agent_version="6.6.6", printers=nobodys)
    unknown = await beat(client, auth, "act_unknown")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["detail"].replace(theirs["id"], "X") == unknown.json()["detail"].replace(
        "act_unknown", "X"
    )
    # And it wrote nothing of theirs: neither the facts nor the printer report.
    assert await agent_version(client, their_auth) == ["0.1.0"]
    assert await stopped_names(client, customer["id"]) == [STOPPED["name"]]


async def test_a_printer_id_must_be_the_booths_own(client: httpx.AsyncClient) -> None:
    _, other_auth, _ = await booth_device(client, "other-booth")
    theirs = await add_printer(client, other_auth, "Theirs")
    customer, auth, activation = await booth_device(client, "my-booth-2")
    mine = await add_printer(client, auth, "Mine")
    stopped_mine = {**STOPPED, "printer_id": mine["id"]}
    assert (await beat(client, auth, activation["id"], printers=[stopped_mine])).status_code == 200
    for printer_id in (theirs["id"], "prn_unknown"):
        report = [stopped_mine, {"name": "q", "state": "idle", "printer_id": printer_id}]
        response = await beat(
            client, auth, activation["id"], agent_version="9.9.9", printers=report
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "printers"
        assert (
            response.json()["detail"] == "printers: printer_id: no such printer for this customer"
        )
        # Refused whole: the last good report and facts stand.
        assert await agent_version(client, auth) == ["0.1.0"]
        assert await stopped_names(client, customer["id"]) == [STOPPED["name"]]


@pytest.mark.parametrize(
    "body",
    [
        {"printers": [STOPPED, STOPPED]},  # the same queue twice
        {"printers": [{**STOPPED, "state": "offline"}]},
        {"printers": [{**STOPPED, "markers": [{"name": "Ink", "level": 101}]}]},
        {"queue_depth": True},
        {"queue_depth": -1},
        {"agent_version": ""},
        {"certificate_expires_at": "1767225600"},
        {"certificate_expires_at": 1767225600},  # a Unix time is not ISO 8601 either
        {"certificate_expires_at": 1e-05},
        {"unknown": 1},
    ],
)
async def test_bad_reports_are_refused_whole(
    client: httpx.AsyncClient, services: Services, body: dict[str, Any]
) -> None:
    _, auth, activation = await booth_device(client)
    before = await services.db.fetch_one(
        "SELECT * FROM license_activations WHERE id = ?", (activation["id"],)
    )
    response = await beat(client, auth, activation["id"], **body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"].split(".")[0] == next(iter(body))
    after = await services.db.fetch_one(
        "SELECT * FROM license_activations WHERE id = ?", (activation["id"],)
    )
    assert after == before


async def test_the_certificate_is_refreshed_only_near_its_expiry(
    client: httpx.AsyncClient, services: Services
) -> None:
    _, auth, activation = await booth_device(client)
    refresh = timedelta(days=services.settings.certificate_refresh_days)
    far = datetime.now(UTC) + refresh + timedelta(days=1)
    kept = await beat(client, auth, activation["id"], certificate_expires_at=far.isoformat())
    assert kept.json()["certificate"] is None

    near = datetime.now(UTC) + refresh - timedelta(hours=1)
    fresh = await beat(client, auth, activation["id"], certificate_expires_at=near.isoformat())
    issued = fresh.json()["certificate"]
    public_key = (await client.get("/api/licenses/public-key")).json()["public_key_pem"]
    claims = verify_certificate(issued["token"], public_key)
    assert claims["sub"] == activation["id"]
    assert claims["fingerprint"] == "booth-pc-1"
    assert claims["exp"] > near.timestamp()
    assert datetime.fromisoformat(issued["expires_at"]).timestamp() == claims["exp"]
    assert datetime.fromisoformat(issued["grace_until"]).timestamp() == claims["grace_until"]

    # A booth that states nothing (lost its certificate) gets one.
    assert (await beat(client, auth, activation["id"])).json()["certificate"] is not None


async def test_a_suspended_license_gets_no_heartbeat(client: httpx.AsyncClient) -> None:
    customer, auth, activation = await booth_device(client)
    suspended = await client.patch(
        f"/api/customers/{customer['id']}", json={"license_status": "suspended"}, headers=ADMIN
    )
    assert suspended.status_code == 200, suspended.text
    response = await beat(client, auth, activation["id"])
    assert (response.status_code, response.json()["code"]) == (403, "SUSPENDED")


async def test_counts_take_every_integer_each_backend_stores_exactly(
    client: httpx.AsyncClient,
) -> None:
    """Up to 2**53 - 1 (D1 carries JavaScript numbers; SQLite would take 2**63 - 1): the
    largest is kept to the unit, one more is a 422 on every backend, never a 500."""
    _, auth, activation = await booth_device(client)
    kept = await beat(client, auth, activation["id"], free_disk_bytes=INTEGER_MAX)
    assert kept.status_code == 200, kept.text
    assert kept.json()["activation"]["free_disk_bytes"] == 2**53 - 1
    for too_big in (INTEGER_MAX + 1, 2**63 - 1):
        refused = await beat(client, auth, activation["id"], free_disk_bytes=too_big)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "free_disk_bytes"
