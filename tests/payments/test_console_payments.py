"""The console's payments page against the real fake Xendit: the method filter (also on
the API), and the CSV export streaming every page of the filtered list."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from boothcloud.console import views
from tests.conftest import ADMIN, ADMIN_TOKEN, create_customer, license_auth
from tests.console.helpers import sign_in
from tests.payments.conftest import create_payment


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
