"""Dynamic QRIS payments: the QR Codes API request, limits, the SVG, `qr.payment`
callbacks (exactly once, never backwards, mismatches flagged, bad input 4xx), reconciling."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from boothcloud.deps import Services
from boothcloud.payments.reconcile import reconcile
from boothcloud.payments.xendit import XenditClient
from tests.conftest import ADMIN
from tests.fakes.xendit_server import FakeXendit
from tests.payments.conftest import CALLBACK_TOKEN, create_payment, get_payment
from tests.sessions.helpers import open_session

QR_WEBHOOK = "/api/webhooks/xendit/qr"


async def _qris(client: httpx.AsyncClient, booth: dict[str, str], amount: int = 25_000) -> Any:
    return await create_payment(client, booth, amount, method="qris")


async def test_qris_payment_creates_a_dynamic_qr_code(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    body = await _qris(client, booth)
    [qr] = xendit.qr_codes.values()
    assert body["method"] == "qris"
    assert (body["status"], body["xendit_payment_id"]) == ("pending", qr["id"])
    assert body["qr_string"] == qr["qr_string"]
    assert body["invoice_url"] is None
    assert body["expires_at"].endswith("Z")
    [sent] = xendit.requests  # checked against the documented CreateQRCode fields
    assert sent["reference_id"] == body["id"]
    assert (sent["type"], sent["currency"], sent["amount"]) == ("DYNAMIC", "IDR", 25_000)
    assert xendit.headers[0]["api-version"] == "2022-07-31"
    assert not xendit.invoices
    assert await get_payment(client, booth, body["id"]) == body


async def test_invoice_stays_the_default(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    body = await create_payment(client, booth)
    assert (body["method"], body["qr_string"]) == ("invoice", None)
    assert len(xendit.invoices) == 1
    assert not xendit.qr_codes
    svg = await client.get(f"/api/payments/{body['id']}/qr.svg", headers=booth)
    assert svg.status_code == 409
    assert svg.json()["code"] == "NO_QR_CODE"


@pytest.mark.parametrize("amount", [10_000_001, 50_000_000])
async def test_qris_amount_limit_is_a_clear_422(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit, amount: int
) -> None:
    response = await client.post(
        "/api/payments", json={"amount": amount, "method": "qris"}, headers=booth
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "amount"
    assert "10,000,000" in error["message"]
    assert not xendit.requests  # refused before Xendit is asked
    # The same amount is a valid invoice (the settings allow up to 50,000,000).
    await create_payment(client, booth, amount)


async def test_qr_svg_renders_the_qr_string(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    body = await _qris(client, booth)
    response = await client.get(f"/api/payments/{body['id']}/qr.svg", headers=booth)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    assert response.headers["cache-control"] == "no-store"


async def test_idempotency_key_replays_the_qr_code(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    first = await create_payment(client, booth, 30_000, key="qr-1", method="qris")
    again = await client.post(
        "/api/payments",
        json={"amount": 30_000, "method": "qris"},
        headers={**booth, "Idempotency-Key": "qr-1"},
    )
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first
    assert len(xendit.qr_codes) == 1
    other = await client.post(
        "/api/payments", json={"amount": 30_000}, headers={**booth, "Idempotency-Key": "qr-1"}
    )
    assert other.status_code == 409  # the key was used for a QRIS body, not an invoice
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_qr_creation_failure_is_a_502_and_a_failed_payment(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    xendit.fail_next(500)
    body = await create_payment(client, booth, method="qris", expect=502)
    assert body["code"] == "XENDIT_HTTP_5XX"
    assert "QR code creation failed" in body["detail"]


async def test_qr_payment_callback_completes_once(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    body = await _qris(client, booth)
    paid = xendit.pay_qr(body["xendit_payment_id"])
    first = await xendit.deliver_qr(client, paid, CALLBACK_TOKEN)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": True, "duplicate": False, "outcome": "applied"}
    again = await xendit.deliver_qr(client, paid, CALLBACK_TOKEN)
    assert again.json()["duplicate"] is True
    done = await get_payment(client, booth, body["id"])
    assert (done["status"], done["paid_amount"]) == ("completed", 25_000)
    assert (done["payment_method"], done["payment_channel"]) == ("QR_CODE", "ID_DANA")


async def test_concurrent_qr_callbacks_apply_once(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    body = await _qris(client, booth)
    paid = xendit.pay_qr(body["xendit_payment_id"])
    answers = await asyncio.gather(
        *(xendit.deliver_qr(client, paid, CALLBACK_TOKEN) for _ in range(5))
    )
    outcomes = sorted(a.json()["outcome"] for a in answers)
    assert outcomes == ["applied"] + ["duplicate"] * 4
    rows = await services.db.fetch_all(
        "SELECT event_key FROM xendit_events WHERE external_id = ?", (body["id"],)
    )
    assert rows == [{"event_key": f"{body['xendit_payment_id']}:PAID"}]


async def test_qr_amount_mismatch_is_flagged_not_completed(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    body = await _qris(client, booth)
    paid = xendit.pay_qr(body["xendit_payment_id"], amount=1_000)
    answer = await xendit.deliver_qr(client, paid, CALLBACK_TOKEN)
    assert answer.json()["outcome"] == "flagged"
    flagged = await get_payment(client, booth, body["id"])
    assert (flagged["status"], flagged["flagged"]) == ("pending", True)


async def test_qr_payment_after_expiry_completes_flagged(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    body = await _qris(client, booth)
    await services.db.execute(
        "UPDATE payments SET expires_at = '2000-01-01 00:00:00' WHERE id = ?", (body["id"],)
    )
    await reconcile(services.db, services.settings, XenditClient.from_settings(services.settings))
    assert (await get_payment(client, booth, body["id"]))["status"] == "failed"
    paid = xendit.pay_qr(body["xendit_payment_id"])  # late money: never lost, flagged
    await xendit.deliver_qr(client, paid, CALLBACK_TOKEN)
    late = await get_payment(client, booth, body["id"])
    assert (late["status"], late["flagged"]) == ("completed", True)


async def test_failed_qr_payment_changes_nothing(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    body = await _qris(client, booth)
    paid = {**xendit.pay_qr(body["xendit_payment_id"]), "status": "FAILED"}
    answer = await xendit.deliver_qr(client, paid, CALLBACK_TOKEN)
    assert answer.json()["outcome"] == "ignored"
    assert (await get_payment(client, booth, body["id"]))["status"] == "pending"


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"event": "invoice.paid", "data": {}}',
        b'{"event": "qr.payment"}',
        b'{"event": "qr.payment", "data": {"id": "x", "qr_id": "q", "reference_id": "p", '
        b'"status": "SUCCEEDED", "amount": 1e40}}',
        b'{"event": "qr.payment", "data": {"id": "x", "qr_id": "\\ud800", "reference_id": "p", '
        b'"status": "SUCCEEDED"}}',
    ],
)
async def test_bad_qr_callbacks_are_4xx_and_recorded(
    client: httpx.AsyncClient, services: Services, payload: bytes
) -> None:
    response = await client.post(
        QR_WEBHOOK,
        content=payload,
        headers={"x-callback-token": CALLBACK_TOKEN, "content-type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    rows = await services.db.fetch_all("SELECT reason FROM xendit_rejected_callbacks")
    assert len(rows) == 1
    assert not await services.db.fetch_all("SELECT id FROM xendit_events")


async def test_qr_callback_needs_the_token(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    body = await _qris(client, booth)
    paid = xendit.pay_qr(body["xendit_payment_id"])
    answer = await xendit.deliver_qr(client, paid, "wrong-token")
    assert answer.status_code == 401
    assert (await get_payment(client, booth, body["id"]))["status"] == "pending"


async def test_reconcile_finds_a_missed_qr_payment(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    paid = await _qris(client, booth)
    unpaid = await _qris(client, booth, 26_000)
    payment = xendit.pay_qr(paid["xendit_payment_id"])  # the callback never arrives
    client_x = XenditClient.from_settings(services.settings)
    report = await reconcile(services.db, services.settings, client_x)
    assert (report.checked, report.completed, report.unchanged) == (2, 1, 1)
    assert (await get_payment(client, booth, paid["id"]))["status"] == "completed"
    assert (await get_payment(client, booth, unpaid["id"]))["status"] == "pending"
    late = await xendit.deliver_qr(client, payment, CALLBACK_TOKEN)
    assert late.json()["duplicate"] is True
    assert xendit.headers[-1]["api-version"] == "2022-07-31"


async def test_reconcile_fails_a_qris_payment_that_never_got_its_code(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    body = await _qris(client, booth)
    await services.db.execute(
        "UPDATE payments SET xendit_payment_id = NULL, qr_string = NULL WHERE id = ?",
        (body["id"],),
    )
    report = await reconcile(
        services.db, services.settings, XenditClient.from_settings(services.settings)
    )
    assert report.failed == 1
    failed = await get_payment(client, booth, body["id"])
    assert (failed["status"], failed["failure_reason"]) == ("failed", "qr_code_not_created")


async def test_operator_creates_qris_for_a_customer(
    client: httpx.AsyncClient, customer: Any, xendit: FakeXendit
) -> None:
    body = await create_payment(client, ADMIN, 15_000, customer_id=customer["id"], method="qris")
    assert body["customer_id"] == customer["id"]
    assert xendit.qr_codes[body["xendit_payment_id"]]["reference_id"] == body["id"]


async def test_booth_flow_session_qris_long_poll(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    """Open a session, pay it by QRIS, the callback lands: the session's payment is paid."""
    session = await open_session(client, booth)
    payment = await create_payment(
        client, booth, 35_000, method="qris", session_id=session["id"], key="visit-qr"
    )
    read = await client.get(f"/api/sessions/{session['id']}", headers=booth)
    assert read.json()["payment_id"] == payment["id"]
    paid = xendit.pay_qr(payment["xendit_payment_id"])
    assert (await xendit.deliver_qr(client, paid, CALLBACK_TOKEN)).json()["outcome"] == "applied"
    done = await client.get(f"/api/payments/{payment['id']}?wait=30", headers=booth)
    assert done.json()["status"] == "completed"
    assert done.json()["session_id"] == session["id"]
