"""Payments tests run against a real local fake of Xendit (see tests/fakes/xendit_server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from boothcloud.settings import Settings
from tests.conftest import make_settings
from tests.fakes.xendit_server import SECRET_KEY, FakeXendit, RunningFake

CALLBACK_TOKEN = "test-callback-token"
CLIENT_TIMEOUT = 0.5


@pytest.fixture(scope="session")
def xendit_server() -> Iterator[RunningFake]:
    server = RunningFake()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def xendit(xendit_server: RunningFake) -> FakeXendit:
    xendit_server.fake.reset()
    return xendit_server.fake


def payment_settings(data_dir: Path, xendit: FakeXendit, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "xendit_secret_key": SECRET_KEY,
        "xendit_base_url": xendit.url,
        "xendit_timeout_seconds": CLIENT_TIMEOUT,
        "xendit_callback_token": CALLBACK_TOKEN,
        "success_redirect_url": "https://booth.example.com/paid",
        "failure_redirect_url": "https://booth.example.com/failed",
        "reconcile_after_seconds": 0,
        **overrides,
    }
    return make_settings(data_dir, **values)


@pytest.fixture
def settings(tmp_path: Path, xendit: FakeXendit) -> Settings:
    return payment_settings(tmp_path / "data", xendit)


async def create_payment(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    amount: int = 25_000,
    *,
    key: str | None = None,
    expect: int = 201,
    **fields: Any,
) -> dict[str, Any]:
    """POST /api/payments and check the status; returns the JSON body."""
    sent = dict(headers)
    if key is not None:
        sent["Idempotency-Key"] = key
    response = await client.post("/api/payments", json={"amount": amount, **fields}, headers=sent)
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def get_payment(
    client: httpx.AsyncClient, headers: dict[str, str], payment_id: str
) -> dict[str, Any]:
    response = await client.get(f"/api/payments/{payment_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
