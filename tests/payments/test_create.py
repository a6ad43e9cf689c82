"""Creating a payment: the Xendit invoice request, validation, failures, 503 without a key."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from boothcloud.app import create_app
from boothcloud.deps import Services
from boothcloud.settings import Settings
from tests.conftest import ADMIN, create_customer, license_auth
from tests.fakes.xendit_server import SECRET_KEY, FakeXendit
from tests.payments.conftest import CLIENT_TIMEOUT, create_payment, get_payment, payment_settings


async def test_booth_creates_payment_and_invoice(
    client: httpx.AsyncClient, booth: dict[str, str], customer: Any, xendit: FakeXendit
) -> None:
    response = await client.post(
        "/api/payments",
        json={"amount": 25_000, "description": "Strip x2", "payer_email": "guest@example.com"},
        headers=booth,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/api/payments/{body['id']}"
    assert body["id"].startswith("pay_")
    assert body["status"] == "pending"
    assert body["customer_id"] == customer["id"]
    assert body["amount"] == 25_000
    assert body["platform_fee"] == 1_250  # starter: 5 %
    [invoice] = xendit.invoices.values()
    assert body["xendit_payment_id"] == invoice["id"]
    assert body["invoice_url"] == invoice["invoice_url"]
    assert body["expires_at"].endswith("Z")
    assert body["created_at"].endswith("Z")

    [sent] = xendit.requests  # already validated against the SDK's CreateInvoiceRequest
    assert sent == {
        "external_id": body["id"],
        "amount": 25_000,
        "currency": "IDR",
        "description": "Strip x2",
        "payer_email": "guest@example.com",
        "invoice_duration": 900,
        "success_redirect_url": "https://booth.example.com/paid",
        "failure_redirect_url": "https://booth.example.com/failed",
    }
    [headers] = xendit.headers
    assert (
        headers["authorization"] == "Basic " + base64.b64encode(f"{SECRET_KEY}:".encode()).decode()
    )
    assert "for-user-id" not in headers
    assert await get_payment(client, booth, body["id"]) == body


async def test_sub_account_gets_for_user_id_and_platform_fee(
    client: httpx.AsyncClient, services: Services, customer: Any, xendit: FakeXendit
) -> None:
    await services.db.execute(
        "UPDATE customers SET xendit_sub_account_id = ? WHERE id = ?", ("sub_123", customer["id"])
    )
    body = await create_payment(client, ADMIN, 40_000, customer_id=customer["id"])
    assert xendit.headers[0]["for-user-id"] == "sub_123"
    assert xendit.requests[0]["fees"] == [{"type": "Platform Fee", "value": body["platform_fee"]}]
    assert next(iter(xendit.invoices.values()))["user_id"] == "sub_123"


async def test_operator_must_name_an_existing_customer(client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/payments", json={"amount": 10_000}, headers=ADMIN)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "customer_id"
    unknown = await client.post(
        "/api/payments", json={"amount": 10_000, "customer_id": "cus_nope"}, headers=ADMIN
    )
    assert unknown.status_code == 422


@pytest.mark.parametrize(
    ("amount", "field"),
    [(999, "amount"), (50_000_001, "amount"), (0, "amount"), (10.5, "amount"), ("1000", "amount")],
)
async def test_amount_must_be_whole_rupiah_within_bounds(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit, amount: Any, field: str
) -> None:
    response = await client.post("/api/payments", json={"amount": amount}, headers=booth)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field
    assert xendit.requests == []


async def test_booth_cannot_create_for_another_customer(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    other = await create_customer(client)
    response = await client.post(
        "/api/payments", json={"amount": 10_000, "customer_id": other["id"]}, headers=booth
    )
    assert response.status_code == 404
    assert xendit.requests == []


async def test_unauthenticated_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/payments", json={"amount": 10_000})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("status", "delay", "cause"),
    [
        (None, CLIENT_TIMEOUT * 3, "TIMEOUT"),
        (500, 0.0, "HTTP_5XX"),
        (503, 0.0, "HTTP_5XX"),
        (400, 0.0, "HTTP_4XX"),
    ],
)
async def test_xendit_failure_is_502_and_payment_failed(
    client: httpx.AsyncClient,
    booth: dict[str, str],
    xendit: FakeXendit,
    status: int | None,
    delay: float,
    cause: str,
) -> None:
    xendit.fail_next(status=status, delay=delay)
    response = await client.post("/api/payments", json={"amount": 10_000}, headers=booth)
    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["code"] == f"XENDIT_{cause}"
    assert cause.lower() in problem["detail"]
    payment_id = response.headers["location"].rsplit("/", 1)[1]
    payment = await get_payment(client, booth, payment_id)
    assert payment["status"] == "failed"
    assert payment["failure_reason"].startswith(f"xendit {cause.lower()}")
    assert payment["xendit_payment_id"] is None


async def test_without_secret_key_payments_503_and_rest_works(
    tmp_path: Path, xendit: FakeXendit
) -> None:
    settings: Settings = payment_settings(tmp_path / "nokey", xendit, xendit_secret_key=None)
    app: FastAPI = create_app(settings, apply_migrations=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            customer = await create_customer(client)
            booth = license_auth(customer["license_key"])
            response = await client.post("/api/payments", json={"amount": 10_000}, headers=booth)
            assert response.status_code == 503
            assert response.json()["code"] == "XENDIT_NOT_CONFIGURED"
            assert "BOOTHCLOUD_XENDIT_SECRET_KEY" in response.json()["detail"]
            listed = await client.get("/api/payments", headers=booth)
            assert listed.status_code == 200
            assert listed.json()["items"] == []
            assert (await client.get(f"/api/customers/{customer['id']}", headers=booth)).is_success
    assert xendit.requests == []
