"""Who may call what, for every route in the app's route table.

`MATRIX` declares, per (method, path), who may call the route and which path parameters
(and body fields) name a customer-owned resource. The test walks the route table: a route
without an entry fails `test_every_route_has_an_entry`, so a new route cannot ship without
deciding its access. Each entry is then driven with every kind of wrong caller:

- no credentials, and a wrong scheme: 401 (problem+json, `WWW-Authenticate`);
- booth A on customer B's ids: exactly the answer an unknown id gets (status, headers,
  body byte for byte once the id itself is masked), and B's rows are unchanged after;
- a booth on operator routes, the operator on booth-only routes: 403;
- a rotated (old) license key: 401; a suspended license: 403 `SUSPENDED`;
- and the allowed callers are let through (neither 401 nor 403).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from starlette.routing import Route

from boothcloud.app import api_routes, create_app
from tests.conftest import ADMIN, ADMIN_TOKEN, license_auth, make_settings
from tests.fakes.xendit_server import SECRET_KEY, RunningFake

in_world = pytest.mark.asyncio(loop_scope="module")  # the module-scoped app's loop

Who = Literal["public", "operator", "booth", "caller", "xendit", "signed", "console"]
Kind = Literal["customer", "printer", "photo", "payment", "activation", "session", "venue"]
CALLBACK_TOKEN = "matrix-callback-token"
Body = dict[str, Any] | Callable[[], dict[str, Any]] | None
NO_AUTH: dict[str, str] = {}


@dataclass(frozen=True)
class Entry:
    """`who` may call the route (`caller`: operator, or a booth scoped to its customer);
    `owned` maps path parameters, `owned_body` body fields, to the resource kind they name;
    `body` is a valid body, so that access (not validation) decides the answer."""

    who: Who
    owned: dict[str, Kind] = field(default_factory=dict)
    owned_body: dict[str, Kind] = field(default_factory=dict)
    body: Body = None


def _new_customer() -> dict[str, Any]:
    return {"name": "Matrix", "email": f"m-{uuid.uuid4().hex}@example.com"}


CUSTOMER = {"customer_id": "customer"}
SESSION: dict[str, Kind] = {"session_id": "session"}
PRINTER_BODY = {"name": "DNP", "type": "dye-sublimation", "connection_type": "usb"}
CALLBACK = {"id": "inv_matrix", "external_id": "pay_unknown", "status": "PAID", "amount": 1000}
VENUE: dict[str, Kind] = {"venue_id": "venue"}
VENUE_BODY: dict[str, Any] = {
    "name": "Kopi Kita",
    "xendit_sub_account_id": "5f0f0f0f0f0f0f0f0f0f0f0e",
    "share": {"basis_points": 1_000},
}
QR_CALLBACK = {
    "event": "qr.payment",
    "data": {"id": "qrpy_m", "qr_id": "qr_m", "reference_id": "pay_unknown", "status": "SUCCEEDED"},
}
REFUND_CALLBACK = {
    "event": "refund.succeeded",
    "data": {"id": "rfd-matrix", "reference_id": "rfd_unknown", "status": "SUCCEEDED"},
}

MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", "/openapi.json"): Entry("public"),
    ("HEAD", "/openapi.json"): Entry("public"),
    ("GET", "/docs"): Entry("public"),
    ("GET", "/docs/assets/{name}"): Entry("public"),
    ("GET", "/healthz"): Entry("public"),
    ("HEAD", "/healthz"): Entry("public"),
    ("GET", "/readyz"): Entry("public"),
    # Booth side (issue 9): the API version clients check, device heartbeats, fleet views.
    ("GET", "/api/version"): Entry("public"),
    ("POST", "/api/licenses/activations/{activation_id}/heartbeat"): Entry(
        "booth", {"activation_id": "activation"}, body={"agent_version": "matrix"}
    ),
    ("GET", "/api/licenses/dead-devices"): Entry("operator"),
    ("GET", "/api/licenses/stopped-printers"): Entry("operator"),
    ("HEAD", "/readyz"): Entry("public"),
    ("POST", "/api/licenses/validate"): Entry("public", body={"license_key": "PB-X"}),
    ("GET", "/api/licenses/public-key"): Entry("public"),
    ("POST", "/api/customers"): Entry("operator", body=_new_customer),
    ("GET", "/api/customers"): Entry("operator"),
    ("GET", "/api/customers/{customer_id}"): Entry("caller", CUSTOMER),
    ("PATCH", "/api/customers/{customer_id}"): Entry("operator", CUSTOMER, body={"phone": "1"}),
    ("POST", "/api/customers/{customer_id}/license-key"): Entry("operator", CUSTOMER),
    ("POST", "/api/licenses/activations"): Entry("booth", body={"fingerprint": "matrix-device"}),
    ("GET", "/api/licenses/activations"): Entry("caller"),
    ("DELETE", "/api/licenses/activations/{activation_id}"): Entry(
        "caller", {"activation_id": "activation"}
    ),
    ("POST", "/api/photos"): Entry("caller", owned_body=CUSTOMER, body={}),
    ("GET", "/api/photos"): Entry("caller"),
    ("GET", "/api/photos/{photo_id}"): Entry("caller", {"photo_id": "photo"}),
    ("PATCH", "/api/photos/{photo_id}"): Entry(
        "caller", {"photo_id": "photo"}, body={"print_status": "printing"}
    ),
    ("DELETE", "/api/photos/{photo_id}"): Entry("operator", {"photo_id": "photo"}),
    ("POST", "/api/photos/{photo_id}/uploaded"): Entry("caller", {"photo_id": "photo"}),
    ("POST", "/api/printers"): Entry("caller", owned_body=CUSTOMER, body=PRINTER_BODY),
    ("GET", "/api/printers"): Entry("caller"),
    ("GET", "/api/printers/{printer_id}"): Entry("caller", {"printer_id": "printer"}),
    ("PATCH", "/api/printers/{printer_id}"): Entry(
        "caller", {"printer_id": "printer"}, body={"name": "renamed"}
    ),
    ("DELETE", "/api/printers/{printer_id}"): Entry("caller", {"printer_id": "printer"}),
    ("POST", "/api/printers/{printer_id}/claim"): Entry("booth", {"printer_id": "printer"}),
    ("POST", "/api/payments"): Entry("caller", owned_body=CUSTOMER, body={"amount": 25_000}),
    ("GET", "/api/payments"): Entry("caller"),
    ("GET", "/api/payments/summary"): Entry("caller"),
    ("GET", "/api/payments/{payment_id}"): Entry("caller", {"payment_id": "payment"}),
    ("POST", "/api/webhooks/xendit"): Entry("xendit", body=CALLBACK),
    ("POST", "/api/webhooks/xendit/qr"): Entry("xendit", body=QR_CALLBACK),
    ("GET", "/api/payments/{payment_id}/qr.svg"): Entry("caller", {"payment_id": "payment"}),
    ("PUT", "/objects/{key:path}"): Entry("signed"),
    ("GET", "/objects/{key:path}"): Entry("signed"),
    ("POST", "/api/admin/backups"): Entry("operator"),
    ("GET", "/api/admin/backups"): Entry("operator"),
    ("POST", "/api/sessions"): Entry(
        "booth", owned_body={"activation_id": "activation"}, body={"activation_id": "x"}
    ),
    ("GET", "/api/sessions"): Entry("caller"),
    ("GET", "/api/sessions/stats"): Entry("caller"),
    ("GET", "/api/sessions/{session_id}"): Entry("caller", SESSION),
    ("PATCH", "/api/sessions/{session_id}"): Entry("caller", SESSION, body={"status": "closed"}),
    ("GET", "/api/sessions/{session_id}/qr.svg"): Entry("caller", SESSION),
    ("GET", "/api/sessions/{session_id}/qr.png"): Entry("caller", SESSION),
    ("PUT", "/api/customers/{customer_id}/gallery-logo"): Entry("caller", CUSTOMER),
    ("DELETE", "/api/customers/{customer_id}/gallery-logo"): Entry("caller", CUSTOMER),
    # The share code is the guest's credential: a wrong one is the gallery's 404 page.
    ("GET", "/s/{share_code}"): Entry("public"),
    ("GET", "/s/{share_code}/download.zip"): Entry("public"),
    ("GET", "/s/{share_code}/photos/{photo_id}"): Entry("public"),
    # Split rules, venues and reporting (issue #8 items 3 and 5).
    ("GET", "/api/payments/export.csv"): Entry("caller"),
    ("POST", "/api/venues"): Entry("operator", owned_body=CUSTOMER, body=lambda: dict(VENUE_BODY)),
    ("GET", "/api/venues"): Entry("caller"),
    ("GET", "/api/venues/{venue_id}"): Entry("caller", VENUE),
    ("PUT", "/api/venues/{venue_id}/activations/{activation_id}"): Entry(
        "operator", {**VENUE, "activation_id": "activation"}
    ),
    ("DELETE", "/api/venues/{venue_id}/activations/{activation_id}"): Entry(
        "operator", {**VENUE, "activation_id": "activation"}
    ),
    # Refunds (issue #8): the operator refunds; a booth may read its own payment's refunds.
    ("POST", "/api/payments/{payment_id}/refunds"): Entry(
        "operator", {"payment_id": "payment"}, body={"amount": 1_000}
    ),
    ("GET", "/api/payments/{payment_id}/refunds"): Entry("caller", {"payment_id": "payment"}),
    ("POST", "/api/webhooks/xendit/refund"): Entry("xendit", body=REFUND_CALLBACK),
    # The console (issue 10): HTML for people behind a session cookie, not the API's
    # headers; without a session a page redirects to its sign-in and a post is refused
    # (403, no CSRF token). Their access is tested in tests/console/test_access.py.
    ("GET", "/console/static/{name}"): Entry("public"),
    ("GET", "/console/login"): Entry("public"),
    ("GET", "/console/owner/login"): Entry("public"),
    **{
        route: Entry("console")
        for route in [
            ("POST", "/console/login"),
            ("POST", "/console/owner/login"),
            ("POST", "/console/logout"),
            ("POST", "/console/owner/logout"),
            ("GET", "/console"),
            ("GET", "/console/customers"),
            ("POST", "/console/customers"),
            ("GET", "/console/customers/{customer_id}"),
            ("POST", "/console/customers/{customer_id}"),
            ("POST", "/console/customers/{customer_id}/status"),
            ("POST", "/console/customers/{customer_id}/license-key"),
            ("GET", "/console/payments"),
            ("GET", "/console/payments/rows"),
            ("GET", "/console/payments/chart"),
            ("GET", "/console/payments.csv"),
            ("GET", "/console/print-queues"),
            ("POST", "/console/print-queues/{photo_id}/requeue"),
            ("GET", "/console/booths"),
            ("GET", "/console/backups"),
            ("GET", "/console/backups/progress"),
            ("POST", "/console/backups"),
            ("POST", "/console/backups/verify"),
            ("GET", "/console/owner"),
            # The console's refund form (issue 10, wiring refunds in): operator only.
            ("POST", "/console/payments/{payment_id}/refunds"),
        ]
    },
}


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves: FastAPI's own routes (the schema) and the
    service's routers (`api_routes`)."""
    own = [route for route in app.routes if isinstance(route, Route)]
    return {
        (method, route.path) for route in [*own, *api_routes()] for method in route.methods or ()
    }


ROUTES = sorted(route_table(create_app(make_settings(Path("unused")))))
AUTHENTICATED = [
    r for r in ROUTES if r in MATRIX and MATRIX[r].who in {"operator", "booth", "caller"}
]
BOOTH_ALLOWED = [r for r in AUTHENTICATED if MATRIX[r].who in {"booth", "caller"}]
OWNED = [r for r in ROUTES if r in MATRIX and (MATRIX[r].owned or MATRIX[r].owned_body)]


def test_every_route_has_an_entry() -> None:
    missing = [route for route in ROUTES if route not in MATRIX]
    assert not missing, f"routes without an access-matrix entry: {missing}"
    assert not [route for route in MATRIX if route not in ROUTES], "entries for no route"
    # The walk sees what OpenAPI documents (so no prefix got lost on the way).
    app = create_app(make_settings(Path("unused")))
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= {(m, p.replace("{key:path}", "{key}")) for m, p in ROUTES}


@dataclass
class World:
    http: httpx.AsyncClient
    ids: dict[str, dict[Kind, str]]  # "A" probes "B"; "P" (positive), "R" (rotated), "S"
    keys: dict[str, str]
    old_key: str


@pytest.fixture(scope="module")
def xendit() -> Iterator[RunningFake]:
    server = RunningFake()
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    tmp_path_factory: pytest.TempPathFactory, xendit: RunningFake
) -> AsyncIterator[World]:
    settings = make_settings(
        tmp_path_factory.mktemp("matrix") / "data",
        xendit_secret_key=SECRET_KEY,
        xendit_base_url=xendit.fake.url,
        xendit_callback_token=CALLBACK_TOKEN,
        auth_failure_limit_per_minute=1_000_000,  # limits have their own tests
    )
    app = create_app(settings, apply_migrations=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            ids: dict[str, dict[Kind, str]] = {}
            keys: dict[str, str] = {}
            for name in ("A", "B", "P", "R", "S"):
                ids[name], keys[name] = await _customer_with_everything(http)
            rotated = await http.post(
                f"/api/customers/{ids['R']['customer']}/license-key", headers=ADMIN
            )
            old_key, keys["R"] = keys["R"], rotated.json()["license_key"]
            suspend = {"license_status": "suspended"}
            await http.patch(f"/api/customers/{ids['S']['customer']}", json=suspend, headers=ADMIN)
            yield World(http, ids, keys, old_key)


async def _customer_with_everything(http: httpx.AsyncClient) -> tuple[dict[Kind, str], str]:
    customer = (await http.post("/api/customers", json=_new_customer(), headers=ADMIN)).json()
    booth = license_auth(customer["license_key"])

    async def create(path: str, body: dict[str, Any]) -> str:
        response = await http.post(path, json=body, headers=booth)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    ids: dict[Kind, str] = {
        "customer": customer["id"],
        "printer": await create("/api/printers", PRINTER_BODY),
        "photo": await create("/api/photos", {"id": str(uuid.uuid4())}),
        "payment": await create("/api/payments", {"amount": 25_000}),
        "activation": await create("/api/licenses/activations", {"fingerprint": "device-0001"}),
    }
    ids["session"] = await create("/api/sessions", {"activation_id": ids["activation"]})
    venue = await http.post(
        "/api/venues", json={**VENUE_BODY, "customer_id": customer["id"]}, headers=ADMIN
    )
    assert venue.status_code == 201, venue.text
    ids["venue"] = venue.json()["id"]
    return ids, str(customer["license_key"])


def unknown(real: str) -> str:
    """An id shaped like `real` (same length and alphabet) that names nothing."""
    return real[:-1] + ("1" if real[-1] == "0" else "0")


async def call(
    world: World,
    route: tuple[str, str],
    headers: dict[str, str],
    ids: dict[Kind, str],
    **replace: str,
) -> httpx.Response:
    method, template = route
    entry = MATRIX[route]
    params = {**{p: ids[kind] for p, kind in entry.owned.items()}, **replace}
    path = template.replace("{key:path}", f"photos/{ids['customer']}/x.jpg")
    for name, value in params.items():
        path = path.replace(f"{{{name}}}", value)
    body = entry.body() if callable(entry.body) else entry.body
    if body is not None and entry.owned_body:
        body = {**body, **{f: replace.get(f, ids[kind]) for f, kind in entry.owned_body.items()}}
    if entry.who == "signed":
        path += "?method=" + method + "&expires=4102444800&signature=" + "0" * 64
    content = b"x" if method == "PUT" else None
    if body is not None:
        return await world.http.request(method, path, json=body, headers=headers)
    return await world.http.request(method, path, headers=headers, content=content)


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "bearer" in response.headers["www-authenticate"].lower()


@in_world
@pytest.mark.parametrize("route", [r for r in ROUTES if r in MATRIX], ids=" ".join)
async def test_no_credentials(world: World, route: tuple[str, str]) -> None:
    answer = await call(world, route, NO_AUTH, world.ids["A"])
    who = MATRIX[route].who
    if who in {"operator", "booth", "caller"}:
        assert_401(answer)
    elif who == "xendit":
        assert answer.status_code == 401
    elif who == "signed":
        assert answer.status_code == 403
    elif who == "console":  # the sign-in page, or a refused form: never the API's 401
        assert answer.status_code == (303 if route[0] == "GET" else 403), answer.text
    else:
        assert answer.status_code not in {401, 403}, answer.text


@in_world
@pytest.mark.parametrize("route", AUTHENTICATED, ids=" ".join)
@pytest.mark.parametrize(
    "scheme", [f"Basic {ADMIN_TOKEN}", f"Token {ADMIN_TOKEN}", "Bearer", "License"]
)
async def test_wrong_scheme_is_401(world: World, route: tuple[str, str], scheme: str) -> None:
    assert_401(await call(world, route, {"Authorization": scheme}, world.ids["A"]))


@in_world
@pytest.mark.parametrize("route", AUTHENTICATED, ids=" ".join)
async def test_wrong_role_is_403(world: World, route: tuple[str, str]) -> None:
    who = MATRIX[route].who
    booth = license_auth(world.keys["A"])
    if who == "operator":
        assert (await call(world, route, booth, world.ids["A"])).status_code == 403
    if who == "booth":
        assert (await call(world, route, ADMIN, world.ids["A"])).status_code == 403


@in_world
@pytest.mark.parametrize("route", AUTHENTICATED, ids=" ".join)
async def test_rotated_key_is_401_and_suspended_license_is_403(
    world: World, route: tuple[str, str]
) -> None:
    assert_401(await call(world, route, license_auth(world.old_key), world.ids["R"]))
    suspended = await call(world, route, license_auth(world.keys["S"]), world.ids["S"])
    assert suspended.status_code == 403
    assert suspended.json()["code"] == "SUSPENDED"


def masked(response: httpx.Response, value: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """The answer with the id masked; `date` and the per-request `request-id` left out (the
    id is a fresh random value on every answer, so it tells nothing)."""
    headers = sorted(
        (k, v.replace(value, "ID"))
        for k, v in response.headers.items()
        if k not in ("date", "request-id")
    )
    return response.status_code, headers, response.content.replace(value.encode(), b"ID")


@in_world
@pytest.mark.parametrize("route", OWNED, ids=" ".join)
async def test_another_customers_id_answers_like_an_unknown_one(
    world: World, route: tuple[str, str]
) -> None:
    entry = MATRIX[route]
    booth = license_auth(world.keys["A"])
    theirs = world.ids["B"]
    for name, kind in {**entry.owned, **entry.owned_body}.items():
        before = await rows_of_b(world)
        other = await call(world, route, booth, theirs, **{name: theirs[kind]})
        missing = await call(world, route, booth, theirs, **{name: unknown(theirs[kind])})
        # 404 for a path id; a body field naming another customer's row is refused as the
        # unknown one is (403 for customer_id, 422 for a referenced row).
        assert other.status_code in {403, 404, 422}, other.text
        assert masked(other, theirs[kind]) == masked(missing, unknown(theirs[kind]))
        assert await rows_of_b(world) == before  # A read, changed and squatted nothing


async def rows_of_b(world: World) -> list[Any]:
    """B's rows as the operator sees them (presigned URLs left out: they carry a time)."""
    theirs = world.ids["B"]
    paths = [
        f"/api/customers/{theirs['customer']}",
        f"/api/printers/{theirs['printer']}",
        f"/api/photos/{theirs['photo']}",
        f"/api/payments/{theirs['payment']}",
        f"/api/licenses/activations?customer_id={theirs['customer']}",
        f"/api/payments?customer_id={theirs['customer']}",
        f"/api/printers?customer_id={theirs['customer']}",
        f"/api/photos?customer_id={theirs['customer']}",
        f"/api/sessions/{theirs['session']}",
        f"/api/sessions?customer_id={theirs['customer']}",
    ]
    rows = []
    for path in paths:
        answer = await world.http.get(path, headers=ADMIN)
        assert answer.status_code == 200, (path, answer.text)
        rows.append(re.sub(r'"\w+_url":"[^"]*"', "", answer.text))
    return rows


@in_world
@pytest.mark.parametrize("route", [r for r in ROUTES if r in MATRIX], ids=" ".join)
async def test_allowed_callers_are_let_through(world: World, route: tuple[str, str]) -> None:
    who = MATRIX[route].who
    callers = {
        "operator": [ADMIN],
        "booth": [license_auth(world.keys["P"])],
        "caller": [ADMIN, license_auth(world.keys["P"])],
        "xendit": [{"x-callback-token": CALLBACK_TOKEN}],
    }.get(who, [NO_AUTH])
    if who == "signed":
        pytest.skip("its credential is a presigned URL's signature: tests/storage")
    if who == "console":
        pytest.skip("its credential is a session cookie: tests/console/test_access.py")
    for headers in callers:
        answer = await call(world, route, headers, world.ids["P"])
        assert answer.status_code not in {401, 403}, (headers, answer.text)
        if route[1].endswith("/license-key"):
            world.keys["P"] = answer.json()["license_key"]  # rotated: later calls use it


def test_matrix_names_only_parameters_routes_have() -> None:
    for (_, path), entry in MATRIX.items():
        assert set(entry.owned) <= set(re.findall(r"{(\w+)", path)), path


def test_authenticated_routes_document_their_refusals() -> None:
    """What the matrix enforces is in the schema: 401, 403 and the failed-auth 429."""
    paths = create_app(make_settings(Path("unused"))).openapi()["paths"]
    for method, path in AUTHENTICATED:
        responses = paths[path][method.lower()]["responses"]
        assert {"401", "403", "429"} <= set(responses), (method, path)
