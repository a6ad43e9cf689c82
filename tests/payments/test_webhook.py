"""The Xendit webhook: token, exactly-once transitions, ordering, mismatches, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from boothcloud.app import create_app
from boothcloud.deps import Services
from boothcloud.settings import Settings
from tests.conftest import ADMIN, create_customer, license_auth
from tests.fakes.xendit_server import FakeXendit
from tests.live import serve_in_thread
from tests.payments.conftest import CALLBACK_TOKEN, create_payment, get_payment

WEBHOOK = "/api/webhooks/xendit"


async def _events(services: Services, payment_id: str) -> list[dict[str, Any]]:
    return await services.db.fetch_all(
        "SELECT event_key, status, outcome, processed_at FROM xendit_events "
        "WHERE external_id = ? ORDER BY received_at, id",
        (payment_id,),
    )


@pytest.fixture
async def payment(client: httpx.AsyncClient, booth: dict[str, str]) -> dict[str, Any]:
    return await create_payment(client, booth, 30_000)


@pytest.mark.parametrize("token", [None, "", "wrong-token", CALLBACK_TOKEN + "x"])
async def test_wrong_or_missing_token_is_401_and_changes_nothing(
    client: httpx.AsyncClient,
    services: Services,
    booth: dict[str, str],
    payment: dict[str, Any],
    xendit: FakeXendit,
    token: str | None,
) -> None:
    xendit.set_status(payment["xendit_payment_id"], "PAID")
    headers = {} if token is None else {"x-callback-token": token}
    response = await client.post(
        WEBHOOK, json=xendit.callback(payment["xendit_payment_id"]), headers=headers
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert (await get_payment(client, booth, payment["id"]))["status"] == "pending"
    assert await _events(services, payment["id"]) == []


async def test_paid_completes_with_paid_at_and_duplicate_is_processed_once(
    client: httpx.AsyncClient,
    services: Services,
    booth: dict[str, str],
    payment: dict[str, Any],
    xendit: FakeXendit,
) -> None:
    invoice = xendit.set_status(payment["xendit_payment_id"], "PAID")
    first = await xendit.deliver(client, invoice["id"], CALLBACK_TOKEN)
    assert first.status_code == 200
    assert first.json() == {"received": True, "duplicate": False, "outcome": "applied"}
    again = await xendit.deliver(client, invoice["id"], CALLBACK_TOKEN)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True

    paid = await get_payment(client, booth, payment["id"])
    assert paid["status"] == "completed"
    assert paid["paid_at"] == invoice["paid_at"][:19] + "Z"
    assert paid["paid_amount"] == 30_000
    assert paid["payment_method"] == "QR_CODE"
    assert paid["payment_channel"] == "QRIS"
    assert paid["flagged"] is False
    events = await _events(services, payment["id"])
    assert [(e["status"], e["outcome"]) for e in events] == [("PAID", "applied")]


async def test_settled_before_paid_makes_one_transition(
    client: httpx.AsyncClient,
    services: Services,
    booth: dict[str, str],
    payment: dict[str, Any],
    xendit: FakeXendit,
) -> None:
    invoice_id = payment["xendit_payment_id"]
    xendit.set_status(invoice_id, "PAID")
    paid_callback = xendit.callback(invoice_id)
    xendit.set_status(invoice_id, "SETTLED")
    settled = await xendit.deliver(client, invoice_id, CALLBACK_TOKEN)
    assert settled.json()["outcome"] == "applied"
    late_paid = await client.post(
        WEBHOOK, json=paid_callback, headers={"x-callback-token": CALLBACK_TOKEN}
    )
    assert late_paid.json()["outcome"] == "unchanged"
    assert (await get_payment(client, booth, payment["id"]))["status"] == "completed"
    outcomes = [e["outcome"] for e in await _events(services, payment["id"])]
    assert outcomes == ["applied", "unchanged"]


async def test_expired_fails_and_never_undoes_completed(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    expiring = await create_payment(client, booth, 12_000)
    xendit.set_status(expiring["xendit_payment_id"], "EXPIRED")
    response = await xendit.deliver(client, expiring["xendit_payment_id"], CALLBACK_TOKEN)
    assert response.json()["outcome"] == "applied"
    failed = await get_payment(client, booth, expiring["id"])
    assert (failed["status"], failed["failure_reason"]) == ("failed", "expired")

    paid = await create_payment(client, booth, 12_000)
    xendit.set_status(paid["xendit_payment_id"], "PAID")
    await xendit.deliver(client, paid["xendit_payment_id"], CALLBACK_TOKEN)
    for late in ("EXPIRED", "PENDING"):
        response = await xendit.deliver(
            client, paid["xendit_payment_id"], CALLBACK_TOKEN, status=late
        )
        assert response.status_code == 200
        assert response.json()["outcome"] in {"unchanged", "ignored"}
    assert (await get_payment(client, booth, paid["id"]))["status"] == "completed"


async def test_money_after_expiry_completes_and_is_flagged(
    client: httpx.AsyncClient, booth: dict[str, str], payment: dict[str, Any], xendit: FakeXendit
) -> None:
    invoice_id = payment["xendit_payment_id"]
    await xendit.deliver(client, invoice_id, CALLBACK_TOKEN, status="EXPIRED")
    xendit.set_status(invoice_id, "PAID")
    response = await xendit.deliver(client, invoice_id, CALLBACK_TOKEN)
    assert response.json()["outcome"] == "applied"
    late = await get_payment(client, booth, payment["id"])
    assert late["status"] == "completed"
    assert late["flagged"] is True
    assert "paid after the payment failed (expired)" in late["review_reason"]
    flagged = await client.get("/api/payments?flagged=true", headers=ADMIN)
    assert [p["id"] for p in flagged.json()["items"]] == [payment["id"]]


@pytest.mark.parametrize(
    "override", [{"amount": 1_000, "paid_amount": 1_000}, {"paid_amount": 29_999}]
)
async def test_amount_mismatch_is_flagged_not_completed(
    client: httpx.AsyncClient,
    services: Services,
    booth: dict[str, str],
    payment: dict[str, Any],
    xendit: FakeXendit,
    override: dict[str, Any],
) -> None:
    xendit.set_status(payment["xendit_payment_id"], "PAID")
    response = await xendit.deliver(
        client, payment["xendit_payment_id"], CALLBACK_TOKEN, **override
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "flagged"
    after = await get_payment(client, booth, payment["id"])
    assert after["status"] == "pending"
    assert after["flagged"] is True
    assert "does not match" in after["review_reason"]
    assert after["paid_at"] is None


async def test_unknown_external_id_is_recorded_and_answered_200(
    client: httpx.AsyncClient, services: Services, payment: dict[str, Any], xendit: FakeXendit
) -> None:
    xendit.set_status(payment["xendit_payment_id"], "PAID")
    response = await xendit.deliver(
        client, payment["xendit_payment_id"], CALLBACK_TOKEN, external_id="pay_someone_else"
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "unknown_payment"
    [event] = await _events(services, "pay_someone_else")
    assert event["outcome"] == "unknown_payment"


async def test_malformed_callback_is_4xx_not_5xx(client: httpx.AsyncClient) -> None:
    headers = {"x-callback-token": CALLBACK_TOKEN, "content-type": "application/json"}
    broken = await client.post(WEBHOOK, content=b"{not json", headers=headers)
    assert broken.status_code == 400
    missing = await client.post(WEBHOOK, json={"status": "PAID"}, headers=headers)
    assert missing.status_code == 422


async def test_concurrent_callbacks_make_exactly_one_transition(
    client: httpx.AsyncClient,
    services: Services,
    booth: dict[str, str],
    payment: dict[str, Any],
    xendit: FakeXendit,
) -> None:
    invoice_id = payment["xendit_payment_id"]
    xendit.set_status(invoice_id, "PAID")
    bodies = [xendit.callback(invoice_id, status=s) for s in ("PAID", "SETTLED")] * 15
    bodies += [xendit.callback(invoice_id, status="PENDING")] * 3
    headers = {"x-callback-token": CALLBACK_TOKEN}
    responses = await asyncio.gather(
        *(client.post(WEBHOOK, json=b, headers=headers) for b in bodies)
    )
    assert all(r.status_code == 200 for r in responses)
    outcomes = [r.json()["outcome"] for r in responses]
    assert outcomes.count("applied") == 1
    assert outcomes.count("duplicate") == len(bodies) - 3
    events = await _events(services, payment["id"])
    assert sorted(e["status"] for e in events) == ["PAID", "PENDING", "SETTLED"]
    assert [e["outcome"] for e in events].count("applied") == 1
    final = await get_payment(client, booth, payment["id"])
    assert final["status"] == "completed"
    assert final["flagged"] is False


async def test_callback_over_real_http_end_to_end(settings: Settings, xendit: FakeXendit) -> None:
    """The whole flow over sockets: create, the guest pays at the fake, Xendit calls us."""
    app = create_app(settings, apply_migrations=True)
    with serve_in_thread(app) as url:
        xendit.webhook_url = f"{url}{WEBHOOK}"
        xendit.callback_token = CALLBACK_TOKEN
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            customer = await create_customer(http)
            booth = license_auth(customer["license_key"])
            payment = await create_payment(http, booth, 15_000)
            async with httpx.AsyncClient(base_url=xendit.url, timeout=10) as fake:
                paid = await fake.post(f"/_fake/invoices/{payment['xendit_payment_id']}/paid")
            assert paid.json() == {"delivered": True, "webhook_status": 200}
            assert (await get_payment(http, booth, payment["id"]))["status"] == "completed"
