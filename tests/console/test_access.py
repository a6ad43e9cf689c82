"""Who may use the console, in-process against the real app on a real SQLite file.

The console's routes are left out of the OpenAPI document (so the schemathesis fuzz does not
see them) and are listed in the access matrix as `console`; this module is where their
access control is tested: every route without a session, CSRF-less posts, the cookie's
flags, expiry and tampering, sign-out, the failed sign-in limit, the owner's scope.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from boothcloud.app import create_app
from boothcloud.console import session as cookies
from boothcloud.console.routes import router
from boothcloud.settings import Settings
from tests.conftest import ADMIN, ADMIN_TOKEN, create_customer, license_auth, make_settings
from tests.console.helpers import csrf_of, page_csrf, sign_in

ROUTES = sorted(
    (method, route.path)
    for route in router.routes
    if isinstance(route, APIRoute)
    for method in route.methods
)
PUBLIC = {("GET", "/console/login"), ("GET", "/console/owner/login")}
SIGN_IN_POSTS = {("POST", "/console/login"), ("POST", "/console/owner/login")}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", auth_failure_limit_per_minute=3)


async def _client(app: FastAPI) -> httpx.AsyncClient:
    # https: the session cookie is Secure outside development.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


@pytest.fixture
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(app) as http:
        yield http


@pytest.fixture
async def operator(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(app) as http:
        signed = await sign_in(http, ADMIN_TOKEN)
        assert signed.status_code == 303, signed.text
        yield http


def _path(template: str) -> str:
    return re.sub(r"{[^}]+}", "x", template).replace("/static/x", "/static/console.css")


def _is_page(answer: httpx.Response) -> None:
    assert answer.headers["content-type"].startswith("text/html"), answer.headers
    assert "problem" not in answer.headers["content-type"]
    assert "Traceback" not in answer.text


async def test_every_route_without_a_session_redirects_or_refuses(
    browser: httpx.AsyncClient,
) -> None:
    assert len(ROUTES) > 20
    for method, template in ROUTES:
        answer = await browser.request(method, _path(template))
        if (method, template) in PUBLIC or template.startswith("/console/static"):
            assert answer.status_code == 200, (method, template)
        elif method == "GET":
            assert answer.status_code == 303, (method, template, answer.text)
            assert answer.headers["location"].startswith(("/console/login", "/console/owner/login"))
        else:  # a post with no session (and so no CSRF token) does nothing
            assert answer.status_code == 403, (method, template, answer.text)
            _is_page(answer)


async def test_signing_in_gives_a_strict_http_only_secure_cookie(
    browser: httpx.AsyncClient,
) -> None:
    answer = await sign_in(browser, ADMIN_TOKEN)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"
    (cookie,) = [
        c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{cookies.COOKIE}=")
    ]
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite=strict", "path=/console"} <= flags
    assert ADMIN_TOKEN not in cookie
    page = await browser.get("/console/customers")
    assert page.status_code == 200
    _is_page(page)
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


async def test_development_cookies_are_not_secure(tmp_path: Path) -> None:
    app = create_app(
        make_settings(tmp_path / "data", environment="development"), apply_migrations=True
    )
    async with app.router.lifespan_context(app), await _client(app) as http:
        answer = await sign_in(http, ADMIN_TOKEN)
    cookie = answer.headers["set-cookie"].lower()
    assert "secure" not in cookie
    assert "httponly" in cookie


async def test_posts_without_the_csrf_token_are_refused_and_change_nothing(
    operator: httpx.AsyncClient, settings: Settings
) -> None:
    body = {"name": "Forged", "email": "forged@example.com"}
    for csrf in (None, "", "not-the-token"):
        form = body if csrf is None else {**body, "csrf": csrf}
        answer = await operator.post("/console/customers", data=form)
        assert answer.status_code == 403
        _is_page(answer)
        assert "This form was refused" in answer.text
    with sqlite3.connect(settings.sqlite_path) as db:
        assert db.execute("SELECT COUNT(*) FROM customers").fetchone() == (0,)
    # The same form with the session's token goes through.
    csrf = await page_csrf(operator, "/console/customers")
    made = await operator.post("/console/customers", data={**body, "csrf": csrf})
    assert made.status_code == 201


async def test_a_sign_in_form_without_its_token_is_refused(browser: httpx.AsyncClient) -> None:
    answer = await browser.post("/console/login", data={"token": ADMIN_TOKEN})
    assert answer.status_code == 403
    assert cookies.COOKIE not in answer.headers.get("set-cookie", "")


async def test_wrong_tokens_are_rate_limited_as_the_apis_are(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        wrong = await sign_in(browser, "not-the-admin-token")
        assert wrong.status_code == 401
        _is_page(wrong)
        assert "invalid admin token" in wrong.text
    spent = await sign_in(browser, ADMIN_TOKEN)  # even the right token, while spent
    assert spent.status_code == 429
    assert "too many failed authentication attempts" in spent.text
    # One bucket with the API: the API refuses this client too.
    api = await client.get("/api/customers", headers=ADMIN)
    assert api.status_code == 429


async def test_sign_out_ends_the_session(operator: httpx.AsyncClient) -> None:
    csrf = await page_csrf(operator, "/console/customers")
    stolen = operator.cookies.get(cookies.COOKIE, path="/console")
    out = await operator.post("/console/logout", data={"csrf": csrf})
    assert out.status_code == 303
    assert (await operator.get("/console/customers")).status_code == 303
    # The cookie is gone from the browser; expiry bounds a copy kept elsewhere.
    assert stolen is not None


def _cookie(settings: Settings, **changes: Any) -> str:
    opened = cookies.open_session(settings, "operator", None, ADMIN_TOKEN)
    values = {
        "role": opened.role,
        "customer_id": opened.customer_id,
        "expires": opened.expires,
        "nonce": opened.nonce,
        "credential": opened.credential,
        **changes,
    }
    return cookies.encode(settings, cookies.ConsoleSession(**values))


async def test_expired_tampered_and_stale_sessions_are_refused(
    browser: httpx.AsyncClient, settings: Settings
) -> None:
    good = _cookie(settings)
    expired = _cookie(settings, expires=int(time.time()) - 1)
    body, _, mac = good.partition(".")
    tampered = _cookie(settings, role="owner").partition(".")[0] + "." + mac
    other_token = _cookie(settings, credential=cookies.fingerprint(settings, "old-admin-token"))

    async def with_cookie(value: str) -> httpx.Response:
        return await browser.get(
            "/console/customers", headers={"Cookie": f"{cookies.COOKIE}={value}"}
        )

    assert (await with_cookie(good)).status_code == 200
    for value in (expired, tampered, other_token, body, "garbage"):
        answer = await with_cookie(value)
        assert answer.status_code == 303, value
        assert answer.headers["location"] == "/console/login?expired=1"


async def test_errors_are_messages_on_pages(operator: httpx.AsyncClient) -> None:
    missing = await operator.get("/console/customers/cus_unknown")
    assert missing.status_code == 404
    _is_page(missing)
    assert "customer cus_unknown not found" in missing.text
    bad = await operator.get("/console/payments?status=bogus&from=yesterday")
    assert bad.status_code == 422
    _is_page(bad)
    assert "status: must be one of" in bad.text
    last_day = await operator.get("/console/payments?to=9999-12-31")  # no next midnight
    assert last_day.status_code == 422
    _is_page(last_day)
    assert "to: must be before 9999-12-31" in last_day.text
    csrf = await page_csrf(operator, "/console/customers")
    invalid = await operator.post(
        "/console/customers", data={"csrf": csrf, "name": "X", "email": "not-an-email"}
    )
    assert invalid.status_code == 422
    _is_page(invalid)
    assert "email" in invalid.text


async def test_a_new_or_rotated_key_is_shown_once(operator: httpx.AsyncClient) -> None:
    csrf = await page_csrf(operator, "/console/customers")
    made = await operator.post(
        "/console/customers",
        data={"csrf": csrf, "name": "Kilau", "email": "kilau@example.com"},
    )
    assert made.status_code == 201
    key = re.search(r'id="license-key">([^<]+)<', made.text)
    assert key is not None
    customer_id = re.search(r"<code>(cus_[^<]+)</code>", made.text)
    assert customer_id is not None
    detail = await operator.get(f"/console/customers/{customer_id.group(1)}")
    assert key.group(1) not in detail.text
    rotated = await operator.post(
        f"/console/customers/{customer_id.group(1)}/license-key", data={"csrf": csrf}
    )
    new_key = re.search(r'id="license-key">([^<]+)<', rotated.text)
    assert new_key is not None
    assert new_key.group(1) != key.group(1)


async def test_an_owner_sees_only_their_own_rows(app: FastAPI, client: httpx.AsyncClient) -> None:
    mine = await create_customer(client, name="Mine Studio")
    theirs = await create_customer(client, name="Their Studio")
    ids: dict[str, list[str]] = {}
    for customer in (mine, theirs):
        booth = license_auth(customer["license_key"])
        device = await client.post(
            "/api/licenses/activations", json={"fingerprint": "owner-test-1"}, headers=booth
        )
        session = await client.post(
            "/api/sessions", json={"activation_id": device.json()["id"]}, headers=booth
        )
        photo = await client.post(
            "/api/photos", json={"session_id": session.json()["id"]}, headers=booth
        )
        printer = await client.post(
            "/api/printers",
            json={
                "name": f"Printer of {customer['name']}",
                "type": "thermal",
                "connection_type": "usb",
            },
            headers=booth,
        )
        ids[customer["id"]] = [session.json()["id"], photo.json()["id"], printer.json()["name"]]
    async with await _client(app) as http:
        signed = await sign_in(http, mine["license_key"], owner=True)
        assert signed.status_code == 303
        assert signed.headers["location"] == "/console/owner"
        view = await http.get("/console/owner")
        assert view.status_code == 200
        for value in ids[mine["id"]]:
            assert value in view.text
        for value in [*ids[theirs["id"]], theirs["id"], theirs["name"]]:
            assert value not in view.text
        shown = set(re.findall(r'data-customer="([^"]+)"', view.text))
        assert shown == {mine["id"]}
        # The owner's cookie opens no operator page and no operator form.
        assert (await http.get("/console/customers")).status_code == 303
        csrf = csrf_of(view.text)
        forged = await http.post(
            f"/console/customers/{theirs['id']}/license-key", data={"csrf": csrf}
        )
        assert forged.status_code == 403
        # Rotating the owner's key ends the session opened with the old one.
        await client.post(f"/api/customers/{mine['id']}/license-key", headers=ADMIN)
        ended = await http.get("/console/owner")
        assert ended.status_code == 303
        assert ended.headers["location"] == "/console/owner/login?expired=1"


async def test_a_suspended_owner_cannot_sign_in(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    owner = await create_customer(client)
    await client.patch(
        f"/api/customers/{owner['id']}", json={"license_status": "suspended"}, headers=ADMIN
    )
    answer = await sign_in(browser, owner["license_key"], owner=True)
    assert answer.status_code == 403
    _is_page(answer)
    assert "license is suspended" in answer.text
