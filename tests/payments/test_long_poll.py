"""`GET /api/payments/{id}?wait=N`: the booth waits for the QRIS payment without
hammering the API, and wakes when the callback lands on any worker."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from boothcloud.app import create_app
from boothcloud.settings import Settings
from tests.conftest import create_customer, license_auth
from tests.fakes.xendit_server import FakeXendit
from tests.live import serve_in_thread
from tests.payments.conftest import CALLBACK_TOKEN, create_payment, get_payment

# A woken long-poll answers long before its 30 s: a client giving up after 15 s sees a
# wake-up, never the deadline (a liveness bound, not a speed figure).
WAKE_BOUND = 15.0


async def _started(task: asyncio.Task[Any]) -> None:
    """Let the long-poll reach the server and start waiting (it must still be open)."""
    await asyncio.sleep(0.6)
    assert not task.done()


@pytest.mark.parametrize("wait", ["-1", "31", "x", "1.5"])
async def test_wait_outside_0_to_30_is_422(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit, wait: str
) -> None:
    payment = await create_payment(client, booth, method="qris")
    response = await client.get(f"/api/payments/{payment['id']}?wait={wait}", headers=booth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "wait"


async def test_settled_payment_answers_at_once(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await create_payment(client, booth, method="qris")
    await xendit.deliver_qr(client, xendit.pay_qr(payment["xendit_payment_id"]), CALLBACK_TOKEN)
    response = await client.get(
        f"/api/payments/{payment['id']}?wait=30", headers=booth, timeout=WAKE_BOUND
    )
    assert response.json()["status"] == "completed"


async def test_another_customers_payment_is_404_without_waiting(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await create_payment(client, booth, method="qris")
    other = license_auth((await create_customer(client))["license_key"])
    response = await client.get(
        f"/api/payments/{payment['id']}?wait=30", headers=other, timeout=WAKE_BOUND
    )
    assert response.status_code == 404


async def test_wait_wakes_when_the_callback_lands(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await create_payment(client, booth, method="qris")
    poll = asyncio.create_task(
        client.get(f"/api/payments/{payment['id']}?wait=30", headers=booth, timeout=WAKE_BOUND)
    )
    await _started(poll)
    paid = xendit.pay_qr(payment["xendit_payment_id"])
    assert (await xendit.deliver_qr(client, paid, CALLBACK_TOKEN)).status_code == 200
    answer = await poll
    assert answer.status_code == 200
    assert answer.json() == await get_payment(client, booth, payment["id"])
    assert answer.json()["status"] == "completed"


async def test_wait_wakes_across_two_workers(settings: Settings, xendit: FakeXendit) -> None:
    """Two app instances on one database, each with its own event loop and connections
    (as two `serve --workers` processes): the booth waits on one, Xendit calls the other."""
    first = create_app(settings, apply_migrations=True)
    second = create_app(settings)
    with serve_in_thread(first) as url_a, serve_in_thread(second) as url_b:
        xendit.webhook_url = f"{url_b}/api/webhooks/xendit"
        xendit.callback_token = CALLBACK_TOKEN
        async with (
            httpx.AsyncClient(base_url=url_a, timeout=WAKE_BOUND) as worker_a,
            httpx.AsyncClient(base_url=xendit.url, timeout=10) as fake,
        ):
            booth = license_auth((await create_customer(worker_a))["license_key"])
            payment = await create_payment(worker_a, booth, 20_000, method="qris")
            poll = asyncio.create_task(
                worker_a.get(f"/api/payments/{payment['id']}?wait=30", headers=booth)
            )
            await _started(poll)
            paid = await fake.post(f"/_fake/qr_codes/{payment['xendit_payment_id']}/pay")
            assert paid.json() == {"delivered": True, "webhook_status": 200}
            answer = await poll
    assert answer.status_code == 200
    assert answer.json()["status"] == "completed"
    assert answer.json()["paid_amount"] == 20_000
