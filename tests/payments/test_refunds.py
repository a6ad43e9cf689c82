"""Refunds: full and partial through Xendit's refund APIs (invoice and QRIS), never more
than is refundable (also when requests race), idempotent retries, resuming a refund whose
request died, and what the payment, its list and the daily summary show."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx

from boothcloud.deps import Services
from boothcloud.ids import new_id
from boothcloud.payments.service import in_flight_seconds
from boothcloud.payments.xendit import XenditClient
from boothcloud.refunds import guarantee, repository, service
from boothcloud.refunds.schemas import RefundCreate
from boothcloud.settings import Settings
from boothcloud.timeutil import now_db, to_db, utcnow
from tests.conftest import ADMIN, create_customer, license_auth
from tests.fakes.xendit_server import FakeXendit
from tests.payments.conftest import CLIENT_TIMEOUT, create_payment, get_payment
from tests.payments.refund_helpers import (
    end_refund,
    paid_invoice,
    paid_qris,
    refund,
    refunds_of,
)


def _stored(payment_id: str, amount: int, **fields: Any) -> dict[str, Any]:
    """A refund row as a request stores it before asking Xendit (`repository.insert`)."""
    now = now_db()
    return {
        "id": new_id("rfd"),
        "payment_id": payment_id,
        "amount": amount,
        "reason": "OTHERS",
        "note": None,
        "claimed_at": now,
        "idempotency_key": None,
        "request_hash": None,
        "created_at": now,
        **fields,
    }


async def test_full_refund_of_an_invoice_payment(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await paid_invoice(client, booth, xendit)
    made = await refund(client, payment["id"], note="guest changed their mind")
    assert (made["amount"], made["status"], made["source"]) == (25_000, "pending", "operator")
    assert (made["reason"], made["note"]) == ("REQUESTED_BY_CUSTOMER", "guest changed their mind")
    [sent] = [r for r in xendit.requests if "invoice_id" in r]  # SDK-checked CreateRefund
    assert sent["invoice_id"] == payment["xendit_payment_id"]
    assert (sent["reference_id"], sent["amount"], sent["currency"]) == (made["id"], 25_000, "IDR")
    assert xendit.headers[-1]["idempotency-key"] == made["id"]
    [at_xendit] = xendit.refunds.values()
    assert made["xendit_refund_id"] == at_xendit["id"]

    shown = await get_payment(client, booth, payment["id"])
    assert (shown["status"], shown["refunded_amount"]) == ("completed", 25_000)
    assert (await end_refund(client, xendit, at_xendit["id"], "SUCCEEDED"))["outcome"] == "applied"
    [listed] = await refunds_of(client, payment["id"], booth)  # the booth sees its own
    assert listed["status"] == "succeeded"
    summary = (await client.get("/api/payments/summary", headers=booth)).json()
    assert (summary["totals"]["refunded"], summary["totals"]["refunds"]) == (25_000, 1)
    assert summary["totals"]["gross"] == 25_000  # money in stays what came in
    assert summary["days"][-1]["refunded"] == 25_000


async def test_partial_refunds_up_to_the_paid_amount(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await paid_invoice(client, booth, xendit)
    await refund(client, payment["id"], amount=10_000)
    too_much = await refund(client, payment["id"], amount=20_000, expect=422)
    [error] = too_much["errors"]
    assert error["field"] == "amount"
    assert "at most 15000 rupiah" in error["message"]
    rest = await refund(client, payment["id"])  # no amount: everything still refundable
    assert rest["amount"] == 15_000
    done = await refund(client, payment["id"], amount=1, expect=409)
    assert done["code"] == "FULLY_REFUNDED"
    assert (await get_payment(client, booth, payment["id"]))["refunded_amount"] == 25_000
    assert len(xendit.refunds) == 2


async def test_a_failed_refund_frees_its_amount(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await paid_invoice(client, booth, xendit)
    first = await refund(client, payment["id"])
    assert (await end_refund(client, xendit, first["xendit_refund_id"], "FAILED"))[
        "outcome"
    ] == "applied"
    [failed] = await refunds_of(client, payment["id"])
    assert (failed["status"], failed["failure_code"]) == ("failed", "REFUND_FAILED")
    assert (await get_payment(client, booth, payment["id"]))["refunded_amount"] == 0
    assert (await refund(client, payment["id"]))["amount"] == 25_000


async def test_qris_refund_goes_to_the_qr_payment(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await paid_qris(client, booth, xendit, 30_000)
    made = await refund(client, payment["id"], amount=5_000, reason="CANCELLATION")
    [qr_payment] = xendit.qr_payments[payment["xendit_payment_id"]]
    [at_xendit] = xendit.refunds.values()
    assert (at_xendit["payment_id"], at_xendit["amount"]) == (qr_payment["id"], 5_000)
    assert xendit.requests[-1] == {"amount": 5_000, "reason": "CANCELLATION"}
    assert xendit.headers[-1]["api-version"] == "2022-07-31"
    assert xendit.headers[-1]["idempotency-key"] == made["id"]
    assert (await get_payment(client, booth, payment["id"]))["refunded_amount"] == 5_000


async def test_only_a_completed_payment_is_refunded(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    pending = await create_payment(client, booth)
    problem = await refund(client, pending["id"], expect=409)
    assert problem["code"] == "PAYMENT_NOT_REFUNDABLE"
    await refund(client, "pay_unknown", expect=404)
    assert not xendit.refunds


async def test_same_key_replays_and_a_different_body_is_refused(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await paid_invoice(client, booth, xendit)
    first = await refund(client, payment["id"], key="refund-1", amount=5_000)
    response = await client.post(
        f"/api/payments/{payment['id']}/refunds",
        json={"amount": 5_000},
        headers={**ADMIN, "Idempotency-Key": "refund-1"},
    )
    assert response.status_code == 201
    assert response.headers["idempotent-replayed"] == "true"
    assert response.json() == first
    reused = await refund(client, payment["id"], key="refund-1", amount=6_000, expect=409)
    assert reused["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(xendit.refunds) == 1
    assert (await get_payment(client, booth, payment["id"]))["refunded_amount"] == 5_000


async def test_retry_after_a_timeout_makes_one_xendit_refund(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    """Xendit made the refund but answered after our timeout: the retry with the same key
    resends with the same Idempotency-key and adopts that one refund."""
    payment = await paid_invoice(client, booth, xendit)
    xendit.fail_next(delay=CLIENT_TIMEOUT * 4)
    died = await refund(client, payment["id"], key="k-timeout", amount=7_000, expect=502)
    assert died["code"] == "XENDIT_UNAVAILABLE"
    [pending] = await refunds_of(client, payment["id"])
    assert (pending["status"], pending["xendit_refund_id"]) == ("pending", None)
    assert (await get_payment(client, booth, payment["id"]))["refunded_amount"] == 7_000
    retried = await client.post(
        f"/api/payments/{payment['id']}/refunds",
        json={"amount": 7_000},
        headers={**ADMIN, "Idempotency-Key": "k-timeout"},
    )
    assert retried.status_code == 201, retried.text
    assert retried.headers["idempotent-replayed"] == "true"
    [at_xendit] = xendit.refunds.values()
    assert retried.json()["id"] == pending["id"]
    assert retried.json()["xendit_refund_id"] == at_xendit["id"]


async def test_a_refund_whose_request_died_is_resent_by_the_job(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    payment = await paid_invoice(client, booth, xendit)
    xendit.fail_next(status=503)
    await refund(client, payment["id"], amount=4_000, expect=502)  # no key: nobody retries
    report = await guarantee.run(services.db, settings, XenditClient.from_settings(settings))
    assert (report.created, report.sent) == (0, 1)
    [sent] = await refunds_of(client, payment["id"])
    [at_xendit] = xendit.refunds.values()
    assert sent["xendit_refund_id"] == at_xendit["id"]
    again = await guarantee.run(services.db, settings, XenditClient.from_settings(settings))
    assert again.sent == 0
    assert len(xendit.refunds) == 1


async def test_xendit_refusal_fails_the_refund_and_frees_the_amount(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await paid_invoice(client, booth, xendit)
    xendit.fail_next(status=400)
    refused = await refund(client, payment["id"], key="k-refused", expect=502)
    assert refused["code"] == "XENDIT_REFUND_REFUSED"
    [failed] = await refunds_of(client, payment["id"])
    assert failed["status"] == "failed"
    replay = await refund(client, payment["id"], key="k-refused", expect=502)
    assert replay == refused
    assert (await get_payment(client, booth, payment["id"]))["refunded_amount"] == 0


async def test_concurrent_refunds_never_over_refund(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await paid_invoice(client, booth, xendit)
    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/payments/{payment['id']}/refunds", json={"amount": 10_000}, headers=ADMIN
            )
            for _ in range(6)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 2
    assert all(s in (201, 409, 422) for s in statuses), statuses
    assert (await get_payment(client, booth, payment["id"]))["refunded_amount"] == 20_000
    assert sum(r["amount"] for r in xendit.refunds.values()) == 20_000


async def test_the_refund_rule_is_one_statement(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    """The rest is checked by the INSERT itself, not by the service's read before it: two
    inserts that each fit the rest alone cannot both land."""
    payment = await paid_invoice(client, booth, xendit)
    first, second = await asyncio.gather(
        repository.insert(services.db, _stored(payment["id"], 20_000)),
        repository.insert(services.db, _stored(payment["id"], 20_000)),
    )
    assert sorted([first, second]) == [False, True]
    assert await repository.remaining(services.db, payment["id"]) == 5_000


async def test_a_booth_reads_only_its_own_refunds(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment = await paid_invoice(client, booth, xendit)
    await refund(client, payment["id"], amount=1_000)
    other = license_auth((await create_customer(client))["license_key"])
    theirs = await client.get(f"/api/payments/{payment['id']}/refunds", headers=other)
    unknown = await client.get(f"/api/payments/pay_{uuid.uuid4().hex}/refunds", headers=other)
    assert theirs.status_code == unknown.status_code == 404
    as_booth = await client.post(
        f"/api/payments/{payment['id']}/refunds", json={"amount": 1_000}, headers=booth
    )
    assert as_booth.status_code == 403


async def test_a_request_that_died_mid_way_is_resumed_by_its_retry(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    """A request stored its refund and died before asking Xendit (a crash): while its
    lease is young a retry is told to wait; once stale, the retry sends it, once."""
    payment = await paid_invoice(client, booth, xendit)
    body = RefundCreate(amount=3_000)
    values = _stored(
        payment["id"],
        3_000,
        reason=body.reason,
        idempotency_key="k-crash",
        request_hash=service.request_hash_of(body),
    )
    assert await repository.insert(services.db, values)
    busy = await refund(client, payment["id"], key="k-crash", amount=3_000, expect=409)
    assert busy["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert not xendit.refunds
    stale = to_db(utcnow() - timedelta(seconds=in_flight_seconds(settings) + 1))
    await services.db.execute(
        "UPDATE refunds SET claimed_at = ? WHERE id = ?", (stale, values["id"])
    )
    resumed = await refund(client, payment["id"], key="k-crash", amount=3_000)
    assert resumed["id"] == values["id"]
    [at_xendit] = xendit.refunds.values()
    assert (resumed["xendit_refund_id"], at_xendit["reference_id"]) == (
        at_xendit["id"],
        values["id"],
    )
    again = await refund(client, payment["id"], key="k-crash", amount=3_000)
    assert again == resumed
    assert len(xendit.refunds) == 1
