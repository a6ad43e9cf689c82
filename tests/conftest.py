"""Shared fixtures: a fresh real SQLite file and object folder per test, the real app.

Tests drive the app through httpx's ASGI transport with the app's own lifespan, so every
request goes through the same routing, auth, validation and database code as `serve`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings

from boothcloud.app import create_app
from boothcloud.deps import Services
from boothcloud.settings import Settings, get_settings

pytest.register_assert_rewrite("tests.secrets_guard")
from tests.secrets_guard import remember  # noqa: E402 - after the rewrite registration

# The secrets guard fails the session when a secret reaches a log (tests/secrets_guard.py);
# pytester lets tests/reliability/test_secrets_guard.py run sessions that must fail.
pytest_plugins = ["tests.secrets_guard", "pytester"]

# CI replays the same examples every run (a landing must not depend on luck); local runs
# keep exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

ADMIN_TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def license_auth(key: str) -> dict[str, str]:
    return {"Authorization": f"License {key}"}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "data_dir": data_dir,
        "admin_token": ADMIN_TOKEN,
        "backup_enabled": False,
        "reconcile_interval_seconds": 0,
        "public_url": "http://testserver",
    }
    values.update(overrides)
    settings = Settings(**values)
    remember(
        settings.admin_token,
        settings.xendit_secret_key,
        settings.xendit_callback_token,
        settings.url_signing_secret,
        settings.s3_secret_access_key,
        settings.d1_token,
    )
    return settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI (which reads the environment) pointed at the `settings` fixture's data."""
    monkeypatch.setenv("BOOTHCLOUD_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, apply_migrations=True)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def services(app: FastAPI) -> Services:
    found: Services = app.state.services
    return found


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


_counter = 0


async def create_customer(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """Factory: a customer through the real API; keyword arguments override the body."""
    global _counter
    _counter += 1
    body = {"name": f"Studio {_counter}", "email": f"owner{_counter}@example.com", **fields}
    response = await client.post("/api/customers", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    customer: dict[str, Any] = response.json()
    return customer


@pytest.fixture
async def customer(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create_customer(client)


@pytest.fixture
def booth(customer: dict[str, Any]) -> dict[str, str]:
    """Auth headers of the `customer` fixture's booth."""
    return license_auth(customer["license_key"])


FuzzClient = tuple[httpx.AsyncClient, Any, asyncio.AbstractEventLoop]


@contextmanager
def app_in_own_loop(settings: Settings) -> Iterator[FuzzClient]:
    """The app, its lifespan entered, on an event loop of its own: hypothesis tests (which
    cannot take function fixtures per example) drive it with `loop.run_until_complete`."""
    loop = asyncio.new_event_loop()
    application = create_app(settings, apply_migrations=True)
    lifespan = application.router.lifespan_context(application)
    loop.run_until_complete(lifespan.__aenter__())
    transport = httpx.ASGITransport(app=application)
    http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    try:
        yield http, application.state.services.db, loop
    finally:
        loop.run_until_complete(http.aclose())
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        loop.close()


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzClient]:
    """One app and database per module; each example checks its own before/after state."""
    settings = make_settings(
        tmp_path_factory.mktemp("fuzz") / "data", validate_rate_limit_per_minute=1_000_000
    )
    with app_in_own_loop(settings) as running:
        yield running
