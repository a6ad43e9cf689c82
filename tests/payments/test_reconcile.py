"""Reconciliation: missed callbacks, expiry, orphan invoices, and the periodic job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from boothcloud.deps import Services
from boothcloud.payments.jobs import jobs, run_reconcile
from boothcloud.payments.reconcile import reconcile
from boothcloud.payments.xendit import XenditClient
from boothcloud.settings import Settings
from boothcloud.timeutil import utcnow
from tests.fakes.xendit_server import FakeXendit
from tests.payments.conftest import CALLBACK_TOKEN, CLIENT_TIMEOUT, create_payment, get_payment


async def _reconcile(services: Services) -> Any:
    settings = services.settings
    return await reconcile(services.db, settings, XenditClient.from_settings(settings))


async def test_missed_paid_callback_is_reconciled_once(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await create_payment(client, booth, 45_000)
    untouched = await create_payment(client, booth, 46_000)
    xendit.set_status(payment["xendit_payment_id"], "PAID")  # the callback never arrives

    report = await _reconcile(services)
    assert (report.checked, report.completed, report.unchanged) == (2, 1, 1)
    done = await get_payment(client, booth, payment["id"])
    assert done["status"] == "completed"
    assert done["paid_at"] is not None
    assert (await get_payment(client, booth, untouched["id"]))["status"] == "pending"

    late = await xendit.deliver(client, payment["xendit_payment_id"], CALLBACK_TOKEN)
    assert late.json()["duplicate"] is True
    again = await _reconcile(services)
    assert again.checked == 1  # only the still-pending one


async def test_pending_past_expiry_becomes_failed(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await create_payment(client, booth)
    await services.db.execute(
        "UPDATE payments SET expires_at = '2000-01-01 00:00:00' WHERE id = ?", (payment["id"],)
    )
    report = await _reconcile(services)
    assert report.failed == 1
    failed = await get_payment(client, booth, payment["id"])
    assert (failed["status"], failed["failure_reason"]) == ("failed", "expired")


async def test_expired_at_xendit_is_applied(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await create_payment(client, booth)
    xendit.set_status(payment["xendit_payment_id"], "EXPIRED")
    assert (await _reconcile(services)).failed == 1
    assert (await get_payment(client, booth, payment["id"]))["status"] == "failed"


async def test_xendit_error_leaves_payment_pending_and_counts(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await create_payment(client, booth)
    xendit.fail_next(status=503)
    report = await _reconcile(services)
    assert report.errors == 1
    assert (await get_payment(client, booth, payment["id"]))["status"] == "pending"


async def test_invoice_created_despite_timeout_is_not_orphaned(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    xendit.fail_next(delay=CLIENT_TIMEOUT * 3)
    response = await client.post("/api/payments", json={"amount": 10_000}, headers=booth)
    assert response.status_code == 502
    payment_id = response.headers["location"].rsplit("/", 1)[1]
    [invoice] = xendit.invoices.values()  # Xendit made it; we never heard back
    xendit.set_status(invoice["id"], "PAID")
    delivered = await xendit.deliver(client, invoice["id"], CALLBACK_TOKEN)
    assert delivered.json()["outcome"] == "applied"
    paid = await get_payment(client, booth, payment_id)
    assert paid["status"] == "completed"
    assert paid["xendit_payment_id"] == invoice["id"]
    assert paid["flagged"] is True
    assert "xendit timeout" in paid["review_reason"]


async def test_pending_without_invoice_is_adopted_or_failed(
    client: httpx.AsyncClient, services: Services, customer: Any, xendit: FakeXendit
) -> None:
    # A process that died between storing the payment and storing its invoice.
    created = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    for payment_id in ("pay_crashed_a", "pay_crashed_b"):
        await services.db.execute(
            "INSERT INTO payments (id, customer_id, amount, platform_fee, status, created_at) "
            "VALUES (?, ?, 10000, 500, 'pending', ?)",
            (payment_id, customer["id"], created),
        )
    booth = {"Authorization": f"License {customer['license_key']}"}
    invoice = xendit._create({"external_id": "pay_crashed_a", "amount": 10_000}, None)
    report = await _reconcile(services)
    assert report.failed == 1
    adopted = await get_payment(client, booth, "pay_crashed_a")
    assert (adopted["status"], adopted["xendit_payment_id"]) == ("pending", invoice["id"])
    lost = await get_payment(client, booth, "pay_crashed_b")
    assert (lost["status"], lost["failure_reason"]) == ("failed", "invoice_not_created")


async def test_job_is_declared_by_interval_and_runs(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    assert jobs(settings.model_copy(update={"reconcile_interval_seconds": 0})) == []
    job, refunds = jobs(settings.model_copy(update={"reconcile_interval_seconds": 60}))
    assert (job.name, refunds.name) == ("payments.reconcile", "payments.refunds")
    now = utcnow()
    assert job.next_run(now) == now + timedelta(seconds=60)
    payment = await create_payment(client, booth)
    xendit.set_status(payment["xendit_payment_id"], "SETTLED")
    report = await job.run(services)
    assert getattr(report, "completed", None) == 1
    assert (await run_reconcile(services)).checked == 0
    assert (await get_payment(client, booth, payment["id"]))["status"] == "completed"
