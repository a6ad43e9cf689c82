"""Who may call what: 401 without or with bad credentials, 403 for the wrong role."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from boothcloud.settings import Settings
from tests.conftest import ADMIN, ADMIN_TOKEN, create_customer, license_auth, make_settings

BASIC = {"Authorization": f"Basic {ADMIN_TOKEN}"}

OPERATOR_ONLY = [
    ("POST", "/api/customers", {"name": "X", "email": "x@example.com"}),
    ("GET", "/api/customers", None),
    ("PATCH", "/api/customers/{id}", {"name": "Y"}),
    ("POST", "/api/customers/{id}/license-key", None),
]
BAD_CREDENTIALS = [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    {"Authorization": f"Basic {ADMIN_TOKEN}"},
    {"Authorization": "License PB-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"},
    {"Authorization": "License "},
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ONLY)
@pytest.mark.parametrize("headers", BAD_CREDENTIALS)
async def test_missing_or_bad_credentials_are_401(
    client: httpx.AsyncClient,
    customer: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, str] | None,
    headers: dict[str, str],
) -> None:
    response = await client.request(
        method, path.format(id=customer["id"]), json=body, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize(("method", "path", "body"), OPERATOR_ONLY)
async def test_booth_on_operator_routes_is_403(
    client: httpx.AsyncClient,
    customer: dict[str, Any],
    booth: dict[str, str],
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    response = await client.request(
        method, path.format(id=customer["id"]), json=body, headers=booth
    )
    assert response.status_code == 403


async def test_scheme_is_case_insensitive(
    client: httpx.AsyncClient, customer: dict[str, Any]
) -> None:
    response = await client.get(
        f"/api/customers/{customer['id']}", headers={"Authorization": f"bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 200


async def test_secrets_never_reach_the_logs(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    customer = await create_customer(client)
    key = customer["license_key"]
    await client.get(f"/api/customers/{customer['id']}", headers=license_auth(key))
    await client.get(f"/api/customers/{customer['id']}", headers=license_auth(key + "X"))
    await client.post("/api/licenses/validate", json={"license_key": key})
    await client.post(f"/api/customers/{customer['id']}/license-key", headers=ADMIN)
    await client.get("/api/customers", headers={"Authorization": "Bearer guess"})
    assert caplog.records  # the app did log (lifespan, sqlite, http client)
    text = caplog.text
    assert key not in text
    assert ADMIN_TOKEN not in text


async def test_license_keys_are_case_insensitive_for_auth_and_validation(
    client: httpx.AsyncClient, customer: dict[str, Any]
) -> None:
    typed = f"  {customer['license_key'].lower()} "
    response = await client.get(f"/api/customers/{customer['id']}", headers=license_auth(typed))
    assert response.status_code == 200
    answer = await client.post("/api/licenses/validate", json={"license_key": typed})
    assert answer.json()["code"] == "VALID"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", auth_failure_limit_per_minute=3)


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.mark.parametrize(
    "wrong",
    [
        {"Authorization": "Bearer wrong-admin-token"},
        {"Authorization": "License PB-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA"},
    ],
    ids=["admin-token", "license-key"],
)
async def test_failed_authentication_is_limited_per_client(
    app: FastAPI, customer: dict[str, Any], wrong: dict[str, str]
) -> None:
    async with client_at(app, "192.0.2.1") as attacker, client_at(app, "192.0.2.2") as other:
        answers = [await attacker.get("/api/customers", headers=wrong) for _ in range(4)]
        assert [r.status_code for r in answers] == [401, 401, 401, 429]
        limited = answers[-1]
        assert limited.headers["content-type"] == "application/problem+json"
        assert 1 <= int(limited.headers["retry-after"]) <= 20  # a token back at 3 a minute
        assert limited.json()["status"] == 429
        # While limited, even the right token is refused: a right guess must not show.
        assert (await attacker.get("/api/customers", headers=ADMIN)).status_code == 429
        # Another client is not affected.
        assert (await other.get("/api/customers", headers=ADMIN)).status_code == 200


async def test_successful_and_credential_less_requests_take_nothing(
    app: FastAPI, customer: dict[str, Any]
) -> None:
    booth = license_auth(customer["license_key"])
    async with client_at(app, "192.0.2.3") as http:
        for _ in range(10):
            assert (await http.get("/api/customers", headers=ADMIN)).status_code == 200
            assert (await http.get(f"/api/customers/{customer['id']}", headers=booth)).is_success
            assert (await http.get("/api/customers")).status_code == 401
            assert (await http.get("/api/customers", headers=BASIC)).status_code == 401
        assert (await http.get("/api/customers", headers=ADMIN)).status_code == 200
