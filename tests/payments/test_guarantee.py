"""The paid-but-not-printed guarantee: a paid session whose prints all failed, none
reprinted within the window, is refunded automatically, exactly once (also under
concurrent print failures and several workers), with the reason shown; and the booth
flow from opening a session to the automatic refund."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx

from boothcloud.db import open_database
from boothcloud.deps import Services
from boothcloud.ids import new_id
from boothcloud.payments.xendit import XenditClient
from boothcloud.refunds import guarantee, repository
from boothcloud.settings import Settings
from boothcloud.timeutil import to_db, utcnow
from tests.fakes.xendit_server import FakeXendit
from tests.payments.conftest import CALLBACK_TOKEN, create_payment, get_payment
from tests.payments.refund_helpers import end_refund, paid_qris, refunds_of
from tests.photos.helpers import add_printer
from tests.sessions.helpers import add_session_photo, jpeg, open_session


def _later(settings: Settings, extra: int = 5) -> Any:
    """A moment past the window (the check takes `now`; nothing here sleeps)."""
    return utcnow() + timedelta(seconds=settings.auto_refund_after_seconds + extra)


async def _check(services: Services, settings: Settings, **kw: Any) -> guarantee.GuaranteeReport:
    client = XenditClient.from_settings(settings)
    return await guarantee.run(services.db, settings, client, now=kw.get("now", _later(settings)))


async def _print_status(
    client: httpx.AsyncClient, booth: dict[str, str], photo_id: str, status: str
) -> None:
    response = await client.patch(
        f"/api/photos/{photo_id}", json={"print_status": status}, headers=booth
    )
    assert response.status_code == 200, response.text


async def _paid_session(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit, photos: int = 2
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    session = await open_session(client, booth)
    payment = await paid_qris(client, booth, xendit, 35_000, session_id=session["id"])
    shots = [await add_session_photo(client, booth, session["id"], jpeg(n)) for n in range(photos)]
    for shot in shots:
        await _print_status(client, booth, shot["id"], "printing")
    return payment, shots


async def test_all_prints_failed_refunds_once_with_the_reason(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    payment, shots = await _paid_session(client, booth, xendit)
    await _print_status(client, booth, shots[0]["id"], "failed")
    assert (await _check(services, settings)).created == 0  # one print is still printing
    await _print_status(client, booth, shots[1]["id"], "failed")
    assert (await _check(services, settings, now=utcnow())).created == 0  # inside the window
    report = await _check(services, settings)
    assert (report.created, report.sent) == (1, 1)
    [made] = await refunds_of(client, payment["id"], booth)
    assert (made["source"], made["amount"], made["reason"]) == ("automatic", 35_000, "CANCELLATION")
    assert "paid but not printed" in made["note"]
    assert payment["session_id"] in made["note"]
    assert (await _check(services, settings)).created == 0  # once, however often it runs
    assert len(xendit.refunds) == 1
    shown = await get_payment(client, booth, payment["id"])
    assert (shown["status"], shown["refunded_amount"]) == ("completed", 35_000)


async def test_a_reprint_within_the_window_keeps_the_money(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    payment, shots = await _paid_session(client, booth, xendit, photos=1)
    await _print_status(client, booth, shots[0]["id"], "failed")
    await _print_status(client, booth, shots[0]["id"], "pending")  # the booth reprints
    assert (await _check(services, settings)).created == 0
    await _print_status(client, booth, shots[0]["id"], "printing")
    await _print_status(client, booth, shots[0]["id"], "completed")
    assert (await _check(services, settings)).created == 0
    assert await refunds_of(client, payment["id"]) == []


async def test_only_what_is_left_is_refunded_and_off_means_off(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    payment, shots = await _paid_session(client, booth, xendit, photos=1)
    await _print_status(client, booth, shots[0]["id"], "failed")
    off = settings.model_copy(update={"auto_refund_after_seconds": 0})
    assert (await _check(services, off, now=_later(settings))).created == 0
    operator_refund = await client.post(
        f"/api/payments/{payment['id']}/refunds",
        json={"amount": 5_000},
        headers={"Authorization": "Bearer test-admin-token"},
    )
    assert operator_refund.status_code == 201
    assert (await _check(services, settings)).created == 1
    automatic = [r for r in await refunds_of(client, payment["id"]) if r["source"] == "automatic"]
    assert [r["amount"] for r in automatic] == [30_000]


async def test_unpaid_session_is_not_refunded(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    session = await open_session(client, booth)
    await create_payment(client, booth, 20_000, method="qris", session_id=session["id"])
    shot = await add_session_photo(client, booth, session["id"], jpeg(7))
    await _print_status(client, booth, shot["id"], "printing")
    await _print_status(client, booth, shot["id"], "failed")
    assert (await _check(services, settings)).created == 0
    assert not xendit.refunds


async def test_exactly_once_under_concurrent_print_failures_and_two_workers(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    """Every print fails at once while the check runs on this worker's connection and on
    another worker's own: one automatic refund, one Xendit refund."""
    payment, shots = await _paid_session(client, booth, xendit, photos=4)
    other_worker = open_database(settings)
    xendit_client = XenditClient.from_settings(settings)
    later = _later(settings)

    async def check(db: Any) -> guarantee.GuaranteeReport:
        return await guarantee.run(db, settings, xendit_client, now=later)

    try:
        first = await asyncio.gather(
            *(_print_status(client, booth, s["id"], "failed") for s in shots),
            *(check(db) for db in (services.db, other_worker) for _ in range(3)),
        )
        second = await asyncio.gather(
            *(check(db) for db in (services.db, other_worker) for _ in range(3))
        )
    finally:
        await other_worker.close()
    reports = [r for r in [*first, *second] if isinstance(r, guarantee.GuaranteeReport)]
    assert sum(r.created for r in reports) == 1
    assert sum(r.sent for r in reports) == 1
    [made] = await refunds_of(client, payment["id"])
    assert (made["source"], made["amount"]) == ("automatic", 35_000)
    assert len(xendit.refunds) == 1


async def test_booth_flow_pay_capture_print_fails_twice_automatic_refund(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    """Open a session, pay by QRIS (callback), capture a photo (logged and uploaded), the
    print fails, the reprint fails too, and the guest gets the money back automatically."""
    session = await open_session(client, booth)
    payment = await create_payment(client, booth, 40_000, method="qris", session_id=session["id"])
    assert payment["qr_string"]
    paid = xendit.pay_qr(payment["xendit_payment_id"])
    callback = await xendit.deliver_qr(client, paid, CALLBACK_TOKEN)
    assert callback.json()["outcome"] == "applied"
    assert (await get_payment(client, booth, payment["id"]))["status"] == "completed"

    photo = await add_session_photo(client, booth, session["id"], jpeg(3))
    assert (await client.get(f"/api/photos/{photo['id']}", headers=booth)).json()[
        "uploaded_at"
    ] is not None
    printer = await add_printer(client, booth)
    for attempt in range(2):  # the print, then the reprint
        claimed = await client.post(f"/api/printers/{printer['id']}/claim", headers=booth)
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["id"] == photo["id"]
        await _print_status(client, booth, photo["id"], "failed")
        if attempt == 0:
            assert (await _check(services, settings, now=utcnow())).created == 0
            await _print_status(client, booth, photo["id"], "pending")

    report = await _check(services, settings)
    assert (report.created, report.sent) == (1, 1)
    [made] = await refunds_of(client, payment["id"], booth)
    assert (made["source"], made["status"], made["amount"]) == ("automatic", "pending", 40_000)
    [at_xendit] = xendit.refunds.values()
    assert at_xendit["payment_id"] == paid["id"]  # the QR payment's refund endpoint
    assert (await end_refund(client, xendit, at_xendit["id"], "SUCCEEDED"))["outcome"] == "applied"
    [done] = await refunds_of(client, payment["id"], booth)
    assert done["status"] == "succeeded"
    assert "paid but not printed" in done["note"]
    shown = await get_payment(client, booth, payment["id"])
    assert (shown["status"], shown["refunded_amount"]) == ("completed", 40_000)


async def test_a_failed_automatic_refund_is_not_retried_by_the_guarantee(
    client: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    """Once per payment, even when Xendit refused it (its amount is refundable again):
    the operator sees the failed automatic refund and decides."""
    payment, shots = await _paid_session(client, booth, xendit, photos=1)
    await _print_status(client, booth, shots[0]["id"], "failed")
    xendit.fail_next(status=400)
    assert (await _check(services, settings)).created == 1
    [failed] = await refunds_of(client, payment["id"])
    assert (failed["source"], failed["status"]) == ("automatic", "failed")
    assert (await _check(services, settings)).created == 0
    assert (await get_payment(client, booth, payment["id"]))["refunded_amount"] == 0
    # A racing check that scanned before the first insert still inserts nothing: the
    # unique index takes one automatic refund per payment.
    values = {"id": new_id("rfd"), "reason": "OTHERS", "note": "race", "claimed_at": None}
    values["created_at"] = to_db(utcnow())
    cutoff = to_db(_later(settings))
    assert not await repository.insert_automatic(services.db, values, payment["id"], cutoff)
