"""The Xendit webhook: token, exactly-once transitions, ordering, mismatches, concurrency."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from boothcloud.app import create_app
from boothcloud.deps import Services
from boothcloud.settings import Settings
from tests.conftest import ADMIN, FuzzClient, app_in_own_loop, create_customer, license_auth
from tests.dbstate import table_digests
from tests.fakes.xendit_server import FakeXendit, RunningFake
from tests.live import serve_in_thread
from tests.payments.conftest import (
    CALLBACK_TOKEN,
    create_payment,
    get_payment,
    payment_settings,
)

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


# A callback is bad input like any other (issue #12, item 2): these three answered 500.
OUT_OF_RANGE = [
    pytest.param({"amount": 1e40}, id="amount-1e40"),
    pytest.param({"paid_amount": 1e19}, id="paid_amount-over-int64"),
    pytest.param({"payment_channel": "\ud800"}, id="lone-surrogate"),
    pytest.param({"amount": 30_000.5}, id="fractional-rupiah"),
    pytest.param({"payment_method": "QR\x00CODE"}, id="nul"),
    pytest.param({"external_id": "x" * 257}, id="over-long"),
]


async def _rejected(services: Services) -> list[dict[str, Any]]:
    return await services.db.fetch_all(
        "SELECT reason, payload FROM xendit_rejected_callbacks ORDER BY received_at, id"
    )


@pytest.mark.parametrize("override", OUT_OF_RANGE)
async def test_out_of_range_callback_is_422_recorded_and_writes_nothing_else(
    client: httpx.AsyncClient,
    services: Services,
    booth: dict[str, str],
    payment: dict[str, Any],
    xendit: FakeXendit,
    override: dict[str, Any],
) -> None:
    xendit.set_status(payment["xendit_payment_id"], "PAID")
    raw = json.dumps({**xendit.callback(payment["xendit_payment_id"]), **override}).encode()
    response = await client.post(
        WEBHOOK,
        content=raw,
        headers={"x-callback-token": CALLBACK_TOKEN, "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [field] = override
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert (await get_payment(client, booth, payment["id"]))["status"] == "pending"
    assert await _events(services, payment["id"]) == []
    [rejected] = await _rejected(services)
    assert rejected["payload"] == raw.decode()
    assert rejected["reason"].startswith(f"{field}: ")


async def test_malformed_callback_is_4xx_not_5xx(
    client: httpx.AsyncClient, services: Services
) -> None:
    headers = {"x-callback-token": CALLBACK_TOKEN, "content-type": "application/json"}
    broken = await client.post(WEBHOOK, content=b"{not json", headers=headers)
    assert broken.status_code == 400
    missing = await client.post(WEBHOOK, json={"status": "PAID"}, headers=headers)
    assert missing.status_code == 422
    assert [r["payload"] for r in await _rejected(services)] == ["{not json", '{"status":"PAID"}']


async def test_unauthenticated_junk_is_401_and_not_recorded(
    client: httpx.AsyncClient, services: Services
) -> None:
    response = await client.post(
        WEBHOOK, content=b'{"amount": 1e40}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert await _rejected(services) == []


@pytest.fixture(scope="module")
def webhook_app(
    tmp_path_factory: pytest.TempPathFactory, xendit_server: RunningFake
) -> Iterator[tuple[FuzzClient, Path, dict[str, Any]]]:
    """One app with a live payment for the property below (hypothesis takes no function
    fixtures per example); each example compares the database before and after."""
    settings = payment_settings(tmp_path_factory.mktemp("webhook") / "data", xendit_server.fake)
    with app_in_own_loop(settings) as running:
        http, _, loop = running

        async def setup() -> dict[str, Any]:
            customer = await create_customer(http)
            return await create_payment(http, license_auth(customer["license_key"]), 30_000)

        yield running, settings.sqlite_path, loop.run_until_complete(setup())


EXTREME_NUMBERS = st.sampled_from(
    [
        2**53 - 1,
        2**53,
        2**63 - 1,
        2**63,
        -(2**63) - 1,
        1e19,
        1e40,
        -1,
        0,
        30_000,
        30_000.0,
        30_000.5,
        1e-300,
    ]
) | st.floats(allow_nan=False, allow_infinity=False)
EXTREME_TEXT = st.sampled_from(["\ud800", "\udfff x", "a\x00b", "x" * 300, "", "PAID", "QRIS"]) | (
    st.text(st.characters(codec=None, categories=None), max_size=40)  # surrogates included
)
EXTREME_VALUES = EXTREME_NUMBERS | EXTREME_TEXT | st.none() | st.booleans()
CALLBACK_FIELDS = ("id", "external_id", "status", "amount", "paid_amount", "paid_at")
CALLBACK_FIELDS += ("payment_method", "payment_channel", "unknown_extra")


@hypothesis_settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(overrides=st.dictionaries(st.sampled_from(CALLBACK_FIELDS), EXTREME_VALUES, min_size=1))
def test_any_callback_is_answered_4xx_or_200_and_a_refusal_writes_only_its_record(
    webhook_app: tuple[FuzzClient, Path, dict[str, Any]], overrides: dict[str, Any]
) -> None:
    (http, _, loop), database, payment = webhook_app
    body = {
        "id": payment["xendit_payment_id"],
        "external_id": payment["id"],
        "status": "PAID",
        "amount": payment["amount"],
        "paid_amount": payment["amount"],
        **overrides,
    }
    raw = json.dumps(body).encode()  # ASCII: surrogates travel as \\ud800 escapes
    kept = frozenset({"xendit_rejected_callbacks"})
    before = table_digests(database, exclude=kept)
    rejected_before = table_digests(database)["xendit_rejected_callbacks"]
    response = loop.run_until_complete(
        http.post(
            WEBHOOK,
            content=raw,
            headers={"x-callback-token": CALLBACK_TOKEN, "content-type": "application/json"},
        )
    )
    assert response.status_code in (200, 400, 422), response.text
    if response.status_code != 200:
        assert response.headers["content-type"] == "application/problem+json"
        assert table_digests(database, exclude=kept) == before
        assert table_digests(database)["xendit_rejected_callbacks"] != rejected_before


@pytest.mark.parametrize("field", ["amount", "paid_amount"])
async def test_a_boolean_amount_is_refused(
    client: httpx.AsyncClient, services: Services, field: str
) -> None:
    """Found by schemathesis on the QR callback: pydantic's lax int read `true` as 1."""
    body = {"id": "inv_1", "external_id": "pay_x", "status": "PAID", field: True}
    answer = await client.post(
        "/api/webhooks/xendit", json=body, headers={"x-callback-token": CALLBACK_TOKEN}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
