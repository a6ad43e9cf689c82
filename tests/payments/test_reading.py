"""Reading payments: scoping, pagination, filters, and the daily summary."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from boothcloud.deps import Services
from tests.conftest import ADMIN, create_customer, license_auth
from tests.fakes.xendit_server import FakeXendit
from tests.payments.conftest import CALLBACK_TOKEN, create_payment


async def test_booth_sees_only_its_own_payments(
    client: httpx.AsyncClient, booth: dict[str, str], customer: Any
) -> None:
    mine = await create_payment(client, booth)
    other = await create_customer(client)
    theirs = await create_payment(client, license_auth(other["license_key"]))
    hidden = await client.get(f"/api/payments/{theirs['id']}", headers=booth)
    assert hidden.status_code == 404
    # Byte for byte the answer an unknown id gets: the booth cannot tell B's ids exist.
    unknown = await client.get(f"/api/payments/{theirs['id'][:-1]}0", headers=booth)
    assert hidden.content.replace(theirs["id"].encode(), b"ID") == unknown.content.replace(
        f"{theirs['id'][:-1]}0".encode(), b"ID"
    )
    listed = await client.get("/api/payments", params={"customer_id": other["id"]}, headers=booth)
    assert [p["id"] for p in listed.json()["items"]] == [mine["id"]]
    operator = await client.get(f"/api/payments/{theirs['id']}", headers=ADMIN)
    assert operator.status_code == 200


async def test_cursor_pagination_and_filters(
    client: httpx.AsyncClient, booth: dict[str, str], customer: Any, xendit: FakeXendit
) -> None:
    created = [await create_payment(client, booth, 10_000 + i) for i in range(5)]
    other = await create_customer(client)
    await create_payment(client, license_auth(other["license_key"]))
    xendit.set_status(created[0]["xendit_payment_id"], "PAID")
    await xendit.deliver(client, created[0]["xendit_payment_id"], CALLBACK_TOKEN)

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, "customer_id": customer["id"]}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/payments", params=params, headers=ADMIN)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [p["id"] for p in reversed(created)]

    completed = await client.get("/api/payments", params={"status": "completed"}, headers=ADMIN)
    assert [p["id"] for p in completed.json()["items"]] == [created[0]["id"]]
    everyone = await client.get("/api/payments", headers=ADMIN)
    assert len(everyone.json()["items"]) == 6
    future = await client.get(
        "/api/payments", params={"created_from": "2999-01-01T00:00:00Z"}, headers=ADMIN
    )
    assert future.json()["items"] == []
    past = await client.get(
        "/api/payments", params={"created_to": "2999-01-01T00:00:00Z"}, headers=booth
    )
    assert len(past.json()["items"]) == 5


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"status": "paid"},
        {"cursor": "garbage!"},
        {"created_from": "2026-01-02T00:00:00Z", "created_to": "2026-01-01T00:00:00Z"},
        {"created_from": "2026-01-01"},
    ],
)
async def test_bad_list_queries_are_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    response = await client.get("/api/payments", params=params, headers=ADMIN)
    assert response.status_code == 422, response.text


async def test_summary_by_day_for_operator_and_booth(
    client: httpx.AsyncClient,
    services: Services,
    booth: dict[str, str],
    customer: Any,
    xendit: FakeXendit,
) -> None:
    paid = await create_payment(client, booth, 20_000)  # starter: fee 1 000
    await create_payment(client, booth, 30_000)
    xendit.set_status(paid["xendit_payment_id"], "PAID")
    await xendit.deliver(client, paid["xendit_payment_id"], CALLBACK_TOKEN)
    other = await create_customer(client, license_type="pro")
    other_paid = await create_payment(client, license_auth(other["license_key"]), 100_000)
    xendit.set_status(other_paid["xendit_payment_id"], "PAID")
    await xendit.deliver(client, other_paid["xendit_payment_id"], CALLBACK_TOKEN)
    day = paid["created_at"][:10]

    mine = (await client.get("/api/payments/summary", headers=booth)).json()
    assert mine["customer_id"] == customer["id"]
    assert mine["totals"] == {
        "count": 2,
        "gross": 20_000,
        "platform_fees": 1_000,
        "venue_shares": 0,
        "net": 19_000,
        "refunded": 0,
        "refunds": 0,
        "by_status": {"pending": 1, "processing": 0, "completed": 1, "failed": 0},
        "by_method": {"invoice": {"count": 2, "gross": 20_000}, "qris": {"count": 0, "gross": 0}},
    }
    assert [d["day"] for d in mine["days"]] == [day]
    assert mine["days"][0]["count"] == 2

    overall = (await client.get("/api/payments/summary", headers=ADMIN)).json()
    assert overall["customer_id"] is None
    assert overall["totals"]["gross"] == 120_000
    assert overall["totals"]["platform_fees"] == 1_000 + 3_000
    per_customer = await client.get(
        "/api/payments/summary", params={"customer_id": other["id"]}, headers=ADMIN
    )
    assert per_customer.json()["totals"]["count"] == 1
    too_long = await client.get(
        "/api/payments/summary",
        params={"created_from": "2020-01-01T00:00:00Z", "created_to": "2026-01-01T00:00:00Z"},
        headers=ADMIN,
    )
    assert too_long.status_code == 422


async def test_openapi_documents_payment_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert {"201", "409", "502", "503"} <= set(paths["/api/payments"]["post"]["responses"])
    assert "/api/payments/summary" in paths
    assert "401" in paths["/api/webhooks/xendit"]["post"]["responses"]
    params = {p["name"] for p in paths["/api/payments"]["post"]["parameters"]}
    assert "Idempotency-Key" in params
