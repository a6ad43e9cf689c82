"""Payments and sessions: a payment names only its own customer's session and becomes
that session's payment; a session takes only its own customer's payment."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN, create_customer, license_auth
from tests.payments.conftest import create_payment
from tests.sessions.helpers import open_session


async def test_a_payment_for_a_session_becomes_its_payment(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    session = await open_session(client, booth)
    payment = await create_payment(client, booth, session_id=session["id"], key="visit-1")
    assert payment["session_id"] == session["id"]
    read = await client.get(f"/api/sessions/{session['id']}", headers=booth)
    assert read.json()["payment_id"] == payment["id"]
    replay = await create_payment(client, booth, session_id=session["id"], key="visit-1")
    assert replay["id"] == payment["id"]


async def test_a_payment_cannot_name_another_customers_session(
    client: httpx.AsyncClient, booth: dict[str, str]
) -> None:
    other = license_auth((await create_customer(client))["license_key"])
    theirs = await open_session(client, other)
    for key in (None, "k-1"):
        refused = await create_payment(client, booth, session_id=theirs["id"], key=key, expect=422)
        assert refused["errors"][0]["field"] == "session_id"
    assert (await client.get("/api/payments", headers=ADMIN)).json()["items"] == []
    assert (await client.get(f"/api/sessions/{theirs['id']}", headers=other)).json()[
        "payment_id"
    ] is None


async def test_a_session_takes_only_its_own_customers_payment_once(
    client: httpx.AsyncClient, booth: dict[str, str], customer: dict[str, Any]
) -> None:
    other = license_auth((await create_customer(client))["license_key"])
    foreign = await create_payment(client, other)
    refused = await client.post(
        "/api/sessions",
        json={
            "activation_id": (await open_session(client, booth))["activation_id"],
            "payment_id": foreign["id"],
        },
        headers=booth,
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "payment_id"
    mine = await create_payment(client, booth)
    session = await open_session(client, booth, payment_id=mine["id"])
    assert session["payment_id"] == mine["id"]
    linked = await client.get(f"/api/payments/{mine['id']}", headers=booth)
    assert linked.json()["session_id"] == session["id"]
    second = await open_session(client, booth)
    taken = await client.patch(
        f"/api/sessions/{second['id']}", json={"payment_id": mine["id"]}, headers=booth
    )
    assert taken.status_code == 409, taken.text
    patched_foreign = await client.patch(
        f"/api/sessions/{second['id']}", json={"payment_id": foreign["id"]}, headers=booth
    )
    assert patched_foreign.status_code == 422
