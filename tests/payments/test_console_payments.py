"""The console's payments page against the real fake Xendit: the method filter (also on
the API), the CSV export streaming every page of the filtered list, and the refund form
(idempotent per form, operator only, never without the CSRF token)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from boothcloud.console import views
from tests.conftest import ADMIN, ADMIN_TOKEN, create_customer, license_auth
from tests.console.helpers import csrf_of, page_csrf, sign_in
from tests.fakes.xendit_server import FakeXendit
from tests.payments.conftest import create_payment, get_payment
from tests.payments.refund_helpers import paid_invoice, refunds_of


@pytest.fixture
async def console(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        assert (await sign_in(http, ADMIN_TOKEN)).status_code == 303
        yield http


async def test_payments_filter_by_method(
    client: httpx.AsyncClient, booth: dict[str, str], customer: Any
) -> None:
    invoice = await create_payment(client, booth)
    qris = await create_payment(client, booth, method="qris")
    for method, expected in (("invoice", invoice), ("qris", qris)):
        listed = await client.get("/api/payments", params={"method": method}, headers=ADMIN)
        assert [p["id"] for p in listed.json()["items"]] == [expected["id"]]
    refused = await client.get("/api/payments", params={"method": "cash"}, headers=ADMIN)
    assert refused.status_code == 422


async def test_the_csv_export_streams_every_page_of_the_filtered_list(
    client: httpx.AsyncClient, console: httpx.AsyncClient, booth: dict[str, str], customer: Any
) -> None:
    count = views.PAGE * 2 + 3  # three pages of the API's list
    made = [await create_payment(client, booth, 10_000 + i) for i in range(count)]
    other = await create_customer(client)
    await create_payment(client, license_auth(other["license_key"]))
    answer = await console.get("/console/payments.csv", params={"customer_id": customer["id"]})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="payments.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["id"] for r in rows] == [p["id"] for p in reversed(made)]
    assert {r["customer_id"] for r in rows} == {customer["id"]}
    assert [int(r["amount"]) for r in rows] == [p["amount"] for p in reversed(made)]
    bad = await console.get("/console/payments.csv", params={"status": "lost"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("text/html")


async def test_the_rows_the_page_polls_show_a_new_payment(
    client: httpx.AsyncClient, console: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    page = await console.get("/console/payments", params={"method": "invoice"})
    assert 'data-poll="/console/payments/rows?method=invoice"' in page.text
    made = await create_payment(client, booth)
    rows = await console.get("/console/payments/rows", params={"method": "invoice"})
    assert f'data-id="{made["id"]}"' in rows.text
    assert "<html" not in rows.text  # a fragment for the table body


def _refund_form(html: str, payment_id: str) -> dict[str, str] | None:
    """The refund form of a payment's row, as the browser would post it (None: no form)."""
    found = re.search(
        rf'action="/console/payments/{payment_id}/refunds".*?name="csrf" value="([^"]+)"'
        r'.*?name="seen" value="(\d+)"',
        html,
    )
    return {"csrf": found.group(1), "seen": found.group(2)} if found else None


async def test_the_refund_form_refunds_once_per_submit_and_shows_the_refunds(
    client: httpx.AsyncClient, console: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    paid = await paid_invoice(client, booth, xendit)
    pending = await create_payment(client, booth)
    page = await console.get("/console/payments")
    assert _refund_form(page.text, pending["id"]) is None  # only a completed payment
    form = _refund_form(page.text, paid["id"])
    assert form is not None
    first = {**form, "amount": "10000", "note": "one print missing"}
    made = await console.post(f"/console/payments/{paid['id']}/refunds", data=first)
    assert made.status_code == 201
    assert made.headers["content-type"].startswith("text/html")
    assert "Rp 10.000, pending at Xendit" in made.text
    twice = await console.post(f"/console/payments/{paid['id']}/refunds", data=first)
    assert twice.status_code == 200  # the same form again: replayed, not refunded twice
    assert "Already refunded" in twice.text
    [refund] = await refunds_of(client, paid["id"])
    assert (refund["amount"], refund["note"]) == (10_000, "one print missing")
    assert len(xendit.refunds) == 1
    assert f"Refund {refund['id']} (pending, operator, one print missing): Rp 10.000" in twice.text
    assert '<td class="num">Rp 10.000</td>' in twice.text  # the row's refunded amount

    rest = _refund_form(twice.text, paid["id"])
    assert rest == {"csrf": form["csrf"], "seen": "1"}  # a fresh key for the next refund
    full = await console.post(f"/console/payments/{paid['id']}/refunds", data=rest)
    assert full.status_code == 201
    assert "Rp 15.000, pending at Xendit" in full.text  # empty amount: everything left
    assert (await get_payment(client, booth, paid["id"]))["refunded_amount"] == 25_000
    assert _refund_form(full.text, paid["id"]) is None  # nothing left to refund
    again = await console.post(
        f"/console/payments/{paid['id']}/refunds", data={**rest, "seen": "2"}
    )
    assert again.status_code == 409
    assert "already refunded in full" in again.text
    assert again.headers["content-type"].startswith("text/html")  # a message, never JSON


async def test_a_refund_form_with_a_bad_amount_is_a_message_and_refunds_nothing(
    client: httpx.AsyncClient, console: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    paid = await paid_invoice(client, booth, xendit)
    csrf = await page_csrf(console, "/console/payments")
    for amount, status, message in (
        ("ten", 422, "valid integer"),
        ("9" * 5000, 422, "valid integer"),
        ("30000", 422, "at most 25000 rupiah"),
    ):
        answer = await console.post(
            f"/console/payments/{paid['id']}/refunds",
            data={"csrf": csrf, "seen": "0", "amount": amount},
        )
        assert answer.status_code == status
        assert message in answer.text
        assert 'role="alert"' in answer.text
    assert await refunds_of(client, paid["id"]) == []


async def test_a_refund_post_without_csrf_or_by_an_owner_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    console: httpx.AsyncClient,
    customer: Any,
    booth: dict[str, str],
    xendit: FakeXendit,
) -> None:
    paid = await paid_invoice(client, booth, xendit)
    target = f"/console/payments/{paid['id']}/refunds"
    bare = await console.post(target, data={"seen": "0"})
    assert bare.status_code == 403
    wrong = await console.post(target, data={"csrf": "not-the-token", "seen": "0"})
    assert wrong.status_code == 403
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as owner:
        assert (await sign_in(owner, customer["license_key"], owner=True)).status_code == 303
        own = await owner.get("/console/owner")
        assert own.status_code == 200
        assert "Refund" not in own.text
        assert "/refunds" not in own.text
        forged = await owner.post(target, data={"csrf": csrf_of(own.text), "seen": "0"})
        assert forged.status_code == 403
    assert await refunds_of(client, paid["id"]) == []
    assert xendit.refunds == {}
