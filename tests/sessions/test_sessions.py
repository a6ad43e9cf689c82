"""Sessions through the API: opening from the booth's own device, scoping, filters,
closing, revoking and extending, share codes and URLs, expiry per tier."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from boothcloud.timeutil import from_db, to_api, utcnow
from tests.conftest import ADMIN, create_customer, license_auth
from tests.photos.helpers import add_photo
from tests.sessions.helpers import activate, open_session


async def test_booth_opens_a_session_with_an_unguessable_share_url(
    client: httpx.AsyncClient, booth: dict[str, str], customer: dict[str, Any]
) -> None:
    activation = await activate(client, booth)
    session = await open_session(client, booth, activation["id"])
    assert session["status"] == "open"
    assert session["customer_id"] == customer["id"]
    assert session["activation_id"] == activation["id"]
    assert session["payment_id"] is None
    code = session["share_code"]
    assert len(code) >= 32  # 24 random bytes, base64url: 192 bits
    assert session["share_url"] == f"http://testserver/s/{code}"
    opened = from_db(session["created_at"])
    assert from_db(session["expires_at"]) - opened == timedelta(days=7)  # starter
    other = await open_session(client, booth, activation["id"])
    assert other["share_code"] != code
    read = await client.get(f"/api/sessions/{session['id']}", headers=booth)
    assert read.status_code == 200
    assert read.json() == session


async def test_gallery_lifetime_follows_the_tier_and_settings(client: httpx.AsyncClient) -> None:
    pro = await create_customer(client, license_type="pro")
    enterprise = await create_customer(client, license_type="enterprise")
    for owner, days in ((pro, 30), (enterprise, 90)):
        session = await open_session(client, license_auth(owner["license_key"]))
        lifetime = from_db(session["expires_at"]) - from_db(session["created_at"])
        assert lifetime == timedelta(days=days)


async def test_a_booth_cannot_open_with_another_customers_device(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    other = license_auth((await create_customer(client))["license_key"])
    foreign = await activate(client, other)
    response = await client.post(
        "/api/sessions", json={"activation_id": foreign["id"]}, headers=booth
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "activation_id"
    listed = await client.get("/api/sessions", headers=ADMIN)
    assert listed.json()["items"] == []  # nothing written


async def test_only_a_booth_opens_sessions(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/sessions", json={"activation_id": "x"}, headers=ADMIN)
    assert response.status_code == 403
    assert (await client.post("/api/sessions", json={"activation_id": "x"})).status_code == 401


async def test_another_customers_session_answers_like_an_unknown_one(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    other = license_auth((await create_customer(client))["license_key"])
    theirs = await open_session(client, other)
    for path in ("", "/qr.svg", "/qr.png"):
        foreign = await client.get(f"/api/sessions/{theirs['id']}{path}", headers=booth)
        unknown = await client.get(f"/api/sessions/ses_unknown{path}", headers=booth)
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json()["detail"].replace(theirs["id"], "X") == unknown.json()[
            "detail"
        ].replace("ses_unknown", "X")
    patched = await client.patch(
        f"/api/sessions/{theirs['id']}", json={"status": "closed"}, headers=booth
    )
    assert patched.status_code == 404
    assert (await client.get(f"/api/sessions/{theirs['id']}", headers=other)).json()[
        "status"
    ] == "open"


async def test_a_photo_takes_only_a_session_of_its_own_customer(
    client: httpx.AsyncClient, booth: dict[str, str], customer: dict[str, Any]
) -> None:
    other = license_auth((await create_customer(client))["license_key"])
    theirs = await open_session(client, other)
    refused = await client.post("/api/photos", json={"session_id": theirs["id"]}, headers=booth)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "session_id"
    unknown = await client.post("/api/photos", json={"session_id": "ses_nope"}, headers=booth)
    assert unknown.status_code == 422
    assert unknown.json() == {
        **refused.json(),
        "detail": unknown.json()["detail"],
    }
    assert (await client.get("/api/photos", headers=booth)).json()["items"] == []
    # The operator is held to the same rule when it names the customer.
    operator = await client.post(
        "/api/photos",
        json={"session_id": theirs["id"], "customer_id": customer["id"]},
        headers=ADMIN,
    )
    assert operator.status_code == 422
    mine = await open_session(client, booth)
    photo = await add_photo(client, booth, session_id=mine["id"])
    assert photo["session_id"] == mine["id"]


async def test_lists_are_scoped_and_filter_by_customer_device_status_and_date(
    client: httpx.AsyncClient,
) -> None:
    customer = await create_customer(client, license_type="pro")  # two devices
    booth = license_auth(customer["license_key"])
    first_device = await activate(client, booth)
    second_device = await activate(client, booth)
    a = await open_session(client, booth, first_device["id"])
    b = await open_session(client, booth, second_device["id"])
    other_customer = await create_customer(client)
    c = await open_session(client, license_auth(other_customer["license_key"]))
    await client.patch(f"/api/sessions/{a['id']}", json={"status": "closed"}, headers=booth)

    async def ids(headers: dict[str, str], **params: Any) -> list[str]:
        response = await client.get("/api/sessions", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(booth) == [b["id"], a["id"]]
    assert await ids(booth, customer_id=other_customer["id"]) == [b["id"], a["id"]]
    assert await ids(ADMIN) == [c["id"], b["id"], a["id"]]
    assert await ids(ADMIN, customer_id=customer["id"]) == [b["id"], a["id"]]
    assert await ids(ADMIN, activation_id=first_device["id"]) == [a["id"]]
    assert await ids(ADMIN, status="closed") == [a["id"]]
    tomorrow = to_api(utcnow() + timedelta(days=1))
    yesterday = to_api(utcnow() - timedelta(days=1))
    assert await ids(ADMIN, created_from=tomorrow) == []
    assert await ids(ADMIN, created_from=yesterday, created_to=tomorrow) == [
        c["id"],
        b["id"],
        a["id"],
    ]
    page = await client.get("/api/sessions", params={"limit": 2}, headers=ADMIN)
    rest = await client.get(
        "/api/sessions", params={"limit": 2, "cursor": page.json()["next_cursor"]}, headers=ADMIN
    )
    assert [i["id"] for i in rest.json()["items"]] == [a["id"]]
    assert (
        await client.get("/api/sessions", params={"limit": 0}, headers=ADMIN)
    ).status_code == 422


async def test_close_revoke_and_extend(client: httpx.AsyncClient, booth: dict[str, str]) -> None:
    session = await open_session(client, booth)
    path = f"/api/sessions/{session['id']}"
    closed = await client.patch(path, json={"status": "closed"}, headers=booth)
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert closed.json()["closed_at"] is not None
    again = await client.patch(path, json={"status": "closed"}, headers=booth)
    assert again.status_code == 200
    assert again.json() == closed.json()
    reopen = await client.patch(path, json={"status": "open"}, headers=booth)
    assert reopen.status_code == 422
    later = to_api(utcnow() + timedelta(days=60))
    for body in ({"revoked": True}, {"expires_at": later}):
        assert (await client.patch(path, json=body, headers=booth)).status_code == 403
    extended = await client.patch(path, json={"expires_at": later}, headers=ADMIN)
    assert extended.status_code == 200
    assert extended.json()["expires_at"] == later
    past = to_api(utcnow() - timedelta(minutes=1))
    assert (await client.patch(path, json={"expires_at": past}, headers=ADMIN)).status_code == 422
    revoked = await client.patch(path, json={"revoked": True}, headers=ADMIN)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    refused = await client.patch(path, json={"expires_at": later}, headers=ADMIN)
    assert refused.status_code == 409
    assert refused.json()["code"] == "GALLERY_REVOKED"
    assert (await client.patch(path, json={"revoked": False}, headers=ADMIN)).status_code == 422
    assert (await client.patch(path, json={"bogus": 1}, headers=ADMIN)).status_code == 422


async def test_a_deactivated_device_keeps_its_sessions(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    device = await activate(client, booth)
    session = await open_session(client, booth, device["id"])
    deleted = await client.delete(f"/api/licenses/activations/{device['id']}", headers=booth)
    assert deleted.status_code == 204, deleted.text
    read = await client.get(f"/api/sessions/{session['id']}", headers=booth)
    assert read.status_code == 200
    assert read.json()["activation_id"] is None
