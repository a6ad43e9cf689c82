"""License validation codes, device activations and their limits, on a real database."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from boothcloud.deps import Services
from boothcloud.settings import Settings
from tests.conftest import ADMIN, create_customer, license_auth


async def validate(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/licenses/validate", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def activate(client: httpx.AsyncClient, key: str, fingerprint: str) -> httpx.Response:
    return await client.post(
        "/api/licenses/activations",
        json={"fingerprint": fingerprint, "name": "Booth A"},
        headers=license_auth(key),
    )


async def test_validate_codes(client: httpx.AsyncClient) -> None:
    customer = await create_customer(client, license_type="pro")
    key = customer["license_key"]
    valid = await validate(client, license_key=key)
    assert valid == {
        "valid": True,
        "code": "VALID",
        "detail": "license is valid",
        "customer_id": customer["id"],
        "license_type": "pro",
        "license_expires_at": None,
        "activation_id": None,
    }
    assert (await validate(client, license_key=key.lower()))["code"] == "VALID"
    unknown = await validate(client, license_key="PB-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA")
    assert unknown["valid"] is False
    assert unknown["code"] == "NOT_FOUND"
    assert unknown["customer_id"] is None
    assert (await validate(client, license_key=key, fingerprint="booth-pc-0001"))[
        "code"
    ] == "NOT_ACTIVATED"
    activation = (await activate(client, key, "booth-pc-0001")).json()
    answer = await validate(client, license_key=key, fingerprint="booth-pc-0001")
    assert answer["code"] == "VALID"
    assert answer["activation_id"] == activation["id"]

    url = f"/api/customers/{customer['id']}"
    await client.patch(url, json={"license_status": "suspended"}, headers=ADMIN)
    assert (await validate(client, license_key=key))["code"] == "SUSPENDED"
    await client.patch(
        url,
        json={"license_status": "active", "license_expires_at": "2020-01-01T00:00:00Z"},
        headers=ADMIN,
    )
    expired = await validate(client, license_key=key)
    assert (expired["valid"], expired["code"], expired["license_expires_at"]) == (
        False,
        "EXPIRED",
        "2020-01-01T00:00:00Z",
    )


async def test_suspended_or_expired_booth_is_403(
    client: httpx.AsyncClient, customer: dict[str, Any], booth: dict[str, str]
) -> None:
    url = f"/api/customers/{customer['id']}"
    await client.patch(url, json={"license_expires_at": "2020-01-01T00:00:00Z"}, headers=ADMIN)
    response = await client.get(url, headers=booth)
    assert response.status_code == 403
    assert response.json()["code"] == "EXPIRED"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"license_key": ""},
        {"license_key": "x" * 129},
        {"license_key": "PB-1", "fingerprint": "short"},
        {"license_key": 5},
    ],
)
async def test_validate_rejects_bad_bodies(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/api/licenses/validate", json=body)
    assert response.status_code == 422


async def test_validate_is_rate_limited_per_client(tmp_path: Any) -> None:
    from boothcloud.app import create_app
    from tests.conftest import make_settings

    app = create_app(
        make_settings(tmp_path / "data", validate_rate_limit_per_minute=3), apply_migrations=True
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            codes = [
                (
                    await client.post("/api/licenses/validate", json={"license_key": "PB-X"})
                ).status_code
                for _ in range(5)
            ]
            limited = await client.post("/api/licenses/validate", json={"license_key": "PB-X"})
    assert codes == [200, 200, 200, 429, 429]
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("tier", "limit"), [("starter", 1), ("pro", 3)])
async def test_device_limit_per_tier_and_deactivation_frees_a_slot(
    client: httpx.AsyncClient, tier: str, limit: int
) -> None:
    key = (await create_customer(client, license_type=tier))["license_key"]
    created = [await activate(client, key, f"booth-pc-{i:04}") for i in range(limit)]
    assert [r.status_code for r in created] == [201] * limit
    over = await activate(client, key, "booth-pc-9999")
    assert over.status_code == 409
    assert over.json()["code"] == "TOO_MANY_DEVICES"
    again = await activate(client, key, "booth-pc-0000")
    assert again.status_code == 200
    assert again.json()["id"] == created[0].json()["id"]
    deleted = await client.delete(
        f"/api/licenses/activations/{created[0].json()['id']}", headers=license_auth(key)
    )
    assert deleted.status_code == 204
    assert (await activate(client, key, "booth-pc-9999")).status_code == 201
    listing = (await client.get("/api/licenses/activations", headers=license_auth(key))).json()
    assert listing["device_limit"] == limit
    assert len(listing["items"]) == limit


async def test_enterprise_is_unlimited(client: httpx.AsyncClient) -> None:
    key = (await create_customer(client, license_type="enterprise"))["license_key"]
    statuses = [(await activate(client, key, f"booth-pc-{i:04}")).status_code for i in range(12)]
    assert statuses == [201] * 12


async def test_tier_limits_come_from_settings(tmp_path: Any) -> None:
    from boothcloud.app import create_app
    from tests.conftest import make_settings

    settings: Settings = make_settings(
        tmp_path / "d", tier_device_limits={"starter": 2, "pro": 3, "enterprise": None}
    )
    app = create_app(settings, apply_migrations=True)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        key = (await create_customer(client))["license_key"]
        codes = [(await activate(client, key, f"booth-pc-{i:04}")).status_code for i in range(3)]
    assert codes == [201, 201, 409]


async def test_a_license_type_that_is_no_tier_activates_as_starter(
    client: httpx.AsyncClient, services: Services
) -> None:
    """A row whose `license_type` is no tier (the column has no CHECK) gets starter's limit
    in the activation's own statement (`tier_case` over `settings.tier_of`), not unlimited."""
    customer = await create_customer(client, license_type="enterprise")
    await services.db.execute(
        "UPDATE customers SET license_type = 'platinum' WHERE id = ?", [customer["id"]]
    )
    limit = services.settings.tier_device_limits["starter"]
    assert limit is not None
    key = customer["license_key"]
    codes = [
        (await activate(client, key, f"booth-pc-{i:04}")).status_code for i in range(limit + 1)
    ]
    assert codes == [201] * limit + [409]
    listing = (await client.get("/api/licenses/activations", headers=license_auth(key))).json()
    assert listing["device_limit"] == limit


async def test_concurrent_activations_never_exceed_the_limit(client: httpx.AsyncClient) -> None:
    key = (await create_customer(client, license_type="pro"))["license_key"]
    responses = await asyncio.gather(
        *(activate(client, key, f"booth-pc-{i:04}") for i in range(10))
    )
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 7
    listing = (await client.get("/api/licenses/activations", headers=license_auth(key))).json()
    assert len(listing["items"]) == 3


async def test_activation_scoping_and_roles(client: httpx.AsyncClient) -> None:
    mine = await create_customer(client, license_type="pro")
    other = await create_customer(client, license_type="pro")
    theirs = (await activate(client, other["license_key"], "their-booth-01")).json()
    hidden = await client.delete(
        f"/api/licenses/activations/{theirs['id']}", headers=license_auth(mine["license_key"])
    )
    assert hidden.status_code == 404
    operator_activation = await client.post(
        "/api/licenses/activations", json={"fingerprint": "booth-pc-0001"}, headers=ADMIN
    )
    assert operator_activation.status_code == 403
    by_operator = await client.delete(f"/api/licenses/activations/{theirs['id']}", headers=ADMIN)
    assert by_operator.status_code == 204
    assert (
        await client.delete(f"/api/licenses/activations/{theirs['id']}", headers=ADMIN)
    ).status_code == 404


async def test_operator_lists_a_customers_devices(client: httpx.AsyncClient) -> None:
    mine = await create_customer(client, license_type="pro")
    other = await create_customer(client, license_type="pro")
    await activate(client, mine["license_key"], "booth-pc-0001")
    await activate(client, other["license_key"], "booth-pc-0002")
    listed = await client.get(
        "/api/licenses/activations", params={"customer_id": mine["id"]}, headers=ADMIN
    )
    assert listed.status_code == 200
    assert [a["fingerprint"] for a in listed.json()["items"]] == ["booth-pc-0001"]
    assert listed.json()["device_limit"] == 3
    unnamed = await client.get("/api/licenses/activations", headers=ADMIN)
    assert unnamed.status_code == 422
    unknown = await client.get(
        "/api/licenses/activations", params={"customer_id": "cus_nope"}, headers=ADMIN
    )
    assert unknown.status_code == 404
    booth = await client.get(
        "/api/licenses/activations",
        params={"customer_id": other["id"]},
        headers=license_auth(mine["license_key"]),
    )
    assert [a["fingerprint"] for a in booth.json()["items"]] == ["booth-pc-0001"]
