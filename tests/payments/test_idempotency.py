"""Idempotency-Key: replays, conflicts, per-customer scope, expiry, failed first attempts."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest

from boothcloud.deps import Services
from boothcloud.payments import service
from tests.conftest import ADMIN, create_customer, license_auth
from tests.fakes.xendit_server import FakeXendit


async def _post(
    client: httpx.AsyncClient, headers: dict[str, str], key: str, **body: Any
) -> httpx.Response:
    return await client.post(
        "/api/payments",
        json={"amount": 20_000, **body},
        headers={**headers, "Idempotency-Key": key},
    )


async def test_same_key_same_body_replays_without_a_second_invoice(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    first = await _post(client, booth, "order-1", description="A")
    second = await _post(client, booth, "order-1", description="A")
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == first.headers["location"]
    assert len(xendit.requests) == 1
    listed = await client.get("/api/payments", headers=booth)
    assert len(listed.json()["items"]) == 1


async def test_same_key_different_body_is_409(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    assert (await _post(client, booth, "order-2")).status_code == 201
    reused = await _post(client, booth, "order-2", amount=20_001)
    assert reused.status_code == 409
    assert reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(xendit.requests) == 1


async def test_key_is_scoped_per_customer(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    other = await create_customer(client)
    mine = await _post(client, booth, "shared-key")
    theirs = await _post(client, license_auth(other["license_key"]), "shared-key")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    # The operator acting for that customer shares the customer's key space.
    replay = await _post(client, ADMIN, "shared-key", customer_id=other["id"])
    assert replay.status_code == 201
    assert replay.json()["id"] == theirs.json()["id"]
    assert len(xendit.requests) == 2


async def test_failed_attempt_replays_502_and_creates_no_second_invoice(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    xendit.fail_next(status=500)
    first = await _post(client, booth, "order-3")
    assert first.status_code == 502
    retry = await _post(client, booth, "order-3")
    assert retry.status_code == 502
    assert retry.headers["content-type"] == "application/problem+json"
    assert retry.json() == first.json()
    assert len(xendit.requests) == 1
    fresh = await _post(client, booth, "order-3b")
    assert fresh.status_code == 201


async def test_expired_key_can_be_used_again(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    first = await _post(client, booth, "order-4")
    await services.db.execute(
        "UPDATE idempotency_keys SET expires_at = '2000-01-01 00:00:00' "
        "WHERE idempotency_key = 'order-4'"
    )
    second = await _post(client, booth, "order-4", amount=21_000)
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    assert len(xendit.requests) == 2


async def test_concurrent_retries_with_one_key_make_one_payment(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    responses = await asyncio.gather(*(_post(client, booth, "burst") for _ in range(8)))
    created = [r for r in responses if r.status_code == 201]
    assert created, [r.text for r in responses]
    assert {r.json()["id"] for r in created} == {created[0].json()["id"]}
    in_progress = [r for r in responses if r.status_code == 409]
    assert all(r.json()["code"] == "IDEMPOTENCY_KEY_IN_USE" for r in in_progress)
    assert len(created) + len(in_progress) == 8
    assert len(xendit.requests) == 1


async def test_bad_key_is_422(client: httpx.AsyncClient, booth: dict[str, str]) -> None:
    response = await _post(client, booth, "x" * 256)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"


async def _die_mid_call(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit, key: str, **body: Any
) -> None:
    """A request that dies while Xendit makes its invoice (as a killed server would): its
    payment and key are recorded, its answer never is."""
    sent = len(xendit.requests)
    task = asyncio.create_task(_post(client, booth, key, **body))
    for _ in range(500):  # until Xendit has the request (10 s at most)
        if len(xendit.requests) > sent:
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("xendit_made_it", [True, False], ids=["adopted", "created"])
async def test_a_retry_resumes_a_request_that_died(
    client: httpx.AsyncClient,
    booth: dict[str, str],
    xendit: FakeXendit,
    services: Services,
    xendit_made_it: bool,
) -> None:
    xendit.fail_next(delay=5.0)  # Xendit makes the invoice, answers late
    await _die_mid_call(client, booth, xendit, "visit-9")
    [payment] = (await client.get("/api/payments", headers=booth)).json()["items"]
    assert payment["xendit_payment_id"] is None
    if not xendit_made_it:  # Xendit never got the request
        xendit.invoices.clear()

    # Time passes beyond the window in which the first request could still be talking to
    # Xendit (aged in the database: no sleeping test).
    window = int(service.in_flight_seconds(services.settings)) + 1
    await services.db.execute(
        "UPDATE idempotency_keys SET created_at = datetime(created_at, ?)", (f"-{window} seconds",)
    )
    resumed = await _post(client, booth, "visit-9")
    assert resumed.status_code == 201, resumed.text
    assert resumed.headers["idempotent-replayed"] == "true"
    body = resumed.json()
    assert body["id"] == payment["id"]
    assert body["status"] == "pending"
    invoices = [i for i in xendit.invoices.values() if i["external_id"] == payment["id"]]
    assert [i["id"] for i in invoices] == [body["xendit_payment_id"]]  # one invoice, ours
    again = await _post(client, booth, "visit-9")
    assert again.content == resumed.content
    listed = (await client.get("/api/payments", headers=booth)).json()["items"]
    assert len(listed) == 1


async def test_a_retry_resumes_a_qris_request_that_died(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit, services: Services
) -> None:
    """The QR Codes API cannot be searched by reference_id: the retry makes the QR code
    (the dead request's one, never shown to a guest, expires unpaid)."""
    xendit.fail_next(delay=5.0)
    await _die_mid_call(client, booth, xendit, "visit-qr", method="qris")
    [payment] = (await client.get("/api/payments", headers=booth)).json()["items"]
    assert (payment["method"], payment["xendit_payment_id"]) == ("qris", None)
    window = int(service.in_flight_seconds(services.settings)) + 1
    await services.db.execute(
        "UPDATE idempotency_keys SET created_at = datetime(created_at, ?)", (f"-{window} seconds",)
    )
    resumed = await _post(client, booth, "visit-qr", method="qris")
    assert resumed.status_code == 201, resumed.text
    assert resumed.headers["idempotent-replayed"] == "true"
    body = resumed.json()
    assert body["id"] == payment["id"]
    assert body["qr_string"] == xendit.qr_codes[body["xendit_payment_id"]]["qr_string"]
    assert len(xendit.qr_codes) == 2
    again = await _post(client, booth, "visit-qr", method="qris")
    assert again.content == resumed.content
