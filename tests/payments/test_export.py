"""Reporting: the CSV export (parses, matches the JSON list, scoped like it, streamed in
pages), and the split parts and methods in the list and the daily summary."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import pytest

from boothcloud.deps import Services
from boothcloud.payments import export
from boothcloud.settings import Settings
from tests.conftest import ADMIN, create_customer, license_auth
from tests.fakes.xendit_server import USER_ID, FakeXendit
from tests.payments.conftest import CALLBACK_TOKEN, create_payment, payment_settings
from tests.sessions.helpers import open_session

CSV = "/api/payments/export.csv"


@pytest.fixture
def settings(tmp_path: Path, xendit: FakeXendit) -> Settings:
    return payment_settings(tmp_path / "data", xendit, xendit_platform_account_id=USER_ID)


def parse(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text)))


def as_cells(payment: dict[str, Any]) -> dict[str, str]:
    return {name: export.cell(payment[name]) for name in export.COLUMNS}


async def _world(client: httpx.AsyncClient, services: Services, xendit: FakeXendit) -> Any:
    """A customer with a sub-account and a device at a venue: an invoice, a paid QRIS
    payment with the venue's share, a payment of another customer."""
    customer = await create_customer(client)
    await services.db.execute(
        "UPDATE customers SET xendit_sub_account_id = ? WHERE id = ?",
        ("5f0f0f0f0f0f0f0f0f0f0f01", customer["id"]),
    )
    booth = license_auth(customer["license_key"])
    venue = await client.post(
        "/api/venues",
        json={
            "customer_id": customer["id"],
            "name": "Mall Taman Anggrek",
            "xendit_sub_account_id": "5f0f0f0f0f0f0f0f0f0f0f02",
            "share": {"amount": 2_000},
        },
        headers=ADMIN,
    )
    session = await open_session(client, booth)
    await client.put(
        f"/api/venues/{venue.json()['id']}/activations/{session['activation_id']}",
        headers=ADMIN,
    )
    await create_payment(client, booth, 20_000, description='=HYPERLINK("x")')
    qris = await create_payment(client, booth, 35_000, method="qris", session_id=session["id"])
    paid = xendit.pay_qr(qris["xendit_payment_id"])
    await xendit.deliver_qr(client, paid, CALLBACK_TOKEN)
    other = await create_customer(client)
    await create_payment(client, license_auth(other["license_key"]), 50_000)
    return customer, booth


async def test_csv_matches_the_json_list_for_the_booth_and_the_operator(
    client: httpx.AsyncClient, services: Services, xendit: FakeXendit
) -> None:
    customer, booth = await _world(client, services, xendit)
    for headers, count in ((booth, 2), (ADMIN, 3)):
        listed = (await client.get("/api/payments", headers=headers)).json()["items"]
        rows = parse(await client.get(CSV, headers=headers))
        assert len(rows) == count
        assert rows == [as_cells(p) for p in listed]
    mine = parse(await client.get(f"{CSV}?customer_id={customer['id']}", headers=ADMIN))
    assert {r["customer_id"] for r in mine} == {customer["id"]}
    qris = next(r for r in mine if r["method"] == "qris")
    assert (qris["platform_fee"], qris["venue_amount"], qris["net_amount"]) == (
        "1750",
        "2000",
        "31250",
    )
    assert qris["status"] == "completed"
    formula = next(r for r in mine if r["method"] == "invoice")
    assert formula["description"] == '\'=HYPERLINK("x")'  # never a live formula


async def test_csv_is_produced_page_by_page_while_sent(
    client: httpx.AsyncClient,
    booth: dict[str, str],
    customer: dict[str, Any],
    services: Services,
    xendit: FakeXendit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = [await create_payment(client, booth, 10_000 + i) for i in range(5)]
    monkeypatch.setattr(export, "PAGE_SIZE", 2)  # three pages for five payments
    whole = parse(await client.get(CSV, headers=booth))
    assert [r["id"] for r in whole] == [p["id"] for p in reversed(made)]
    pages: list[int] = []
    real_page = export.repository.page

    async def counted(*args: Any) -> Any:
        pages.append(len(pages) + 1)
        return await real_page(*args)

    monkeypatch.setattr(export.repository, "page", counted)
    chosen = export.repository.Filters(customer_id=customer["id"])
    lines = export.rows(services.db, chosen)
    assert (await anext(lines)).startswith("id,created_at,")
    await anext(lines)
    await anext(lines)
    assert pages == [1]  # two rows sent, the next page not read yet
    rest = [line async for line in lines]
    assert len(rest) == 3
    assert pages == [1, 2, 3]


async def test_csv_range_and_filters_are_checked_before_streaming(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    backwards = await client.get(
        f"{CSV}?created_from=2026-02-01T00:00:00Z&created_to=2026-01-01T00:00:00Z", headers=booth
    )
    assert backwards.status_code == 422
    assert backwards.headers["content-type"] == "application/problem+json"
    too_long = await client.get(
        f"{CSV}?created_from=2024-01-01T00:00:00Z&created_to=2026-01-01T00:00:00Z", headers=booth
    )
    assert too_long.status_code == 422
    empty = parse(
        await client.get(
            f"{CSV}?created_from=2020-01-01T00:00:00Z&created_to=2020-01-02T00:00:00Z",
            headers=booth,
        )
    )
    assert empty == []
    assert (await client.get(CSV)).status_code == 401


async def test_summary_has_methods_and_split_parts(
    client: httpx.AsyncClient, services: Services, xendit: FakeXendit
) -> None:
    _, booth = await _world(client, services, xendit)
    totals = (await client.get("/api/payments/summary", headers=booth)).json()["totals"]
    assert totals["count"] == 2
    assert (totals["gross"], totals["platform_fees"], totals["venue_shares"]) == (
        35_000,
        1_750,
        2_000,
    )
    assert totals["net"] == 31_250
    assert totals["by_method"] == {
        "invoice": {"count": 1, "gross": 0},
        "qris": {"count": 1, "gross": 35_000},
    }


@pytest.mark.parametrize("path", [CSV, "/api/payments/summary"])
async def test_a_range_at_the_calendars_ends_is_an_answer_not_a_500(
    client: httpx.AsyncClient, booth: dict[str, str], path: str
) -> None:
    """The default start is 30 days before the end; an end in year 1's first days has no
    such day (found by the schema fuzzer): the range then starts at the first moment."""
    at_the_start = await client.get(f"{path}?created_to=0001-01-01T00:00:00Z", headers=booth)
    assert at_the_start.status_code == 422, at_the_start.text
    assert at_the_start.json()["errors"][0]["field"] == "created_to"
    early = await client.get(f"{path}?created_to=0001-01-10T00:00:00Z", headers=booth)
    assert early.status_code == 200, early.text
    late = await client.get(
        f"{path}?created_from=9999-12-01T00:00:00Z&created_to=9999-12-31T23:59:59Z", headers=booth
    )
    assert late.status_code == 200, late.text
