"""Logging photos: server-chosen keys, the customer's prefix, idempotent retries by the
booth's own id, reads with presigned URLs, lists and filters, erasure, scoping."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from boothcloud.deps import Services
from tests.conftest import ADMIN, create_customer, license_auth
from tests.photos.helpers import JPEG, add_photo, add_printer


async def test_server_chooses_the_key_and_an_upload_url(
    client: httpx.AsyncClient, customer: dict[str, Any], booth: dict[str, str]
) -> None:
    response = await client.post("/api/photos", json={}, headers=booth)
    assert response.status_code == 201
    photo = response.json()
    assert response.headers["location"] == f"/api/photos/{photo['id']}"
    assert uuid.UUID(photo["id"]).version == 7
    pattern = rf"^photos/{customer['id']}/\d{{4}}/\d{{2}}/\d{{2}}/{photo['id']}\.jpg$"
    assert re.match(pattern, photo["r2_key"])
    assert photo["print_status"] == "pending"
    assert photo["printer_id"] is None
    assert photo["upload_url"].startswith("http://testserver/objects/photos/")
    assert photo["created_at"].endswith("Z")

    uploaded = await client.put(photo["upload_url"], content=b"jpeg")
    assert uploaded.status_code == 200
    read = (await client.get(f"/api/photos/{photo['id']}", headers=booth)).json()
    assert read["upload_url"] is None
    assert (await client.get(read["download_url"])).content == b"jpeg"


async def test_supplied_key_under_the_prefix(
    client: httpx.AsyncClient, customer: dict[str, Any], booth: dict[str, str]
) -> None:
    key = f"photos/{customer['id']}/event-7/IMG_0001.jpg"
    photo = await add_photo(client, booth, r2_key=key)
    assert photo["r2_key"] == key
    assert photo["upload_url"] is None
    again = await client.post("/api/photos", json={"r2_key": key}, headers=booth)
    assert again.status_code == 409  # one object, one photo: erasure never hits another
    assert again.json()["code"] == "KEY_IN_USE"


@pytest.mark.parametrize(
    "key",
    [
        "photos/{other}/a.jpg",
        "photos/{cid}",
        "photos/{cid}/",
        "photos/{cid}/../{other}/a.jpg",
        "photos/{cid}/a/../../b.jpg",
        "/photos/{cid}/a.jpg",
        "photos/{cid}//a.jpg",
        "photos/{cid}/" + "x" * 1020,
        "backups/a.sql.gz",
        "",
    ],
)
async def test_bad_keys_are_422(
    client: httpx.AsyncClient, customer: dict[str, Any], booth: dict[str, str], key: str
) -> None:
    r2_key = key.format(cid=customer["id"], other="cus_someone_else")
    response = await client.post("/api/photos", json={"r2_key": r2_key}, headers=booth)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "r2_key"


async def test_same_id_same_body_is_the_same_photo(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    body = {"id": str(uuid.uuid4())}
    first = await client.post("/api/photos", json=body, headers=booth)
    second = await client.post("/api/photos", json=body, headers=booth)
    assert (first.status_code, second.status_code) == (201, 200)
    assert {k: v for k, v in first.json().items() if k != "upload_url"} == {
        k: v for k, v in second.json().items() if k != "upload_url"
    }
    assert second.json()["upload_url"]  # a retried upload gets a fresh URL

    other = {**body, "r2_key": first.json()["r2_key"]}
    conflict = await client.post("/api/photos", json=other, headers=booth)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "IDEMPOTENCY_MISMATCH"


async def test_same_id_is_logged_once_under_concurrency(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    body = {"id": str(uuid.uuid4())}
    responses = await asyncio.gather(
        *(client.post("/api/photos", json=body, headers=booth) for _ in range(12))
    )
    assert sorted(r.status_code for r in responses) == [200] * 11 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    listed = await client.get("/api/photos", headers=booth)
    assert len(listed.json()["items"]) == 1


async def test_retry_after_claim_is_still_the_same_request(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    printer = await add_printer(client, booth)
    body = {"id": str(uuid.uuid4())}
    await add_photo(client, booth, **body)
    claimed = await client.post(f"/api/printers/{printer['id']}/claim", headers=booth)
    assert claimed.json()["id"] == body["id"]
    retry = await client.post("/api/photos", json=body, headers=booth)
    assert retry.status_code == 200
    assert retry.json()["print_status"] == "printing"


async def test_operator_logs_for_a_customer(
    client: httpx.AsyncClient, customer: dict[str, Any], booth: dict[str, str]
) -> None:
    missing = await client.post("/api/photos", json={}, headers=ADMIN)
    assert missing.status_code == 422
    unknown = await client.post("/api/photos", json={"customer_id": "cus_nope"}, headers=ADMIN)
    assert unknown.status_code == 422
    made = await client.post("/api/photos", json={"customer_id": customer["id"]}, headers=ADMIN)
    assert made.status_code == 201
    assert made.json()["customer_id"] == customer["id"]
    other = await create_customer(client)
    forbidden = await client.post("/api/photos", json={"customer_id": other["id"]}, headers=booth)
    assert forbidden.status_code == 403


async def test_printer_must_be_the_customers(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    other = await create_customer(client)
    foreign = await add_printer(client, license_auth(other["license_key"]))
    response = await client.post("/api/photos", json={"printer_id": foreign["id"]}, headers=booth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "printer_id"
    own = await add_printer(client, booth)
    photo = await add_photo(client, booth, printer_id=own["id"])
    assert photo["printer_id"] == own["id"]
    moved = await client.patch(
        f"/api/photos/{photo['id']}", json={"printer_id": foreign["id"]}, headers=booth
    )
    assert moved.status_code == 422
    unassigned = await client.patch(
        f"/api/photos/{photo['id']}", json={"printer_id": None}, headers=booth
    )
    assert unassigned.status_code == 200
    assert unassigned.json()["printer_id"] is None


async def test_operator_patch_takes_only_the_photo_customers_printer(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    own = await add_printer(client, booth)
    other = await create_customer(client)
    foreign = await add_printer(client, license_auth(other["license_key"]))
    photo = await add_photo(client, booth)
    path = f"/api/photos/{photo['id']}"
    refused = await client.patch(path, json={"printer_id": foreign["id"]}, headers=ADMIN)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "printer_id"
    body = {"printer_id": own["id"], "print_status": "printing"}
    moved = await client.patch(path, json=body, headers=ADMIN)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["printer_id"], moved.json()["print_status"]) == (own["id"], "printing")


async def test_list_filters_and_pages(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str]
) -> None:
    printer = await add_printer(client, booth)
    ids = [(await add_photo(client, booth))["id"] for _ in range(5)]
    await client.patch(f"/api/photos/{ids[0]}", json={"printer_id": printer["id"]}, headers=booth)
    await client.patch(f"/api/photos/{ids[1]}", json={"print_status": "printing"}, headers=booth)
    await services.db.execute(
        "UPDATE photos SET created_at = '2025-01-01 00:00:00' WHERE id = ?", (ids[4],)
    )

    async def listed(**params: Any) -> list[str]:
        found: list[str] = []
        cursor = None
        while True:
            query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/photos", params=query, headers=booth)).json()
            found += [p["id"] for p in page["items"]]
            if not (cursor := page["next_cursor"]):
                return found

    assert sorted(await listed()) == sorted(ids)
    assert await listed(printer_id=printer["id"]) == [ids[0]]
    assert await listed(print_status="printing") == [ids[1]]
    assert await listed(created_to="2025-06-01T00:00:00Z") == [ids[4]]
    assert ids[4] not in await listed(created_from="2025-06-01T00:00:00Z")
    bad = await client.get("/api/photos", params={"print_status": "lost"}, headers=booth)
    assert bad.status_code == 422
    assert (
        await client.get("/api/photos", params={"limit": 201}, headers=booth)
    ).status_code == 422


async def test_erasure_removes_row_and_object(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str]
) -> None:
    photo = await add_photo(client, booth)
    await client.put(photo["upload_url"], content=b"face")
    assert await services.store.head(photo["r2_key"]) is not None
    path = f"/api/photos/{photo['id']}"
    assert (await client.delete(path, headers=booth)).status_code == 403
    assert (await client.delete(path, headers=ADMIN)).status_code == 204
    assert await services.store.head(photo["r2_key"]) is None
    assert (await client.get(path, headers=ADMIN)).status_code == 404
    assert (await client.delete(path, headers=ADMIN)).status_code == 404


async def test_another_customers_photo_is_404(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    other = await create_customer(client)
    theirs = await add_photo(client, license_auth(other["license_key"]))
    path = f"/api/photos/{theirs['id']}"
    assert (await client.get(path, headers=booth)).status_code == 404
    patched = await client.patch(path, json={"print_status": "printing"}, headers=booth)
    assert patched.status_code == 404
    assert (await client.get("/api/photos", headers=booth)).json()["items"] == []
    assert (await client.get(path, headers=ADMIN)).status_code == 200
    assert (await client.get("/api/photos/not-a-uuid", headers=booth)).status_code == 404
    assert (await client.get(path)).status_code == 401


async def test_list_filters_by_upload(client: httpx.AsyncClient, booth: dict[str, str]) -> None:
    done = await add_photo(client, booth)
    waiting = await add_photo(client, booth, uploaded=False)

    async def ids(**params: Any) -> list[str]:
        page = await client.get("/api/photos", params=params, headers=booth)
        assert page.status_code == 200, page.text
        return [p["id"] for p in page.json()["items"]]

    assert await ids(uploaded="true") == [done["id"]]
    assert await ids(uploaded="false") == [waiting["id"]]
    assert sorted(await ids()) == sorted([done["id"], waiting["id"]])
    listed = (await client.get("/api/photos", headers=booth)).json()["items"]
    assert {p["id"]: p["uploaded_at"] is not None for p in listed} == {
        done["id"]: True,
        waiting["id"]: False,
    }
    bad = await client.get("/api/photos", params={"uploaded": "maybe"}, headers=booth)
    assert bad.status_code == 422


async def test_the_claim_uses_the_claimable_index(app: Any) -> None:
    """The claim reads only photos waiting with their bytes (migration 0005's partial
    index), not every pending photo of the customer."""
    from boothcloud.photos.repository import claim_statement

    statement = claim_statement("prt_x", "cus_x")
    plan = await app.state.services.db.fetch_all(
        "EXPLAIN QUERY PLAN " + statement.sql, statement.params
    )
    assert any("photos_claimable" in str(row["detail"]) for row in plan), plan


async def test_another_customers_photo_cannot_be_reached(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    """Booth A against booth B's photo, through every photo route and B's object URLs:
    the same answer, byte for byte, as for an id (or key) that exists nowhere; and B's
    photo is unchanged afterwards. A taken id answers A exactly as A reusing its own id
    with another body does, so A cannot tell whose it is."""
    other = await create_customer(client)
    b_booth = license_auth(other["license_key"])
    b_printer = await add_printer(client, b_booth)
    theirs = await add_photo(client, b_booth)
    b_waiting = await add_photo(client, b_booth, uploaded=False)
    before = (await client.get(f"/api/photos/{theirs['id']}", headers=ADMIN)).json()
    own_printer = await add_printer(client, booth)
    unknown = str(uuid.uuid4())

    async def same_as_unknown(method: str, path: str, body: Any = None) -> None:
        for target in (theirs["id"], b_waiting["id"]):
            kwargs: dict[str, Any] = {"headers": booth}
            if body is not None:
                kwargs["json"] = body
            foreign = await client.request(method, path.format(target), **kwargs)
            nowhere = await client.request(method, path.format(unknown), **kwargs)
            assert foreign.status_code in (403, 404), foreign.text
            assert foreign.status_code == nowhere.status_code
            assert foreign.content == nowhere.content.replace(unknown.encode(), target.encode())
            assert foreign.headers["content-type"] == nowhere.headers["content-type"]

    await same_as_unknown("GET", "/api/photos/{}")
    await same_as_unknown("PATCH", "/api/photos/{}", {"print_status": "printing"})
    await same_as_unknown("PATCH", "/api/photos/{}", {"printer_id": own_printer["id"]})
    await same_as_unknown("PATCH", "/api/photos/{}", {"printer_id": None})
    await same_as_unknown("DELETE", "/api/photos/{}")
    await same_as_unknown("POST", "/api/photos/{}/uploaded")

    # Squatting: B's id (even with B's very body) answers as A's own id reused.
    mine = await add_photo(client, booth, id=str(uuid.uuid4()))
    reused = await client.post(
        "/api/photos", json={"id": mine["id"], "printer_id": own_printer["id"]}, headers=booth
    )
    assert reused.status_code == 409
    for body in ({"id": theirs["id"]}, {"id": theirs["id"], "printer_id": own_printer["id"]}):
        squat = await client.post("/api/photos", json=body, headers=booth)
        assert squat.status_code == 409
        assert squat.content == reused.content.replace(mine["id"].encode(), theirs["id"].encode())

    # The queue: A's claims never hand out B's photo; B's printer is an unknown one to A.
    assert (await client.post(f"/api/printers/{own_printer['id']}/claim", headers=booth)).json()[
        "id"
    ] == mine["id"]
    assert (
        await client.post(f"/api/printers/{own_printer['id']}/claim", headers=booth)
    ).status_code == 204
    foreign_claim = await client.post(f"/api/printers/{b_printer['id']}/claim", headers=booth)
    nowhere_claim = await client.post("/api/printers/prt_nowhere/claim", headers=booth)
    assert foreign_claim.status_code == nowhere_claim.status_code == 404
    assert foreign_claim.content == nowhere_claim.content.replace(
        b"prt_nowhere", b_printer["id"].encode()
    )
    listed = await client.get(
        "/api/photos",
        params={"printer_id": b_printer["id"], "customer_id": other["id"]},
        headers=booth,
    )
    assert listed.json()["items"] == []

    # Object URLs: A's own signed URLs re-pointed at B's key are refused like any key.
    own_put = (await client.post("/api/photos", json={}, headers=booth)).json()["upload_url"]
    own_get = (await client.get(f"/api/photos/{mine['id']}", headers=booth)).json()
    nowhere_key = f"photos/{other['id']}/nowhere/{unknown}.jpg"
    for url, method in ((own_put, "PUT"), (own_get["download_url"], "GET")):
        signed_key = url.split("/objects/")[1].split("?")[0]
        foreign = await client.request(
            method, url.replace(signed_key, quote(theirs["r2_key"])), content=JPEG
        )
        nowhere = await client.request(
            method, url.replace(signed_key, quote(nowhere_key)), content=JPEG
        )
        assert foreign.status_code == nowhere.status_code == 403
        assert foreign.content == nowhere.content

    after = (await client.get(f"/api/photos/{theirs['id']}", headers=ADMIN)).json()
    assert {k: v for k, v in after.items() if k != "download_url"} == {
        k: v for k, v in before.items() if k != "download_url"
    }
    b_download = await client.get(after["download_url"])
    assert b_download.content == JPEG
