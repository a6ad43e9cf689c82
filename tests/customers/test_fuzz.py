"""Property-based: any JSON body or query either succeeds as the schema says or is
refused with a 4xx problem, and a refused request never writes anything."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from boothcloud.db.base import Database
from tests.conftest import ADMIN

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
FIELD_VALUES = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "starter",
            "pro",
            "enterprise",
            "a@b.co",
            "+62 812 345",
            "2026-01-01T00:00:00Z",
            "'; DROP TABLE customers;--",
        ]
    ),
    st.integers(),
    st.none(),
    JSON,
)
CUSTOMER_BODIES = st.fixed_dictionaries(
    {},
    optional={
        "name": FIELD_VALUES,
        "email": st.emails().map(str) | FIELD_VALUES,
        "phone": FIELD_VALUES,
        "license_type": FIELD_VALUES,
        "purchase_date": FIELD_VALUES,
        "extra": FIELD_VALUES,
    },
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


async def row_count(db: Database) -> int:
    row = await db.fetch_one("SELECT COUNT(*) AS n FROM customers")
    assert row is not None
    return int(row["n"])


def check_problem(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == response.status_code


@FUZZ
@given(body=CUSTOMER_BODIES | JSON)
def test_create_customer_never_fails_badly(
    fuzz_client: tuple[httpx.AsyncClient, Database, asyncio.AbstractEventLoop], body: Any
) -> None:
    client, db, loop = fuzz_client

    async def attempt() -> None:
        before = await row_count(db)
        response = await client.post("/api/customers", json=body, headers=ADMIN)
        after = await row_count(db)
        if response.status_code == 201:
            assert after == before + 1
            created = response.json()
            assert created["name"] == body["name"].strip()
        else:
            check_problem(response)
            assert after == before

    loop.run_until_complete(attempt())


@FUZZ
@given(body=CUSTOMER_BODIES | JSON)
def test_patch_customer_never_fails_badly(
    fuzz_client: tuple[httpx.AsyncClient, Database, asyncio.AbstractEventLoop], body: Any
) -> None:
    client, _, loop = fuzz_client

    async def attempt() -> None:
        created = await client.post(
            "/api/customers",
            json={"name": "Fuzz", "email": f"fuzz-{id(body)}-{loop.time()}@example.com"},
            headers=ADMIN,
        )
        url = f"/api/customers/{created.json()['id']}"
        before = (await client.get(url, headers=ADMIN)).json()
        response = await client.patch(url, json=body, headers=ADMIN)
        after = (await client.get(url, headers=ADMIN)).json()
        if response.status_code == 200:
            assert response.json() == after
        else:
            check_problem(response)
            assert after == before

    loop.run_until_complete(attempt())


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["limit", "cursor", "email", "license_type", "junk"]),
        st.text(max_size=40),
        max_size=4,
    )
)
def test_list_queries_never_fail_badly(
    fuzz_client: tuple[httpx.AsyncClient, Database, asyncio.AbstractEventLoop],
    query: dict[str, str],
) -> None:
    client, _, loop = fuzz_client
    response = loop.run_until_complete(client.get("/api/customers", params=query, headers=ADMIN))
    if response.status_code != 200:
        check_problem(response)
        assert response.status_code == 422


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {}, optional={"license_key": FIELD_VALUES, "fingerprint": FIELD_VALUES}
    )
    | JSON
)
def test_validate_never_fails_badly(
    fuzz_client: tuple[httpx.AsyncClient, Database, asyncio.AbstractEventLoop], body: Any
) -> None:
    client, _, loop = fuzz_client
    response = loop.run_until_complete(client.post("/api/licenses/validate", json=body))
    if response.status_code == 200:
        assert response.json()["code"] in {
            "NOT_FOUND",
            "VALID",
            "NOT_ACTIVATED",
            "SUSPENDED",
            "EXPIRED",
        }
    else:
        check_problem(response)
