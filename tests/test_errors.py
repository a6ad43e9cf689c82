"""Every error is RFC 9457 problem+json; bad input never gives a 5xx or a partial write."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ADMIN

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert str(body["type"]).startswith("https://")
    return body


@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"name": "x",}', b"\xff\xfe", b'{"a": NaN'])
async def test_malformed_json_is_400(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/api/customers", content=raw, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert_problem(response, 400)


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"42", b"null"])
async def test_non_object_json_is_422(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/api/customers", content=raw, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert_problem(response, 422)


async def test_unknown_route_404_and_wrong_method_405(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/nothing-here"), 404)
    assert_problem(await client.delete("/api/customers", headers=ADMIN), 405)


async def test_oversized_body_is_413_and_writes_nothing(client: httpx.AsyncClient) -> None:
    huge = b'{"name": "' + b"x" * (1024 * 1024) + b'", "email": "big@example.com"}'
    response = await client.post(
        "/api/customers", content=huge, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert_problem(response, 413)
    listed = await client.get("/api/customers", params={"email": "big@example.com"}, headers=ADMIN)
    assert listed.json()["items"] == []


async def test_streamed_oversized_body_without_length_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 100_000

    response = await client.post(
        "/api/customers", content=chunks(), headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert_problem(response, 413)


async def test_validation_problem_lists_fields(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/customers", json={"name": 7}, headers=ADMIN)
    body = assert_problem(response, 422)
    fields = {e["field"] for e in body["errors"]}  # type: ignore[attr-defined]
    assert fields == {"name", "email"}


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["migrations"] == "current"


async def test_openapi_documents_problem_responses(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    create = spec["paths"]["/api/customers"]["post"]
    assert {"201", "400", "401", "403", "409", "413", "422"} <= create["responses"].keys()
    assert "application/problem+json" in create["responses"]["409"]["content"]
    assert "Problem" in spec["components"]["schemas"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_openapi_declares_who_may_call(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["operator"] == {**schemes["operator"], "type": "http", "scheme": "bearer"}
    assert schemes["booth"]["name"] == "Authorization"
    paths = spec["paths"]
    assert paths["/api/customers/{customer_id}"]["get"]["security"] == [
        {"operator": []},
        {"booth": []},
    ]
    assert paths["/api/webhooks/xendit"]["post"]["security"] == [{"xendit_callback": []}]
    assert "security" not in paths["/api/licenses/validate"]["post"]


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_json_route_without_json_content_type_is_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = dict(ADMIN) if content_type is None else {**ADMIN, "Content-Type": content_type}
    response = await client.post(
        "/api/customers", content=b'{"name": "A", "email": "a@example.com"}', headers=headers
    )
    body = assert_problem(response, 415)
    assert "Content-Type: application/json" in str(body["detail"])
    assert (await client.get("/api/customers", headers=ADMIN)).json()["items"] == []


async def test_json_with_parameters_or_a_json_suffix_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    for index, content_type in enumerate(
        ["application/json; charset=utf-8", "application/merge-patch+json", "Application/JSON"]
    ):
        response = await client.post(
            "/api/customers",
            content=f'{{"name": "A", "email": "a{index}@example.com"}}'.encode(),
            headers={**ADMIN, "Content-Type": content_type},
        )
        assert response.status_code == 201, (content_type, response.text)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_405_allow_lists_every_method_of_the_path(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """RFC 9110: `Allow` names all the path's methods, not the first route tried."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    checked = 0
    for path in paths:
        if path.startswith("/objects/"):
            continue  # the object routes' path parameter swallows every sub-path
        concrete = _concrete(path)
        # Every documented path the concrete one matches (`/api/sessions/stats` is also
        # `/api/sessions/{session_id}`) serves its methods there.
        documented = {
            method.upper()
            for other, methods in paths.items()
            if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", other), concrete)
            for method in methods
        }
        unused = next(m for m in ("PUT", "DELETE", "PATCH", "POST") if m not in documented)
        response = await client.request(unused, concrete, headers=ADMIN)
        assert_problem(response, 405)
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed == documented, path
        checked += 1
    assert checked >= 9


async def test_dates_are_iso_text_storable_as_utc(client: httpx.AsyncClient) -> None:
    """Year 178 was stored as `178-...` (strftime) and every read of the row answered 500."""
    old = await client.post(
        "/api/customers",
        json={
            "name": "Old",
            "email": "old@example.com",
            "purchase_date": "0178-03-04T15:07:05-15:47",
        },
        headers=ADMIN,
    )
    assert old.status_code == 201, old.text
    again = await client.get(f"/api/customers/{old.json()['id']}", headers=ADMIN)
    assert again.json()["purchase_date"] == "0178-03-05T06:54:05Z"
    for bad in ("12345", "9999-12-31T23:00:00-05:00", "2026-01-01"):
        response = await client.post(
            "/api/customers",
            json={"name": "Bad", "email": "bad@example.com", "purchase_date": bad},
            headers=ADMIN,
        )
        assert_problem(response, 422)
    summary = await client.get("/api/payments/summary?created_to=12345", headers=ADMIN)
    assert_problem(summary, 422)


@pytest.mark.parametrize(
    ("query", "fields"),
    [("q=a&q=b", ["q"]), ("limit=1&limit=2&q=x", ["limit"]), ("x=1&x=2&q=1&q=2", ["q", "x"])],
)
async def test_a_query_parameter_given_twice_is_422(
    client: httpx.AsyncClient, query: str, fields: list[str]
) -> None:
    body = assert_problem(await client.get(f"/api/customers?{query}", headers=ADMIN), 422)
    assert [error["field"] for error in body["errors"]] == fields  # type: ignore[attr-defined]
    once = await client.get("/api/customers?q=a&limit=2", headers=ADMIN)
    assert once.status_code == 200


async def test_no_query_parameter_takes_a_list(app: FastAPI) -> None:
    """Why refusing a repeated query parameter is sound: none of this API's is an array."""
    for item in app.openapi()["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                kinds = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
                assert "array" not in kinds, parameter
