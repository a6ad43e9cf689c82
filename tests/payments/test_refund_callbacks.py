"""Refund callbacks: applied once, never backwards, mismatches not applied, and bad input
answered 4xx (recorded as rejected), never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from boothcloud.deps import Services
from boothcloud.refunds import repository
from boothcloud.timeutil import now_db
from tests.fakes.xendit_server import FakeXendit
from tests.payments.conftest import CALLBACK_TOKEN, get_payment
from tests.payments.refund_helpers import (
    REFUND_WEBHOOK,
    end_refund,
    paid_invoice,
    refund,
    refunds_of,
)


async def _refunded(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> tuple[dict[str, Any], dict[str, Any]]:
    payment = await paid_invoice(client, booth, xendit)
    return payment, await refund(client, payment["id"], amount=10_000)


async def test_duplicate_callback_is_processed_once(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    _, made = await _refunded(client, booth, xendit)
    first = await end_refund(client, xendit, made["xendit_refund_id"], "SUCCEEDED")
    again = await xendit.deliver_refund(client, made["xendit_refund_id"], CALLBACK_TOKEN)
    assert (first["duplicate"], first["outcome"]) == (False, "applied")
    assert again.json() == {"received": True, "duplicate": True, "outcome": "duplicate"}


async def test_reordered_callbacks_never_go_backwards(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment, made = await _refunded(client, booth, xendit)
    await end_refund(client, xendit, made["xendit_refund_id"], "SUCCEEDED")
    late = await end_refund(client, xendit, made["xendit_refund_id"], "FAILED")
    assert late["outcome"] == "unchanged"
    [shown] = await refunds_of(client, payment["id"])
    assert shown["status"] == "succeeded"
    assert (await get_payment(client, booth, payment["id"]))["refunded_amount"] == 10_000


async def test_callback_matched_by_reference_id_before_our_answer_is_stored(
    client: httpx.AsyncClient, services: Services, booth: dict[str, str], xendit: FakeXendit
) -> None:
    """Xendit may call back before we stored its answer: reference_id (our id) finds it,
    and the answer stored after it keeps the callback's word."""
    payment, made = await _refunded(client, booth, xendit)
    await services.db.execute(  # as if our request were still waiting for Xendit's answer
        "UPDATE refunds SET xendit_refund_id = NULL WHERE id = ?", (made["id"],)
    )
    answer = await xendit.deliver_refund(
        client, made["xendit_refund_id"], CALLBACK_TOKEN, status="SUCCEEDED"
    )
    assert answer.json()["outcome"] == "applied"
    [shown] = await refunds_of(client, payment["id"])
    assert (shown["status"], shown["xendit_refund_id"]) == ("succeeded", made["xendit_refund_id"])
    stored = await repository.finish(
        services.db,
        made["id"],
        xendit_refund_id=made["xendit_refund_id"],
        status="pending",  # Xendit's HTTP answer, older than its callback
        failure_code=None,
        now=now_db(),
        response=None,
    )
    assert stored is not None
    assert stored["status"] == "succeeded"


async def test_amount_mismatch_is_not_applied(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    payment, made = await _refunded(client, booth, xendit)
    answer = await xendit.deliver_refund(
        client, made["xendit_refund_id"], CALLBACK_TOKEN, status="SUCCEEDED", amount=99_999
    )
    assert answer.json()["outcome"] == "flagged"
    assert (await refunds_of(client, payment["id"]))[0]["status"] == "pending"


async def test_unknown_refund_is_acknowledged(
    client: httpx.AsyncClient, booth: dict[str, str], xendit: FakeXendit
) -> None:
    _, made = await _refunded(client, booth, xendit)
    answer = await xendit.deliver_refund(
        client,
        made["xendit_refund_id"],
        CALLBACK_TOKEN,
        id="rfd-unknown",
        reference_id=None,
        status="SUCCEEDED",
    )
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "unknown_refund"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"event": "refund.succeeded"}', 422),
        (b'{"event": "refund.created", "data": {"id": "r", "status": "SUCCEEDED"}}', 422),
        (b'{"event": "refund.succeeded", "data": {"id": "r", "status": "S", "amount": true}}', 422),
        (b'{"event": "refund.succeeded", "data": {"id": "r", "status": "S", "amount": 1.5}}', 422),
        (b'{"event": "refund.succeeded", "data": {"id": "r", "status": "S", "amount": 1e99}}', 422),
        (b'{"event": "refund.succeeded", "data": {"id": "\\ud800", "status": "S"}}', 422),
        (b"[]", 422),
    ],
)
async def test_bad_callbacks_are_4xx_and_recorded(
    client: httpx.AsyncClient, services: Services, body: bytes, status: int
) -> None:
    response = await client.post(
        REFUND_WEBHOOK,
        content=body,
        headers={"x-callback-token": CALLBACK_TOKEN, "content-type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    rows = await services.db.fetch_all("SELECT reason, payload FROM xendit_rejected_callbacks")
    assert [r["payload"] for r in rows] == [body.decode()]


async def test_callback_without_the_token_is_401_and_not_read(
    client: httpx.AsyncClient, services: Services
) -> None:
    response = await client.post(
        REFUND_WEBHOOK, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert await services.db.fetch_all("SELECT id FROM xendit_rejected_callbacks") == []
