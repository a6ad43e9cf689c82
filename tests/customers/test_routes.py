"""Customer routes against a real SQLite file: success paths, errors, scoping."""

from __future__ import annotations

import re

import httpx
import pytest

from boothcloud.licenses.keys import KEY_PATTERN
from tests.conftest import ADMIN, create_customer, license_auth

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


async def count_customers(client: httpx.AsyncClient) -> int:
    response = await client.get("/api/customers?limit=200", headers=ADMIN)
    return len(response.json()["items"])


async def test_create_returns_key_location_and_iso_timestamps(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/customers",
        json={
            "name": "Photobox Grand Indonesia",
            "email": "Owner@Example.com",
            "phone": "+62 812 3456 7890",
            "license_type": "pro",
            "purchase_date": "2026-11-01T08:30:00+07:00",
        },
        headers=ADMIN,
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/api/customers/{body['id']}"
    assert body["id"].startswith("cus_")
    assert KEY_PATTERN.match(body["license_key"])
    assert body["license_type"] == "pro"
    assert body["license_status"] == "active"
    assert body["license_expires_at"] is None
    assert body["purchase_date"] == "2026-11-01T01:30:00Z"
    for field in ("created_at", "updated_at"):
        assert ISO_UTC.match(body[field])
    fetched = await client.get(
        body["location"] if "location" in body else response.headers["location"], headers=ADMIN
    )
    assert fetched.json() == body


async def test_license_keys_are_unique_and_random(client: httpx.AsyncClient) -> None:
    keys = {(await create_customer(client))["license_key"] for _ in range(20)}
    assert len(keys) == 20


async def test_duplicate_email_is_409_case_insensitive_and_writes_nothing(
    client: httpx.AsyncClient,
) -> None:
    await create_customer(client, email="dup@example.com")
    before = await count_customers(client)
    response = await client.post(
        "/api/customers", json={"name": "Other", "email": "DUP@example.COM"}, headers=ADMIN
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "email", "message": "a customer with this email exists"}
    ]
    assert await count_customers(client) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.com"}, "name"),
        ({"name": "X"}, "email"),
        ({"name": "", "email": "a@example.com"}, "name"),
        ({"name": "X" * 201, "email": "a@example.com"}, "name"),
        ({"name": "X", "email": "not-an-email"}, "email"),
        ({"name": "X", "email": "a@example.com", "license_type": "gold"}, "license_type"),
        ({"name": "X", "email": "a@example.com", "phone": "call me"}, "phone"),
        (
            {"name": "X", "email": "a@example.com", "purchase_date": "2026-11-01T08:30:00"},
            "purchase_date",
        ),
        ({"name": "X", "email": "a@example.com", "purchase_date": 1e-05}, "purchase_date"),
        ({"name": "X", "email": "a@example.com", "purchase_date": 1767225600}, "purchase_date"),
        ({"name": "X", "email": "a@example.com", "licence_type": "pro"}, "licence_type"),
        ({"name": "Bad\x00name", "email": "a@example.com"}, "name"),
    ],
)
async def test_invalid_fields_are_422_per_field(
    client: httpx.AsyncClient, body: dict[str, str], field: str
) -> None:
    before = await count_customers(client)
    response = await client.post("/api/customers", json=body, headers=ADMIN)
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]]
    assert await count_customers(client) == before


async def test_sql_metacharacters_and_unicode_round_trip(client: httpx.AsyncClient) -> None:
    name = "Robert'); DROP TABLE customers;-- 📸 Fotó Studio 写真"
    created = await create_customer(client, name=name, email="o'brien+booth@example.com")
    fetched = await client.get(f"/api/customers/{created['id']}", headers=ADMIN)
    assert fetched.json()["name"] == name
    assert fetched.json()["email"] == "o'brien+booth@example.com"
    listed = await client.get(
        "/api/customers", params={"email": "O'BRIEN+booth@example.com"}, headers=ADMIN
    )
    assert [c["id"] for c in listed.json()["items"]] == [created["id"]]


async def test_unknown_customer_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/customers/cus_nope", headers=ADMIN)
    assert response.status_code == 404
    assert response.json()["type"].endswith("/not-found")


async def test_booth_sees_only_its_own_customer(client: httpx.AsyncClient) -> None:
    mine = await create_customer(client)
    other = await create_customer(client)
    booth = license_auth(mine["license_key"])
    assert (await client.get(f"/api/customers/{mine['id']}", headers=booth)).status_code == 200
    hidden = await client.get(f"/api/customers/{other['id']}", headers=booth)
    missing = await client.get("/api/customers/cus_nope", headers=booth)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"].replace(other["id"], "X") == missing.json()["detail"].replace(
        "cus_nope", "X"
    )


async def test_list_paginates_with_cursor_newest_first(client: httpx.AsyncClient) -> None:
    created = [await create_customer(client, license_type="enterprise") for _ in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3, "license_type": "enterprise"}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/customers", params=params, headers=ADMIN)).json()
        assert len(page["items"]) <= 3
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"] for c in reversed(created)]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=201", "limit=abc", "cursor=%%%", "cursor=bm9wZQ", "license_type=gold"],
)
async def test_bad_list_queries_are_422(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(f"/api/customers?{query}", headers=ADMIN)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]


async def test_patch_changes_only_sent_fields(
    client: httpx.AsyncClient, customer: dict[str, str]
) -> None:
    url = f"/api/customers/{customer['id']}"
    response = await client.patch(
        url,
        json={
            "license_type": "enterprise",
            "license_expires_at": "2030-01-01T00:00:00Z",
            "phone": "+6281234567",
        },
        headers=ADMIN,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["license_type"] == "enterprise"
    assert body["license_expires_at"] == "2030-01-01T00:00:00Z"
    assert body["name"] == customer["name"]
    perpetual = await client.patch(url, json={"license_expires_at": None}, headers=ADMIN)
    assert perpetual.json()["license_expires_at"] is None
    assert perpetual.json()["phone"] == "+6281234567"


async def test_patch_to_taken_email_is_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    first = await create_customer(client, email="first@example.com")
    second = await create_customer(client)
    response = await client.patch(
        f"/api/customers/{second['id']}",
        json={"email": "FIRST@example.com", "name": "Renamed"},
        headers=ADMIN,
    )
    assert response.status_code == 409
    unchanged = (await client.get(f"/api/customers/{second['id']}", headers=ADMIN)).json()
    assert unchanged["name"] == second["name"]
    assert first["email"] == "first@example.com"


async def test_patch_unknown_is_404_and_bad_status_is_422(
    client: httpx.AsyncClient, customer: dict[str, str]
) -> None:
    assert (
        await client.patch("/api/customers/cus_nope", json={"name": "x"}, headers=ADMIN)
    ).status_code == 404
    bad = await client.patch(
        f"/api/customers/{customer['id']}", json={"license_status": "banned"}, headers=ADMIN
    )
    assert bad.status_code == 422


async def test_rotate_key_stops_the_old_key_at_once(
    client: httpx.AsyncClient, customer: dict[str, str]
) -> None:
    old = license_auth(customer["license_key"])
    url = f"/api/customers/{customer['id']}"
    assert (await client.get(url, headers=old)).status_code == 200
    rotated = await client.post(f"{url}/license-key", headers=ADMIN)
    assert rotated.status_code == 200
    new_key = rotated.json()["license_key"]
    assert new_key != customer["license_key"]
    assert (await client.get(url, headers=old)).status_code == 401
    assert (await client.get(url, headers=license_auth(new_key))).status_code == 200
    assert (
        await client.post("/api/customers/cus_nope/license-key", headers=ADMIN)
    ).status_code == 404
