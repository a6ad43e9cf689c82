"""Printers: validation, the default-printer rules (also under concurrent requests and in
the schema itself), deletion, listing, scoping."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import httpx
import pytest

from boothcloud.db.base import IntegrityViolation
from boothcloud.deps import Services
from tests.conftest import ADMIN, create_customer, license_auth
from tests.photos.helpers import add_photo, add_printer


async def defaults(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    items = (await client.get("/api/printers", headers=headers)).json()["items"]
    return [p["id"] for p in items if p["is_default"]]


async def test_first_printer_is_default_and_listed_first(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    first = await add_printer(client, booth, "first", is_default=False)
    second = await add_printer(client, booth, "second")
    assert first["is_default"] is True
    assert second["is_default"] is False
    third = await add_printer(client, booth, "third", is_default=True)
    assert third["is_default"] is True
    listed = (await client.get("/api/printers", headers=booth)).json()["items"]
    assert [p["id"] for p in listed] == [third["id"], first["id"], second["id"]]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "USB-printer"},
        {"connection_type": "USB"},
        {"connection_type": "wi-fi"},
        {"name": ""},
        {"name": "x" * 201},
        {"colour": "red"},
    ],
)
async def test_invalid_printer_fields(
    client: httpx.AsyncClient, booth: dict[str, str], body: dict[str, Any]
) -> None:
    full = {"name": "P", "type": "inkjet", "connection_type": "network", **body}
    response = await client.post("/api/printers", json=full, headers=booth)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_rename_and_make_default(client: httpx.AsyncClient, booth: dict[str, str]) -> None:
    first = await add_printer(client, booth, "first")
    second = await add_printer(client, booth, "second", type="thermal", connection_type="wifi")
    renamed = await client.patch(
        f"/api/printers/{second['id']}", json={"name": "Lobby", "is_default": True}, headers=booth
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Lobby"
    assert renamed.json()["is_default"] is True
    assert await defaults(client, booth) == [second["id"]]
    untouched = await client.get(f"/api/printers/{first['id']}", headers=booth)
    assert untouched.json()["is_default"] is False


async def test_the_default_cannot_be_unset_directly(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    first = await add_printer(client, booth, "first")
    second = await add_printer(client, booth, "second")
    refused = await client.patch(
        f"/api/printers/{first['id']}", json={"is_default": False}, headers=booth
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "DEFAULT_PRINTER_REQUIRED"
    fine = await client.patch(
        f"/api/printers/{second['id']}", json={"is_default": False}, headers=booth
    )
    assert fine.status_code == 200
    assert await defaults(client, booth) == [first["id"]]


async def test_deleting_the_default_promotes_the_oldest(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    printers = [await add_printer(client, booth, f"p{i}") for i in range(3)]
    await client.patch(
        f"/api/printers/{printers[2]['id']}", json={"is_default": True}, headers=booth
    )
    deleted = await client.delete(f"/api/printers/{printers[2]['id']}", headers=booth)
    assert deleted.status_code == 204
    assert await defaults(client, booth) == [printers[0]["id"]]
    await client.delete(f"/api/printers/{printers[1]['id']}", headers=booth)  # not default
    assert await defaults(client, booth) == [printers[0]["id"]]
    await client.delete(f"/api/printers/{printers[0]['id']}", headers=booth)
    assert (await client.get("/api/printers", headers=booth)).json()["items"] == []
    gone = await client.delete(f"/api/printers/{printers[0]['id']}", headers=booth)
    assert gone.status_code == 404


async def test_deleting_a_printer_returns_its_queue_to_everyone(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    keep = await add_printer(client, booth, "keep")
    drop = await add_printer(client, booth, "drop")
    photo = await add_photo(client, booth, printer_id=drop["id"])
    await client.delete(f"/api/printers/{drop['id']}", headers=booth)
    current = await client.get(f"/api/photos/{photo['id']}", headers=booth)
    assert current.json()["printer_id"] is None
    taken = await client.post(f"/api/printers/{keep['id']}/claim", headers=booth)
    assert taken.json()["id"] == photo["id"]


async def test_concurrent_make_default_keeps_exactly_one(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    printers = [(await add_printer(client, booth, f"p{i}"))["id"] for i in range(5)]
    rng = random.Random(7)
    picks = [rng.choice(printers) for _ in range(30)]
    responses = await asyncio.gather(
        *(
            client.patch(f"/api/printers/{p}", json={"is_default": True}, headers=booth)
            for p in picks
        ),
        *(add_printer(client, booth, f"new{i}", is_default=True) for i in range(5)),
    )
    assert all(r.status_code == 200 for r in responses[:30])
    assert len(await defaults(client, booth)) == 1


async def test_concurrent_first_printers_make_one_default(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    await asyncio.gather(*(add_printer(client, booth, f"p{i}") for i in range(8)))
    assert len(await defaults(client, booth)) == 1


async def test_schema_refuses_two_defaults(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str]
) -> None:
    await add_printer(client, booth, "a")
    second = await add_printer(client, booth, "b")
    with pytest.raises(IntegrityViolation):
        await services.db.execute(
            "UPDATE printers SET is_default = 1 WHERE id = ?", (second["id"],)
        )


async def test_scoping_and_operator_view(
    client: httpx.AsyncClient, customer: dict[str, Any], booth: dict[str, str]
) -> None:
    mine = await add_printer(client, booth, "mine")
    other = await create_customer(client)
    other_booth = license_auth(other["license_key"])
    theirs = await add_printer(client, other_booth, "theirs")
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(
            method,
            f"/api/printers/{theirs['id']}",
            headers=booth,
            **({"json": {"name": "mine now"}} if method == "PATCH" else {}),
        )
        assert response.status_code == 404, method
    listed = (await client.get("/api/printers", headers=booth)).json()["items"]
    assert [p["id"] for p in listed] == [mine["id"]]
    scoped = await client.get("/api/printers", params={"customer_id": other["id"]}, headers=booth)
    assert [p["id"] for p in scoped.json()["items"]] == [mine["id"]]  # a booth sees its own
    everyone = (await client.get("/api/printers", headers=ADMIN)).json()["items"]
    assert {mine["id"], theirs["id"]} <= {p["id"] for p in everyone}
    only = await client.get("/api/printers", params={"customer_id": other["id"]}, headers=ADMIN)
    assert [p["id"] for p in only.json()["items"]] == [theirs["id"]]
    made = await client.post(
        "/api/printers",
        json={"name": "op", "type": "laser", "connection_type": "network",
              "customer_id": customer["id"]},
        headers=ADMIN,
    )  # fmt: skip
    assert made.status_code == 201
    assert made.json()["customer_id"] == customer["id"]
    assert made.json()["is_default"] is False


async def test_pagination_walks_default_first(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    ids = [(await add_printer(client, booth, f"p{i}"))["id"] for i in range(5)]
    await client.patch(f"/api/printers/{ids[3]}", json={"is_default": True}, headers=booth)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/printers", params=params, headers=booth)).json()
        seen += [p["id"] for p in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [ids[3], ids[0], ids[1], ids[2], ids[4]]
    bad = await client.get("/api/printers", params={"cursor": "garbage"}, headers=booth)
    assert bad.status_code == 422
