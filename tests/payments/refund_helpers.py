"""Factories for refund tests: paid payments and refund requests, through the real API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN
from tests.fakes.xendit_server import FakeXendit
from tests.payments.conftest import CALLBACK_TOKEN, create_payment

REFUND_WEBHOOK = "/api/webhooks/xendit/refund"


async def paid_invoice(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit, amount: int = 25_000
) -> dict[str, Any]:
    payment = await create_payment(client, booth, amount)
    xendit.set_status(payment["xendit_payment_id"], "PAID")
    answer = await xendit.deliver(client, payment["xendit_payment_id"], CALLBACK_TOKEN)
    assert answer.json()["outcome"] == "applied", answer.text
    return payment


async def paid_qris(
    client: httpx.AsyncClient,
    booth: dict[str, str],
    xendit: FakeXendit,
    amount: int = 25_000,
    **fields: Any,
) -> dict[str, Any]:
    payment = await create_payment(client, booth, amount, method="qris", **fields)
    paid = xendit.pay_qr(payment["xendit_payment_id"])
    answer = await xendit.deliver_qr(client, paid, CALLBACK_TOKEN)
    assert answer.json()["outcome"] == "applied", answer.text
    return payment


async def refund(
    client: httpx.AsyncClient,
    payment_id: str,
    *,
    key: str | None = None,
    expect: int = 201,
    **body: Any,
) -> dict[str, Any]:
    """POST /api/payments/{id}/refunds as the operator; checks the status."""
    headers = dict(ADMIN)
    if key is not None:
        headers["Idempotency-Key"] = key
    response = await client.post(f"/api/payments/{payment_id}/refunds", json=body, headers=headers)
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def refunds_of(
    client: httpx.AsyncClient, payment_id: str, headers: dict[str, str] = ADMIN
) -> list[dict[str, Any]]:
    response = await client.get(f"/api/payments/{payment_id}/refunds", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def end_refund(
    client: httpx.AsyncClient, xendit: FakeXendit, xendit_refund_id: str, status: str
) -> dict[str, Any]:
    """Xendit ends the refund and posts its callback; returns the webhook's answer."""
    xendit.end_refund(xendit_refund_id, status, "REFUND_FAILED" if status == "FAILED" else None)
    answer = await xendit.deliver_refund(client, xendit_refund_id, CALLBACK_TOKEN)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
